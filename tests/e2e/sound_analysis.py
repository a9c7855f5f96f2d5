"""Signal analysis for the end-to-end tests: levels and onsets (RMS in 10 ms windows), where a
known sound sits in a recording and how faithfully it was reproduced (normalized
cross-correlation, loudness-envelope correlation, silent gaps). Pure numpy, no I/O; works on
int16 sample arrays at the bed's rate.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 24_000
"""The bed's (and the session's) sample rate."""

Samples = npt.NDArray[np.int16]
Floats = npt.NDArray[np.float64]


def rms_db(samples: npt.ArrayLike, rate: int = RATE, window_ms: float = 10.0) -> Floats:
    """RMS level of consecutive ``window_ms`` windows in dB full scale (silence = -120)."""
    data = np.asarray(samples, dtype=np.float64) / 32768.0
    window = int(rate * window_ms / 1000)
    count = len(data) // window
    if count == 0:
        return np.zeros(0)
    frames = data[: count * window].reshape(count, window)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    result: Floats = 20 * np.log10(np.maximum(rms, 1e-6))
    return result


def first_sound(
    samples: npt.ArrayLike, rate: int = RATE, threshold_db: float = -50.0, window_ms: float = 10.0
) -> int | None:
    """Sample index where sound starts, or None if every window is quieter than threshold.

    The first window whose RMS exceeds ``threshold_db`` locates the sound; the index is then
    refined to the first sample in or just before that window whose magnitude exceeds the
    threshold, so onsets are sample-accurate rather than window-accurate.
    """
    data = np.asarray(samples)
    loud = np.flatnonzero(rms_db(data, rate, window_ms) > threshold_db)
    if not loud.size:
        return None
    window = int(rate * window_ms / 1000)
    lo = max(0, (int(loud[0]) - 1) * window)
    hits = np.flatnonzero(
        np.abs(data[lo : (int(loud[0]) + 1) * window].astype(np.int32)) > _level(threshold_db)
    )
    return lo + int(hits[0]) if hits.size else int(loud[0]) * window


def last_sound_end(
    samples: npt.ArrayLike, rate: int = RATE, threshold_db: float = -50.0, window_ms: float = 10.0
) -> int | None:
    """Sample index just after the sound ends (sample-accurate, like :func:`first_sound`)."""
    data = np.asarray(samples)
    loud = np.flatnonzero(rms_db(data, rate, window_ms) > threshold_db)
    if not loud.size:
        return None
    window = int(rate * window_ms / 1000)
    lo = int(loud[-1]) * window
    hi = min(len(data), (int(loud[-1]) + 2) * window)
    hits = np.flatnonzero(np.abs(data[lo:hi].astype(np.int32)) > _level(threshold_db))
    return lo + int(hits[-1]) + 1 if hits.size else (int(loud[-1]) + 1) * window


def _level(threshold_db: float) -> float:
    """Sample magnitude (int16 scale) of a dBFS level."""
    return float(10 ** (threshold_db / 20) * 32768)


def sound_span(
    samples: npt.ArrayLike, rate: int = RATE, threshold_db: float = -50.0
) -> tuple[int, int] | None:
    """(onset, end) sample indices of the sound in ``samples``, or None if it is silent."""
    start = first_sound(samples, rate, threshold_db)
    end = last_sound_end(samples, rate, threshold_db)
    return None if start is None or end is None else (start, end)


def gaps(
    samples: npt.ArrayLike,
    rate: int = RATE,
    threshold_db: float = -60.0,
    window_ms: float = 10.0,
) -> list[tuple[int, int]]:
    """(start, length) in samples of silent runs strictly inside the sound of ``samples``."""
    loud = rms_db(samples, rate, window_ms) > threshold_db
    idx = np.flatnonzero(loud)
    if idx.size == 0:
        return []
    window = int(rate * window_ms / 1000)
    inner = loud[idx[0] : idx[-1] + 1]
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for i, value in enumerate(inner):
        if not value and start is None:
            start = i
        elif value and start is not None:
            runs.append(((int(idx[0]) + start) * window, (i - start) * window))
            start = None
    return runs


def find_waveform(template: npt.ArrayLike, recording: npt.ArrayLike) -> tuple[float, int]:
    """Locate ``template`` in ``recording`` by normalized cross-correlation.

    Returns ``(peak, offset)``: the best correlation coefficient (1.0 = identical up to gain)
    and the sample offset in ``recording`` where the template starts. Each position is
    normalized by the energy of the recording window under the template, so surrounding
    silence neither helps nor hurts. The recording is padded with silence if shorter.
    """
    t = np.asarray(template, dtype=np.float64)
    r = np.asarray(recording, dtype=np.float64)
    n = len(t)
    if n == 0:
        raise ValueError("empty template")
    if len(r) < n:
        r = np.concatenate([r, np.zeros(n - len(r))])
    size = 1 << int(np.ceil(np.log2(len(r) + n)))
    spectrum = np.fft.rfft(r, size) * np.conj(np.fft.rfft(t, size))
    numerator = np.fft.irfft(spectrum, size)[: len(r) - n + 1]
    energy = np.concatenate([[0.0], np.cumsum(r * r)])
    window_energy = energy[n:] - energy[:-n]
    denominator = np.sqrt(np.maximum(window_energy, 1e-9) * float(np.dot(t, t)))
    ncc = numerator / np.maximum(denominator, 1e-9)
    # Windows of (near) silence give unstable ratios; they cannot be a match anyway.
    ncc[window_energy < 1e-6 * max(float(np.dot(t, t)), 1e-9)] = 0.0
    best = int(np.argmax(ncc))
    return float(ncc[best]), best


def envelope(samples: npt.ArrayLike, rate: int = RATE, window_ms: float = 10.0) -> Floats:
    """Linear RMS envelope in consecutive ``window_ms`` windows (full scale = 1.0)."""
    return np.asarray(10 ** (rms_db(samples, rate, window_ms) / 20), dtype=np.float64)


def find_envelope(
    template: npt.ArrayLike, recording: npt.ArrayLike, rate: int = RATE, window_ms: float = 10.0
) -> tuple[float, float]:
    """Locate ``template``'s loudness envelope in ``recording``'s, by Pearson correlation.

    Returns ``(r, offset_s)``: the best correlation coefficient of the two envelopes over the
    template's length and the offset in seconds in ``recording``. Robust to resampling, phase
    and small gain changes that defeat waveform correlation; a pipeline that drops, repeats or
    garbles audio still changes the envelope's shape and lowers ``r``.
    """
    a = envelope(template, rate, window_ms)
    b = envelope(recording, rate, window_ms)
    n = len(a)
    if n < 2:
        raise ValueError("template shorter than two envelope windows")
    if len(b) < n:
        b = np.concatenate([b, np.full(n - len(b), 1e-6)])
    a0 = a - a.mean()
    a_norm = float(np.sqrt(np.dot(a0, a0)))
    windows = np.lib.stride_tricks.sliding_window_view(b, n)
    b0 = windows - windows.mean(axis=1, keepdims=True)
    b_norm = np.sqrt(np.einsum("ij,ij->i", b0, b0))
    r = (b0 @ a0) / np.maximum(b_norm * a_norm, 1e-12)
    best = int(np.argmax(r))
    return float(r[best]), best * window_ms / 1000
