"""An energy voice activity detector standing in for the service's turn detection.

Pure and synchronous: feed it PCM16 samples (24 kHz mono), get speech start/stop decisions
back. It keeps its own clock in samples since the session started, which is the time base of
``audio_start_ms``/``audio_end_ms``. Cost: one vectorised RMS per 10 ms frame.

How the session's knobs map onto it (an approximation of the service, not a copy):

* ``threshold`` (0..1) → a frame level in dBFS: ``-60 + 40 * threshold``. The default 0.5 is
  -40 dBFS; 0 is -60 dBFS (very sensitive), 1 is -20 dBFS (loud speech only). A frame is
  *voiced* when its RMS level is at or above that.
* ``speech_duration_ms`` → voiced time needed before ``speech_started`` (gaps shorter than
  :data:`ONSET_GAP_MS` don't reset the count).
* ``prefix_padding_ms`` → ``audio_start_ms`` is the onset minus this (not before the buffer).
* ``silence_duration_ms`` → unvoiced time after the last voiced frame that ends the turn;
  ``audio_end_ms`` is the last voiced frame's end plus this, as the service reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .constants import SAMPLE_RATE

FRAME_MS = 10
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
ONSET_GAP_MS = 100
"""An unvoiced gap longer than this before speech is confirmed drops the onset candidate."""


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
        rms = np.sqrt(np.mean(frames * frames, axis=1)) / 32768.0
        levels = 20.0 * np.log10(rms + 1e-12)
        events: list[VadEvent] = []
        for level in levels.tolist():
            start_ms = self.position_ms
            self._pos += FRAME_SAMPLES
            event = self._step(level >= self._threshold_dbfs, start_ms, floor_ms)
            if event is not None:
                events.append(event)
        return events

    def _step(self, voiced: bool, start_ms: int, floor_ms: int) -> VadEvent | None:
        end_ms = start_ms + FRAME_MS
        cfg = self.config
        if self._in_speech:
            if voiced:
                self._last_voiced_ms = end_ms
                self._silence_ms = 0
                return None
            self._silence_ms += FRAME_MS
            if self._silence_ms < cfg.silence_duration_ms:
                return None
            self._in_speech = False
            self._candidate_ms = None
            return SpeechStopped(audio_end_ms=end_ms, last_voiced_ms=self._last_voiced_ms)
        if voiced:
            if self._candidate_ms is None:
                self._candidate_ms = start_ms
                self._voiced_ms = 0
            self._voiced_ms += FRAME_MS
            self._gap_ms = 0
            if self._voiced_ms < max(FRAME_MS, cfg.speech_duration_ms):
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
