"""Audio devices: enumeration, and the choice a flag names (index, name part, name@host API).

A device choice that matches nothing is a :class:`~voicelive.errors.ConfigError` naming the
devices there are. Enumeration goes through :func:`voicelive.audio.portaudio.sounddevice`.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Final

from voicelive.audio import portaudio
from voicelive.audio.portaudio import Kind
from voicelive.errors import AudioDeviceError, ConfigError

log = logging.getLogger(__name__)

PREFERRED_HOSTAPI: Final = "Windows WASAPI" if sys.platform == "win32" else None
"""The host API whose devices are preferred when the choice leaves it open (Windows only).

PortAudio's default host API on Windows is MME, whose buffers add about 100 ms each way;
WASAPI (shared mode) is the low-latency one every Windows since Vista has. So on Windows no
``--input-device``/``--output-device`` means WASAPI's default device (falling back to
PortAudio's default when WASAPI is missing or has no default of that kind), and a name that
matches the same device under several host APIs means its WASAPI entry. WASAPI shared mode
runs at the system mixer's rate (usually 48 kHz): such a device refuses 24 kHz, is opened at
its own rate and resampled (:func:`choose_rate`). Elsewhere there is one obvious host API
(ALSA on Linux, Core Audio on macOS) and PortAudio's default is kept."""


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device. ``hostapi`` is its host API's name (ALSA, Core Audio, Windows
    WASAPI, MME, …); the ``is_hostapi_default_*`` flags mark that host API's own defaults."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool
    is_hostapi_default_input: bool = False
    is_hostapi_default_output: bool = False


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio sees, with its host API. Raises AudioDeviceError."""
    sd = portaudio.sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"PortAudio could not list the audio devices ({exc}).") from None
    result = []
    for dev in devices:
        index = int(dev["index"])
        hostapi = hostapis[dev["hostapi"]]
        result.append(
            DeviceInfo(
                index=index,
                name=str(dev["name"]),
                hostapi=str(hostapi["name"]),
                max_input_channels=int(dev["max_input_channels"]),
                max_output_channels=int(dev["max_output_channels"]),
                default_samplerate=float(dev["default_samplerate"]),
                is_default_input=index == default_in,
                is_default_output=index == default_out,
                is_hostapi_default_input=index == hostapi["default_input_device"],
                is_hostapi_default_output=index == hostapi["default_output_device"],
            )
        )
    return result


def _channels(dev: DeviceInfo, kind: Kind) -> int:
    return dev.max_input_channels if kind == "input" else dev.max_output_channels


def _is_default(dev: DeviceInfo, kind: Kind) -> bool:
    return dev.is_default_input if kind == "input" else dev.is_default_output


def _is_hostapi_default(dev: DeviceInfo, kind: Kind) -> bool:
    return dev.is_hostapi_default_input if kind == "input" else dev.is_hostapi_default_output


def _label(dev: DeviceInfo) -> str:
    """How a device is shown in messages: its index and the ``NAME@HOSTAPI`` one can type."""
    return f"{dev.index}: {dev.name}@{dev.hostapi}"


def resolve_device(
    spec: str | None,
    kind: Kind,
    devices: list[DeviceInfo] | None = None,
    preferred_hostapi: str | None = PREFERRED_HOSTAPI,
) -> int | None:
    """Turn ``--input-device``/``--output-device`` into a PortAudio device index.

    ``spec`` is one of (both text parts case-insensitive substrings):

    - empty / None: the default device. With ``preferred_hostapi`` (Windows: WASAPI) that
      host API's default device when it has one, else PortAudio's default (returned as None,
      checked to exist; the first usable device when there is none).
    - ``INDEX``: the device with that index, as ``voicelive devices`` lists it.
    - ``NAME``: the one device whose name contains NAME (an exact name wins; among devices
      of several host APIs, the one of ``preferred_hostapi`` wins).
    - ``NAME@HOSTAPI``: the same, among the devices of the host API(s) containing HOSTAPI
      (``Speakers@WASAPI``, ``pulse@ALSA``); the text after the last ``@`` is the host API,
      unless the whole text is exactly a device's name.
    - ``@HOSTAPI``: that host API's default device of this kind.

    Raises ConfigError when the choice matches nothing or several devices (listing the
    choices as ``INDEX: NAME@HOSTAPI``) and AudioDeviceError when there is no device of that
    kind at all. Pure apart from ``list_devices`` when ``devices`` is None.
    """
    devices = list_devices() if devices is None else devices
    usable = [d for d in devices if _channels(d, kind) > 0]
    flag = f"--{kind}-device"
    if not usable:
        raise AudioDeviceError(
            f"No audio {kind} device was found: connect one, or check that the sound server "
            "(PulseAudio/PipeWire) is running; `voicelive devices` lists what PortAudio sees."
        )
    choices = "; ".join(_label(d) for d in usable)
    if spec is None or not spec.strip():
        if preferred_hostapi is not None:
            preferred = [
                d
                for d in usable
                if d.hostapi.lower() == preferred_hostapi.lower() and _is_hostapi_default(d, kind)
            ]
            if preferred:
                log.info(
                    "default %s device: %s (%s default)", kind, preferred[0].name, preferred_hostapi
                )
                return preferred[0].index
        if not any(_is_default(d, kind) for d in usable):
            log.warning("no default %s device; using %s", kind, usable[0].name)
            return usable[0].index
        return None
    spec = spec.strip()
    if spec.isdigit():
        index = int(spec)
        if any(d.index == index for d in usable):
            return index
        raise ConfigError(f"{flag} {spec} is not an {kind} device; choose one of: {choices}.")
    name, hostapi = spec, ""
    if "@" in spec and not any(d.name.lower() == spec.lower() for d in usable):
        name, _, hostapi = (part.strip() for part in spec.rpartition("@"))
    candidates = usable
    if hostapi:
        candidates = [d for d in usable if hostapi.lower() in d.hostapi.lower()]
        if not candidates:
            apis = ", ".join(sorted({d.hostapi for d in usable}))
            raise ConfigError(
                f"{flag} {spec!r}: no host API with {kind} devices matches {hostapi!r}; "
                f"these have some: {apis}."
            )
        if not name:
            defaults = [d for d in candidates if _is_hostapi_default(d, kind)]
            if len(defaults) == 1 or len(candidates) == 1:
                return (defaults or candidates)[0].index
            several = "; ".join(_label(d) for d in candidates)
            raise ConfigError(
                f"{flag} {spec!r}: that host API has no default {kind} device; "
                f"choose one of: {several}."
            )
    matches = [d for d in candidates if name.lower() in d.name.lower()]
    chosen = _pick(matches, name, None if hostapi else preferred_hostapi)
    if chosen is not None:
        return chosen.index
    if not matches:
        raise ConfigError(f"{flag} {spec!r} matches no {kind} device; choose one of: {choices}.")
    several = "; ".join(_label(d) for d in matches)
    raise ConfigError(
        f"{flag} {spec!r} matches several {kind} devices ({several}); use the index "
        "or NAME@HOSTAPI."
    )


def _pick(matches: list[DeviceInfo], name: str, preferred_hostapi: str | None) -> DeviceInfo | None:
    """The one device meant among ``matches``: the only exact name, else the only match;
    in either group, ties across host APIs go to ``preferred_hostapi``. None if no single one."""
    exact = [d for d in matches if d.name.lower() == name.lower()]
    for group in (exact, matches):
        if len(group) == 1:
            return group[0]
        if preferred_hostapi is not None:
            preferred = [d for d in group if d.hostapi.lower() == preferred_hostapi.lower()]
            if len(preferred) == 1:
                return preferred[0]
    return None
