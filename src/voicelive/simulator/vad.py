"""An energy voice activity detector standing in for the service's turn detection.

Pure and synchronous: feed it PCM16 samples (24 kHz mono), get speech start/stop decisions
back. It keeps its own clock in samples since the session started, which is the time base of
``audio_start_ms``/``audio_end_ms``. Cost: one vectorised RMS per 10 ms frame.

A steady signal is not speech (the service's detector does not hear it either):

* **DC is removed before the level is measured**: each frame's level is its energy around the
  mean of the last :data:`DC_FRAMES` frames (40 ms). A constant offset (a microphone's DC, G.711
  padding that decodes to a constant) has no level at all after the first 40 ms of it.
* **Speech varies; a tone, hum or fan does not.** The level smoothed over 40 ms (so a 50/60 Hz
  hum's ripple is averaged out) of a voice moves by several dB within a syllable. An onset is
  only confirmed once its loud frames (those whose 40 ms window is all loud, so no edge's ramp
  counts) span at least :data:`STEADY_RANGE_DB`; while they do not, the candidate slides along
  and never becomes a turn. Inside a turn, once the last :data:`STEADY_FRAMES` frames (400 ms)
  have stayed within that range the frames count as unvoiced, so a hum that follows speech ends
  the turn after ``silence_duration_ms``. Soft speech is heard as before: it only has to reach
  the threshold and vary. The cost of the rule: a voice over a steady hum may be dated up to
  400 ms early (the candidate's start); a sung note held for more than 400 ms ends a turn; a
  step from one steady signal straight into another (a fan changing speed) can count as one
  short turn.

How the session's knobs map onto it (an approximation of the service, not a copy):

* ``threshold`` (0..1) → a frame level in dBFS: ``-60 + 40 * threshold``. The default 0.5 is
  -40 dBFS; 0 is -60 dBFS (very sensitive), 1 is -20 dBFS (loud speech only). A frame is
  *voiced* when its RMS level (around the DC) is at or above that and it is not steady.
* ``speech_duration_ms`` → voiced time needed before ``speech_started`` (gaps shorter than
  :data:`ONSET_GAP_MS` don't reset the count).
* ``prefix_padding_ms`` → ``audio_start_ms`` is the onset minus this (not before the buffer).
* ``silence_duration_ms`` → unvoiced time after the last voiced frame that ends the turn;
  ``audio_end_ms`` is the last voiced frame's end plus this, as the service reports it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .constants import SAMPLE_RATE

FRAME_MS = 10
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
ONSET_GAP_MS = 100
"""An unvoiced gap longer than this before speech is confirmed drops the onset candidate."""
DC_FRAMES = 4
"""Frames (40 ms) over which the DC offset is estimated and the steadiness level smoothed."""
STEADY_FRAMES = 40
"""Frames (400 ms) within :data:`STEADY_RANGE_DB` after which a loud signal counts as steady."""
STEADY_RANGE_DB = 3.0
"""Spread of the smoothed level that tells speech from a steady tone or noise."""
_FULL_SCALE_ENERGY = 32768.0**2


def threshold_to_dbfs(threshold: float) -> float:
    """Map the session's 0..1 ``threshold`` to a frame level in dBFS (see module docstring)."""
    return -60.0 + 40.0 * min(1.0, max(0.0, threshold))


def samples_to_ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE


def ms_to_samples(ms: int) -> int:
    return ms * SAMPLE_RATE // 1000


@dataclass(frozen=True)
class VadConfig:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    speech_duration_ms: int = 200


@dataclass(frozen=True)
class SpeechStarted:
    """Speech confirmed. Times are ms since the session's first audio sample."""

    audio_start_ms: int
    """Onset minus prefix padding (not before ``floor_ms``)."""
    onset_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    audio_end_ms: int
    """Last voiced frame end plus the silence duration: where the committed audio ends."""
    last_voiced_ms: int
    """End of the last voiced frame: where the speech itself ends."""


VadEvent = SpeechStarted | SpeechStopped


