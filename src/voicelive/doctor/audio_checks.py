"""The checks of the sound devices: ``devices``, ``microphone-level``, ``headset``, ``echo``.

They open the devices voicelive would use (``--input-device``/``--output-device``,
``--device-rate``) through :mod:`voicelive.audio.device_choice` and
:func:`voicelive.audio.portaudio.choose_rate`, record and play, and leave the judgement to
:mod:`voicelive.doctor.signal_analysis`. Blocking, for a worker thread: each waits on an event
with a deadline as the guard, and closes its streams on every path. Errors come back as
``fail`` checks, never as exceptions.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicelive.audio import portaudio
from voicelive.audio.device_choice import DeviceInfo, list_devices, resolve_device
from voicelive.audio.portaudio import Kind, choose_rate
from voicelive.config.settings import AudioSettings
from voicelive.doctor import signal_analysis as sa
from voicelive.doctor.check import Check, fail, ok, warn
from voicelive.errors import VoiceLiveError
from voicelive.protocol.pcm import SAMPLE_RATE

log = logging.getLogger(__name__)

LEVEL_SECONDS = 2.0
PROBE_AMPLITUDE = 0.3
"""The test sound's peak (-10 dBFS): clearly audible, never loud."""
ECHO_LEAD_S = 0.3
"""Recording before the test sound starts: the room's own sound, for comparison."""
ECHO_TAIL_S = 0.8
"""Recording after the test sound ends: room for the longest echo path worth reporting."""
GUARD_S = 5.0
"""How much longer than planned a recording may take before it counts as stuck."""


@dataclass(frozen=True)
class End:
    """One audio end as voicelive opens it: the device (None = PortAudio's default), its
    description and the rate it runs at."""

    device: int | None
    info: DeviceInfo
    rate: int

    def describe(self) -> str:
        resampled = (
            "no resampling"
            if self.rate == SAMPLE_RATE
            else f"resampled {SAMPLE_RATE} <-> {self.rate} Hz"
        )
        return f"'{self.info.name}' ({self.info.hostapi}) at {self.rate} Hz, {resampled}"


@dataclass(frozen=True)
class Ends:
    input: End
    output: End


def _end(devices: list[DeviceInfo], spec: str | None, kind: Kind, forced: int | None) -> End:
    index = resolve_device(spec, kind, devices)
    if index is None:
        info = next(
            d for d in devices if (d.is_default_input if kind == "input" else d.is_default_output)
        )
    else:
        info = next(d for d in devices if d.index == index)
    return End(index, info, choose_rate(index, kind, forced))


def _try_open(end: End, kind: Kind) -> None:
    """Open, start and close a stream on ``end``, as voicelive will; raises AudioDeviceError."""
    sd = portaudio.sounddevice()
    cls = sd.RawInputStream if kind == "input" else sd.RawOutputStream
    try:
        stream = cls(samplerate=end.rate, channels=1, dtype="int16", device=end.device)
        try:
            stream.start()
            stream.stop()
        finally:
            stream.close()
    except (sd.PortAudioError, ValueError) as exc:
        raise portaudio.open_error(kind, exc) from None


def check_devices(audio: AudioSettings) -> tuple[Check, Ends | None]:
    """``devices``: both ends resolve and open at the rates voicelive will use."""
    if audio.input_file is not None or audio.output_file is not None:
        return ok("devices", "WAV files replace the devices (--input-file/--output-file)"), None
    try:
        devices = list_devices()
        ends = Ends(
            _end(devices, audio.input_device, "input", audio.device_rate),
            _end(devices, audio.output_device, "output", audio.device_rate),
        )
        _try_open(ends.input, "input")
        _try_open(ends.output, "output")
    except VoiceLiveError as err:
        return fail("devices", "an audio device cannot be used", str(err)), None
    detail = f"input {ends.input.describe()}; output {ends.output.describe()}"
    return ok("devices", detail), ends


