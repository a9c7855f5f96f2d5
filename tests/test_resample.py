"""Rate conversion quality: a tone survives 24 kHz → device rate → 24 kHz without damage."""

from __future__ import annotations

import numpy as np
import pytest

from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.resample import PullResampler, Resampler

RATE = 24_000


def tone(freq: float, seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")


def snr_db(reference: np.ndarray, signal: np.ndarray) -> float:
    """SNR of ``signal`` against the best-aligned, best-scaled ``reference``."""
    ref = reference.astype(np.float64)
    sig = signal.astype(np.float64)
    n = min(len(ref), len(sig))
    best = -np.inf
    for lag in range(-64, 65):
        a = ref[max(0, lag) : n + min(0, lag)]
        b = sig[max(0, -lag) : n - max(0, lag)]
        m = min(len(a), len(b))
        a, b = a[:m], b[:m]
        gain = np.dot(a, b) / np.dot(a, a)
        noise = b - gain * a
        best = max(best, 10 * np.log10(np.dot(b, b) / max(np.dot(noise, noise), 1e-9)))
    return float(best)


@pytest.mark.parametrize("device_rate", [44_100, 48_000, 16_000])
def test_round_trip_in_blocks_keeps_a_tone_clean(device_rate: int) -> None:
    src = tone(1000, 1.0)
    up, down = Resampler(RATE, device_rate), Resampler(device_rate, RATE)
    mid = b"".join(up.process(src[i : i + 480].tobytes()) for i in range(0, len(src), 480))
    mid += up.process(b"", last=True)
    assert abs(len(mid) // 2 - device_rate) < device_rate * 0.01  # 1 s in, ~1 s out
    back = down.process(mid) + down.process(b"", last=True)
    out = np.frombuffer(back, "<i2")
    # skip the filter's settling at both ends; block-wise streaming must not click
    assert snr_db(src[2400:-2400], out[2400:-2400]) > 50


def test_pull_resampler_fills_exact_device_blocks_from_the_jitter_buffer() -> None:
    jitter = JitterBuffer(prefill_bytes=0, max_bytes=10_000_000)
    src = tone(440, 0.5)
    jitter.push("item", src.tobytes())
    jitter.end_item("item")
    pull = PullResampler(RATE, 48_000, jitter.pull_into)
    collected = bytearray()
    for _ in range(120):  # 120 device blocks of 441 frames: odd sizes on purpose
        block = bytearray(441 * 2)
        pull.fill(memoryview(block))
        collected += block
    out = np.frombuffer(bytes(collected), "<i2")
    assert jitter.playback("item").played_bytes == len(src) * 2
    expected = tone(440, len(out) / 48_000, 48_000)
    assert snr_db(expected[4800:20000], out[4800:20000]) > 40