class EnergyVad:
    """Frame-energy turn detector. Not thread-safe; one per connection, used from its task."""

    def __init__(self, config: VadConfig, position_samples: int = 0) -> None:
        self.config = config
        self._threshold_dbfs = threshold_to_dbfs(config.threshold)
        self._pos = position_samples  # samples consumed into complete frames
        self._pending = np.zeros(0, dtype=np.int16)  # tail shorter than one frame
        self._candidate_ms: int | None = None
        self._voiced_ms = 0
        self._gap_ms = 0
        self._in_speech = False
        self._last_voiced_ms = 0
        self._silence_ms = 0
        # Per-frame mean and mean square of the last DC_FRAMES - 1 frames (DC and smoothing).
        self._history = np.zeros((0, 2), dtype=np.float64)
        self._recent: deque[float] = deque(maxlen=STEADY_FRAMES)  # smoothed levels, all frames
        # (start ms, smoothed level) of the candidate's loud frames past its onset ramp
        self._onset_levels: deque[tuple[int, float]] = deque(maxlen=STEADY_FRAMES)
        self._loud_run = 0  # consecutive loud frames up to the current one

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def position_ms(self) -> int:
        return samples_to_ms(self._pos)

    def earliest_needed_ms(self) -> int:
        """Oldest audio time a future ``speech_started`` could still point at (for trimming)."""
        if self._in_speech:
            return 0
        anchor = self._candidate_ms if self._candidate_ms is not None else self.position_ms
        return max(0, anchor - self.config.prefix_padding_ms)

    def feed(self, samples: npt.NDArray[np.int16], floor_ms: int = 0) -> list[VadEvent]:
        """Consume samples; return the decisions they caused, oldest first.

        ``floor_ms`` is the start of the audio still held by the caller, which bounds
        ``audio_start_ms`` from below.
        """
        data = np.concatenate((self._pending, samples)) if self._pending.size else samples
        whole = data.size // FRAME_SAMPLES * FRAME_SAMPLES
        self._pending = data[whole:].copy()
        if whole == 0:
            return []
        frames = data[:whole].astype(np.float64).reshape(-1, FRAME_SAMPLES)
        levels, smoothed = self._levels(frames)
        events: list[VadEvent] = []
        for level, steady_level in zip(levels.tolist(), smoothed.tolist(), strict=True):
            start_ms = self.position_ms
            self._pos += FRAME_SAMPLES
            self._recent.append(steady_level)
            loud = level >= self._threshold_dbfs
            event = self._step(loud, steady_level, start_ms, floor_ms)
            if event is not None:
                events.append(event)
        return events

    def _levels(
        self, frames: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(level, smoothed level) in dBFS per frame, both measured around the running DC."""
        stats = np.column_stack((frames.mean(axis=1), (frames * frames).mean(axis=1)))
        joined = np.concatenate((self._history, stats))
        self._history = joined[-(DC_FRAMES - 1) :]
        # Running sums over the DC window, per frame (the first frames see a shorter history).
        sums = np.cumsum(joined, axis=0)
        lagged = np.vstack((np.zeros((DC_FRAMES, 2)), sums[:-DC_FRAMES]))
        counts = np.minimum(np.arange(1, joined.shape[0] + 1), DC_FRAMES)[:, None]
        window = ((sums - lagged[: joined.shape[0]]) / counts)[-stats.shape[0] :]
        dc = window[:, 0]
        energy = np.maximum(stats[:, 1] - 2.0 * dc * stats[:, 0] + dc * dc, 0.0)
        # The window's own energy around its mean: the 40 ms smoothing of the steadiness test.
        smooth = np.maximum(window[:, 1] - dc * dc, 0.0)
        level = 10.0 * np.log10(energy / _FULL_SCALE_ENERGY + 1e-24)
        smoothed = 10.0 * np.log10(smooth / _FULL_SCALE_ENERGY + 1e-24)
        return level, smoothed

    def _steady(self) -> bool:
        """The last :data:`STEADY_FRAMES` frames stayed within :data:`STEADY_RANGE_DB`."""
        recent = self._recent
        return len(recent) == STEADY_FRAMES and max(recent) - min(recent) < STEADY_RANGE_DB

    def _varied_onset(self) -> bool:
        levels = [level for _, level in self._onset_levels]
        return len(levels) >= 2 and max(levels) - min(levels) >= STEADY_RANGE_DB

    def _step(
        self, loud: bool, steady_level: float, start_ms: int, floor_ms: int
    ) -> VadEvent | None:
        self._loud_run = self._loud_run + 1 if loud else 0
        end_ms = start_ms + FRAME_MS
        cfg = self.config
        if self._in_speech:
            if loud and not self._steady():
                self._last_voiced_ms = end_ms
                self._silence_ms = 0
                return None
            self._silence_ms += FRAME_MS
            if self._silence_ms < cfg.silence_duration_ms:
                return None
            self._in_speech = False
            self._candidate_ms = None
            return SpeechStopped(audio_end_ms=end_ms, last_voiced_ms=self._last_voiced_ms)
        if loud:
            if self._candidate_ms is None:
                self._candidate_ms = start_ms
                self._voiced_ms = 0
                self._onset_levels.clear()
            self._voiced_ms += FRAME_MS
            self._gap_ms = 0
            if self._loud_run >= DC_FRAMES:  # its smoothing window is all loud: no edge ramp
                if len(self._onset_levels) == STEADY_FRAMES:
                    # Steady for 400 ms: not speech yet; the candidate slides along with it.
                    self._candidate_ms = self._onset_levels[1][0]
                self._onset_levels.append((start_ms, steady_level))
            if self._voiced_ms < max(FRAME_MS, cfg.speech_duration_ms) or not self._varied_onset():
                return None
            onset = self._candidate_ms
            self._in_speech = True
            self._last_voiced_ms = end_ms
            self._silence_ms = 0
            start = max(floor_ms, onset - cfg.prefix_padding_ms, 0)
            return SpeechStarted(audio_start_ms=start, onset_ms=onset)
        if self._candidate_ms is not None:
            self._gap_ms += FRAME_MS
            if self._gap_ms > ONSET_GAP_MS:
                self._candidate_ms = None
        return None