def check_headset(end: End) -> Check:
    """``headset``: an input that looks like a Bluetooth headset in its call profile."""
    name, rate = end.info.name, end.info.default_samplerate
    if sa.looks_like_headset(name, rate):
        return warn(
            "headset",
            f"the input '{name}' looks like a Bluetooth headset in call mode ({rate:.0f} Hz): "
            "narrow-band sound, and the switch to it eats the first words",
            "use the built-in microphone for input (--input-device) and keep the headset for "
            "output",
        )
    return ok("headset", f"the input '{name}' ({rate:.0f} Hz) is not a headset in call mode")


class _Recorder:
    """Collects a mono int16 input stream at ``rate`` until ``frames`` are in; the PortAudio
    callback only copies and counts (no I/O). ``start_time``: the monotonic time of the first
    sample, from PortAudio's ADC time when it gives one. ``lead`` is set once ``lead_frames``
    are in, ``full`` once all are."""

    def __init__(self, frames: int, rate: int, lead_frames: int = 0) -> None:
        self.frames = frames
        self._rate = rate
        self._lead_frames = lead_frames
        self.blocks: list[np.ndarray[Any, np.dtype[np.int16]]] = []
        self.count = 0
        self.start_time: float | None = None
        self.lead = threading.Event()
        self.full = threading.Event()

    def callback(self, indata: Any, frames: int, when: Any, status: Any) -> None:
        now = time.monotonic()
        if self.start_time is None:
            adc, current = float(when.inputBufferAdcTime), float(when.currentTime)
            lag = current - adc if adc > 0 and 0 <= current - adc < 1 else 0.0
            self.start_time = now - lag - (0.0 if lag else frames / self._rate)
        self.blocks.append(np.frombuffer(indata, dtype=np.int16).copy())
        self.count += frames
        if self.count >= self._lead_frames:
            self.lead.set()
        if self.count >= self.frames:
            self.full.set()

    def samples(self) -> sa.Samples:
        if not self.blocks:
            return np.zeros(0, np.int16)
        return np.concatenate(self.blocks)[: self.frames]


def _input_stream(end: End, recorder: _Recorder) -> Any:
    sd = portaudio.sounddevice()
    return sd.RawInputStream(
        samplerate=end.rate,
        channels=1,
        dtype="int16",
        device=end.device,
        blocksize=end.rate // 50,
        callback=recorder.callback,
    )


def record(
    end: End, seconds: float, on_level: Callable[[float, float], None] | None = None
) -> sa.Samples:
    """``seconds`` from the input ``end``; ``on_level(elapsed_s, dBFS)`` about 10 times a
    second from this thread (the live meter). Raises AudioDeviceError."""
    sd = portaudio.sounddevice()
    recorder = _Recorder(int(seconds * end.rate), end.rate)
    try:
        stream = _input_stream(end, recorder)
    except (sd.PortAudioError, ValueError) as exc:
        raise portaudio.open_error("input", exc) from None
    with stream:
        deadline = time.monotonic() + seconds + GUARD_S
        while not recorder.full.wait(0.1):  # the 0.1 s paces the meter; the event ends it
            if time.monotonic() > deadline:
                raise portaudio.open_error("input", TimeoutError("no sound data arrived"))
            if on_level is not None and recorder.blocks:
                level = sa.measure_level(recorder.blocks[-1], end.rate)
                on_level(recorder.count / end.rate, level.peak_dbfs)
    return recorder.samples()


