"""Device listing with host APIs, ``NAME@HOSTAPI`` choices, and the Windows preference for
WASAPI, on device tables shaped like each system's (the choice is a pure function of the
table and the preferred host API, so the Windows rule runs here as it runs there)."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from voicelive.audio import portaudio as devices_module
from voicelive.audio.device_choice import (
    PREFERRED_HOSTAPI,
    DeviceInfo,
    list_devices,
    resolve_device,
)
from voicelive.errors import AudioDeviceError, ConfigError

WASAPI = "Windows WASAPI"


def dev(
    index: int,
    name: str,
    hostapi: str,
    ins: int,
    outs: int,
    *,
    default_in: bool = False,
    default_out: bool = False,
    api_in: bool = False,
    api_out: bool = False,
) -> DeviceInfo:
    return DeviceInfo(
        index, name, hostapi, ins, outs, 48000.0, default_in, default_out, api_in, api_out
    )


# What PortAudio lists on a Windows laptop: every endpoint once per host API; PortAudio's
# own defaults are MME's.
WINDOWS = [
    dev(0, "Microsoft Sound Mapper - Input", "MME", 2, 0, default_in=True, api_in=True),
    dev(1, "Microphone (Realtek Audio)", "MME", 2, 0),
    dev(2, "Microsoft Sound Mapper - Output", "MME", 0, 2, default_out=True, api_out=True),
    dev(3, "Speakers (Realtek Audio)", "MME", 0, 2),
    dev(4, "Microphone (Realtek Audio)", "Windows DirectSound", 2, 0, api_in=True),
    dev(5, "Speakers (Realtek Audio)", "Windows DirectSound", 0, 2, api_out=True),
    dev(6, "Speakers (Realtek Audio)", WASAPI, 0, 2, api_out=True),
    dev(7, "Microphone (Realtek Audio)", WASAPI, 2, 0, api_in=True),
    dev(8, "Headset Microphone (USB)", WASAPI, 1, 0),
    dev(9, "Speakers (Realtek HD Audio output)", "Windows WDM-KS", 0, 2),
]

LINUX = [
    dev(0, "HDA Intel PCH: ALC892 Analog (hw:0,0)", "ALSA", 2, 2),
    dev(1, "pulse", "ALSA", 32, 32, default_in=True, default_out=True),
    dev(2, "default", "ALSA", 32, 32),
    dev(3, "pulse", "JACK Audio Connection Kit", 2, 2, api_in=True, api_out=True),
    dev(4, "weird@name", "ALSA", 1, 0),
]


def test_windows_default_is_the_wasapi_default_device() -> None:
    assert resolve_device(None, "input", WINDOWS, WASAPI) == 7
    assert resolve_device("", "output", WINDOWS, WASAPI) == 6


def test_without_a_wasapi_default_the_portaudio_default_is_kept() -> None:
    no_wasapi = [d for d in WINDOWS if d.hostapi != WASAPI]
    assert resolve_device(None, "input", no_wasapi, WASAPI) is None
    assert resolve_device(None, "output", no_wasapi, WASAPI) is None


def test_without_a_preferred_host_api_the_portaudio_default_is_kept() -> None:
    assert resolve_device(None, "input", WINDOWS, None) is None
    assert resolve_device(None, "output", LINUX, None) is None


def test_the_preference_is_chosen_by_platform_in_one_place() -> None:
    assert (WASAPI if sys.platform == "win32" else None) == PREFERRED_HOSTAPI


def test_a_name_found_under_several_host_apis_means_the_preferred_one() -> None:
    assert resolve_device("microphone (realtek", "input", WINDOWS, WASAPI) == 7
    assert resolve_device("Speakers (Realtek Audio)", "output", WINDOWS, WASAPI) == 6
    assert resolve_device("headset", "input", WINDOWS, WASAPI) == 8  # only one anyway
    with pytest.raises(ConfigError, match="matches several input devices") as info:
        resolve_device("microphone (realtek", "input", WINDOWS, None)
    assert "1: Microphone (Realtek Audio)@MME" in str(info.value)
    assert "NAME@HOSTAPI" in str(info.value)


def test_name_at_host_api_picks_within_that_host_api_case_insensitively() -> None:
    assert resolve_device("speakers@directsound", "output", WINDOWS, WASAPI) == 5
    assert resolve_device("Speakers@MME", "output", WINDOWS, WASAPI) == 3
    assert resolve_device("realtek @ wdm", "output", WINDOWS, WASAPI) == 9
    assert resolve_device("pulse@ALSA", "input", LINUX, None) == 1
    assert resolve_device("pulse@jack", "output", LINUX, None) == 3


def test_at_host_api_alone_is_that_host_apis_default() -> None:
    assert resolve_device("@directsound", "input", WINDOWS, WASAPI) == 4
    assert resolve_device("@WASAPI", "output", WINDOWS, None) == 6
    assert resolve_device("@jack", "input", LINUX, None) == 3
    with pytest.raises(ConfigError, match="that host API has no default input device"):
        resolve_device("@alsa", "input", LINUX, None)


def test_an_unknown_host_api_names_the_ones_there_are() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_device("pulse@coreaudio", "input", LINUX, None)
    message = str(info.value)
    assert "no host API with input devices matches 'coreaudio'" in message
    assert "ALSA, JACK Audio Connection Kit" in message


def test_a_name_that_matches_nothing_in_that_host_api_lists_every_choice() -> None:
    with pytest.raises(ConfigError, match="matches no output device; choose one of: ") as info:
        resolve_device("hdmi@wasapi", "output", WINDOWS, WASAPI)
    assert "6: Speakers (Realtek Audio)@Windows WASAPI" in str(info.value)


def test_a_device_whose_name_has_an_at_sign_is_still_found_by_its_exact_name() -> None:
    assert resolve_device("weird@name", "input", LINUX, None) == 4
    assert resolve_device("weird@alsa", "input", LINUX, None) == 4


def test_an_index_is_taken_as_is() -> None:
    assert resolve_device("9", "output", WINDOWS, WASAPI) == 9


class FakePortAudio(SimpleNamespace):
    """The three sounddevice calls list_devices makes, answering like a Windows machine."""

    class PortAudioError(Exception):
        pass

    def __init__(self) -> None:
        super().__init__(default=SimpleNamespace(device=[1, 3]))

    def query_hostapis(self) -> list[dict[str, Any]]:
        return [
            {"name": "MME", "default_input_device": 1, "default_output_device": 3},
            {"name": WASAPI, "default_input_device": 7, "default_output_device": 6},
        ]

    def query_devices(self) -> list[dict[str, Any]]:
        def device(index: int, name: str, hostapi: int, ins: int, outs: int) -> dict[str, Any]:
            return {
                "index": index,
                "name": name,
                "hostapi": hostapi,
                "max_input_channels": ins,
                "max_output_channels": outs,
                "default_samplerate": 44100.0,
            }

        return [
            device(1, "Microphone (Realtek Audio)", 0, 2, 0),
            device(3, "Speakers (Realtek Audio)", 0, 0, 2),
            device(6, "Speakers (Realtek Audio)", 1, 0, 2),
            device(7, "Microphone (Realtek Audio)", 1, 2, 0),
        ]


def test_list_devices_reports_each_host_api_and_its_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(devices_module, "sounddevice", FakePortAudio)
    listed = {d.index: d for d in list_devices()}
    assert [d.hostapi for d in listed.values()] == ["MME", "MME", WASAPI, WASAPI]
    assert listed[1].is_default_input and listed[1].is_hostapi_default_input
    assert listed[3].is_default_output and listed[3].is_hostapi_default_output
    assert not listed[7].is_default_input and listed[7].is_hostapi_default_input
    assert not listed[6].is_default_output and listed[6].is_hostapi_default_output
    assert resolve_device(None, "input", list(listed.values()), WASAPI) == 7


def test_the_portaudio_warm_up_swallows_a_failed_import_and_the_real_call_reports_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_portaudio(*args: Any) -> None:
        raise OSError("PortAudio library not found")

    import builtins

    real_import = builtins.__import__

    def importer(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sounddevice":
            no_portaudio()
        return real_import(name, *args, **kwargs)

    failures: list[BaseException | None] = []
    monkeypatch.setattr("threading.excepthook", lambda info: failures.append(info.exc_value))
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", importer)
    thread = devices_module.warm_up_portaudio()
    thread.join(timeout=10)
    assert not thread.is_alive() and failures == []
    with pytest.raises(AudioDeviceError, match="PortAudio library was not found"):
        devices_module.sounddevice()
