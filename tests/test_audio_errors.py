"""Audio failures end in one clear sentence and exit code 8, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voicelive.audio.device_choice import DeviceInfo, resolve_device
from voicelive.errors import AudioDeviceError, ConfigError


def dev(
    index: int, name: str, ins: int, outs: int, default_in: bool = False, default_out: bool = False
) -> DeviceInfo:
    return DeviceInfo(index, name, "ALSA", ins, outs, 48000.0, default_in, default_out)


DEVICES = [
    dev(0, "USB Headset Mic", 1, 0),
    dev(1, "USB Headset Speaker", 0, 2),
    dev(2, "pulse", 32, 32, default_in=True, default_out=True),
    dev(3, "USB Webcam Mic", 2, 0),
]


def test_default_device_is_none_and_index_and_substring_resolve() -> None:
    assert resolve_device(None, "input", DEVICES) is None
    assert resolve_device("3", "input", DEVICES) == 3
    assert resolve_device("webcam", "input", DEVICES) == 3
    assert resolve_device("speaker", "output", DEVICES) == 1
    assert resolve_device("pulse", "output", DEVICES) == 2


def test_ambiguous_and_unknown_choices_list_the_candidates() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_device("usb", "input", DEVICES)
    assert "matches several input devices" in str(info.value)
    assert "0: USB Headset Mic" in str(info.value) and "3: USB Webcam Mic" in str(info.value)
    with pytest.raises(ConfigError, match="matches no output device; choose one of: 1: USB"):
        resolve_device("hdmi", "output", DEVICES)
    with pytest.raises(ConfigError, match="--input-device 1 is not an input device"):
        resolve_device("1", "input", DEVICES)


def test_no_device_of_a_kind_says_check_the_sound_server() -> None:
    with pytest.raises(AudioDeviceError, match="sound server"):
        resolve_device(None, "input", [dev(1, "out only", 0, 2, default_out=True)])


def test_missing_portaudio_library_is_one_line_and_exit_8(tmp_path: Path) -> None:
    # Make ctypes.util.find_library blind to PortAudio in a child process, as on a machine
    # without libportaudio2; then the real import of sounddevice fails as it would there.
    (tmp_path / "sitecustomize.py").write_text(
        "import ctypes.util\n"
        "_real = ctypes.util.find_library\n"
        "ctypes.util.find_library = lambda n: None if 'portaudio' in n else _real(n)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "voicelive", "devices"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 8
    assert result.stderr.strip().splitlines() == [
        "error: The PortAudio library was not found: install it (Debian/Ubuntu: sudo apt "
        "install libportaudio2; Fedora: sudo dnf install portaudio; macOS: brew install "
        "portaudio)."
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(Path("/dev/snd").exists(), reason="this machine has a real sound card")
def test_no_sound_server_is_one_line_and_exit_8(tmp_path: Path) -> None:
    # PortAudio reaches sound only through ALSA's pulse plugin here: point it at a server
    # that does not exist and there is no device at all, as on a desktop whose sound
    # server is down.
    env = {**os.environ, "PULSE_SERVER": f"unix:{tmp_path}/no-such-server/native"}
    result = subprocess.run(
        [sys.executable, "-m", "voicelive", "chat", "--simulate", "--log-file", "none"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 8
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: No audio input device was found") and "sound server" in line
