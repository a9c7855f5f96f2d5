"""The doctor's judgements on sound, pure numpy: the microphone's level, a headset in call mode,
and whether (and how late) the microphone heard the speaker's test sound.

No I/O and no PortAudio: :mod:`voicelive.doctor.audio_checks` records, these functions decide,
and the unit tests feed them synthetic audio.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]

CLIP_LEVEL: Final = 32_700
"""A sample this large (of 32767) is taken as clipped."""
CLIP_FRACTION: Final = 0.001
"""Clipping is reported when more than this share of the samples is clipped."""
SPOKEN_PEAK_LOW_DBFS: Final = -30.0
"""Speech whose loudest 10 ms stays under this is too quiet for the service's VAD."""
AMBIENT_RMS_LOW_DBFS: Final = -85.0
"""Ambient sound under this is not a room: a microphone muted in its mixer, or no capsule."""
HEADSET_RATES: Final = (8_000, 16_000)
"""The rates of Bluetooth's call profiles (HFP/HSP): narrow- and wide-band speech."""
_HEADSET_NAME = re.compile(
    r"headset|hands[- ]?free|\bhfp\b|\bhsp\b|bluetooth|bluez|airpods|\bbuds\b|\bbt\b", re.I
)
ECHO_MIN_CORRELATION: Final = 0.3
"""The matched filter's normalised peak above which the test sound counts as heard; room
noise alone stays under 0.1 for the 0.3 s probe (about 3/sqrt(n) for n samples)."""
PROBE_SECONDS: Final = 0.3


@dataclass(frozen=True)
class Level:
    """A recording's level: ``peak_dbfs`` of its loudest 10 ms window (RMS), ``rms_dbfs`` of
    all of it, whether every sample is exactly zero, and the share of clipped samples."""

    peak_dbfs: float
    rms_dbfs: float
    all_zero: bool
    clipped: float


def _dbfs(rms: float) -> float:
    return 20 * math.log10(max(rms, 1e-7))


def measure_level(samples: Samples, rate: int) -> Level:
    """The :class:`Level` of mono int16 ``samples`` at ``rate`` Hz."""
    data = np.asarray(samples, dtype=np.float64) / 32768.0
    if data.size == 0:
        return Level(-140.0, -140.0, True, 0.0)
    window = max(1, rate // 100)
    count = max(1, data.size // window)
    frames = data[: count * window].reshape(count, -1) if data.size >= window else data[None, :]
    peak = float(np.sqrt(np.max(np.mean(frames * frames, axis=1))))
    rms = float(np.sqrt(np.mean(data * data)))
    clipped = float(np.mean(np.abs(np.asarray(samples, dtype=np.int32)) >= CLIP_LEVEL))
    return Level(_dbfs(peak), _dbfs(rms), bool(not np.any(samples)), clipped)


@dataclass(frozen=True)
class LevelVerdict:
    """What :func:`judge_level` found: ``problem`` None for a good level, else ``zeros``,
    ``low`` or ``clipping``; ``detail`` one line with the figures."""

    problem: str | None
    detail: str


def judge_level(level: Level, spoken: bool) -> LevelVerdict:
    """Judge a recording of speech (``spoken``) or of the room (the ``--json`` run).

    Exact zeros come first (nothing reaches the program at all), then clipping, then a level
    too low: for speech its loudest part, for the room the whole (a room is never this quiet).
    """
    figures = f"peak {level.peak_dbfs:.0f} dBFS, average {level.rms_dbfs:.0f} dBFS"
    what = "your voice" if spoken else "the room"
    if level.all_zero:
        return LevelVerdict("zeros", "the microphone delivers exact zeros (digital silence)")
    if level.clipped > CLIP_FRACTION:
        share = f"{level.clipped * 100:.1f} %"
        return LevelVerdict("clipping", f"{share} of the samples are clipped ({figures})")
    low = (
        level.peak_dbfs < SPOKEN_PEAK_LOW_DBFS if spoken else level.rms_dbfs < AMBIENT_RMS_LOW_DBFS
    )
    if low:
        return LevelVerdict("low", f"{what} is barely audible ({figures})")
    return LevelVerdict(None, f"{what}: {figures}")


def looks_like_headset(name: str, rate: float) -> bool:
    """True for an input whose name says Bluetooth headset and which runs at a call rate
    (8 or 16 kHz): the headset has dropped to its call profile, with narrow-band sound."""
    return round(rate) in HEADSET_RATES and _HEADSET_NAME.search(name) is not None


def probe(rate: int, seconds: float = PROBE_SECONDS) -> npt.NDArray[np.float64]:
    """The test sound at ``rate``: a linear chirp from 500 Hz to 3 kHz, faded in and out, peak 1.

    A chirp, not a tone: its correlation with itself has one sharp peak, so the delay it is
    found at is unambiguous (a steady tone matches itself every period)."""
    t = np.arange(int(seconds * rate)) / rate
    f0, f1 = 500.0, 3000.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)
    result: npt.NDArray[np.float64] = np.sin(phase) * fade
    return result


@dataclass(frozen=True)
class EchoFinding:
    """Where the probe was found in a recording: ``index`` its first sample's position,
    ``correlation`` the matched filter's normalised peak (0..1), ``level_db`` its level
    relative to the probe as played (0 dB: as loud)."""

    index: int
    correlation: float
    level_db: float


def find_probe(recording: Samples, template: npt.NDArray[np.float64]) -> EchoFinding | None:
    """The probe ``template`` (at the recording's rate) in ``recording``, or None when it is
    not there (the normalised correlation stays under :data:`ECHO_MIN_CORRELATION`).

    A matched filter by FFT; the peak is normalised by the energy of the recording under the
    template, so loud room noise does not look like an echo and a quiet echo still counts.
    """
    x = np.asarray(recording, dtype=np.float64) / 32768.0
    n = template.size
    if x.size < n or n == 0:
        return None
    size = 1 << (x.size + n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(template, size)), size)
    corr = corr[: x.size - n + 1]
    energy = np.concatenate(([0.0], np.cumsum(x * x)))
    window_energy = energy[n:] - energy[: x.size - n + 1]
    norm = np.sqrt(np.maximum(window_energy, 1e-12) * float(np.sum(template * template)))
    score = corr / norm
    index = int(np.argmax(score))
    if score[index] < ECHO_MIN_CORRELATION:
        return None
    gain = float(corr[index] / np.sum(template * template))  # least-squares scale of the probe
    return EchoFinding(index, float(score[index]), _dbfs(abs(gain)))