def check_level(
    end: End, spoken: bool, on_level: Callable[[float, float], None] | None = None
) -> Check:
    """``microphone-level``: about 2 s of speech (``spoken``) or of the room."""
    try:
        samples = record(end, LEVEL_SECONDS, on_level)
    except VoiceLiveError as err:
        return fail("microphone-level", "the microphone could not be recorded", str(err))
    verdict = sa.judge_level(sa.measure_level(samples, end.rate), spoken)
    if verdict.problem == "zeros":
        if sys.platform == "darwin":
            fix = (
                "allow your terminal in System Settings > Privacy & Security > Microphone, "
                "then restart the terminal"
            )
        else:
            fix = (
                "unmute the microphone (pavucontrol, alsamixer or the system's sound settings) "
                "or choose another with --input-device (voicelive devices lists them)"
            )
        return warn("microphone-level", verdict.detail, fix)
    if verdict.problem == "clipping":
        return warn("microphone-level", verdict.detail, "lower the microphone's input gain")
    if verdict.problem == "low":
        return warn(
            "microphone-level",
            verdict.detail,
            "raise the microphone's input gain, move closer, or choose another with --input-device",
        )
    return ok("microphone-level", verdict.detail)


def _play_and_record(ends: Ends) -> tuple[sa.Samples, float, float]:
    """Play the probe while recording; returns the recording, its first sample's monotonic
    time and the probe's. Raises AudioDeviceError."""
    sd = portaudio.sounddevice()
    out_rate = ends.output.rate
    sound = (sa.probe(out_rate) * PROBE_AMPLITUDE * 32767).astype(np.int16)
    # silence after the probe: PortAudio drops the last ~40 ms of a stream that stops
    sound = np.concatenate([sound, np.zeros(out_rate // 5, np.int16)])
    seconds = ECHO_LEAD_S + sa.PROBE_SECONDS + ECHO_TAIL_S
    in_rate = ends.input.rate
    recorder = _Recorder(int(seconds * in_rate), in_rate, int(ECHO_LEAD_S * in_rate))
    played: list[float] = []
    position = [0]

    def feed(outdata: Any, frames: int, when: Any, status: Any) -> None:
        if not played:
            dac, current = float(when.outputBufferDacTime), float(when.currentTime)
            ahead = dac - current if dac > 0 and 0 <= dac - current < 1 else 0.0
            played.append(time.monotonic() + ahead)
        chunk = sound[position[0] : position[0] + frames]
        position[0] += frames
        out = np.frombuffer(outdata, dtype=np.int16)
        out[: chunk.size] = chunk
        out[chunk.size :] = 0

    try:
        with _input_stream(ends.input, recorder):
            # the room before the sound, so the recording starts with the room's own level
            if not recorder.lead.wait(ECHO_LEAD_S + GUARD_S):
                raise TimeoutError("no sound data arrived")
            speaker = sd.RawOutputStream(
                samplerate=out_rate,
                channels=1,
                dtype="int16",
                device=ends.output.device,
                callback=feed,
            )
            with speaker:
                if not recorder.full.wait(seconds + GUARD_S):
                    raise TimeoutError("no sound data arrived")
    except (sd.PortAudioError, ValueError, TimeoutError) as exc:
        raise portaudio.open_error("input", exc) from None
    if not played or recorder.start_time is None:
        raise portaudio.open_error("output", RuntimeError("the speaker never asked for sound"))
    return recorder.samples(), recorder.start_time, played[0]


def check_echo(ends: Ends) -> Check:
    """``echo``: a short test sound on the speaker; does the microphone hear it, how late."""
    try:
        recording, recorded_at, played_at = _play_and_record(ends)
    except VoiceLiveError as err:
        return fail("echo", "the test sound could not be played and recorded", str(err))
    found = sa.find_probe(recording, sa.probe(ends.input.rate))
    if found is None:
        return ok("echo", "the microphone did not hear the speaker's test sound")
    delay_ms = (recorded_at + found.index / ends.input.rate - played_at) * 1000
    level = found.level_db - 20 * np.log10(PROBE_AMPLITUDE)
    return warn(
        "echo",
        f"the microphone hears the speaker: the test sound came back after {delay_ms:.0f} ms "
        f"at {level:.0f} dB",
        "use headphones, or run chat with --echo-reference (the service then cancels it)",
    )
