"""Concealment: a jitter buffer that runs dry mid-reply goes on with the reply's last pitch
period, fading, and crossfades back into the reply; alone and driving a JitterBuffer.

Sizes are bytes of 24 kHz PCM16 (48 bytes per ms); the device pulls 5 ms at a time.
"""

from __future__ import annotations

import numpy as np
import pytest

from voicelive.audio.concealment import FULL_MS, MAX_MS, Concealer
from voicelive.audio.jitter import JitterBuffer

RATE = 24_000
MS = 48
PULL = 5 * MS


def voiced(ms: int, level: float = 8000.0, start: int = 0) -> np.ndarray:
    """A vowel-like tone: 150 Hz with two harmonics, from sample ``start``."""
    t = (np.arange(ms * RATE // 1000) + start) / RATE
    wave = np.sin(2 * np.pi * 150 * t) + 0.5 * np.sin(2 * np.pi * 300 * t + 1.0)
    return (level / 1.5 * wave).astype("<i2")


def rig(concealer: Concealer | None = None) -> JitterBuffer:
    return JitterBuffer(prefill_bytes=0, max_bytes=10**8, concealer=concealer)


def pulls(buf: JitterBuffer, n: int) -> np.ndarray:
    out = []
    for _ in range(n):
        block = memoryview(bytearray(b"\xaa" * PULL))  # garbage: every byte must be written
        buf.pull_into(block)
        out.append(np.frombuffer(block, "<i2").copy())
    return np.concatenate(out)


def silent_ms(samples: np.ndarray) -> float:
    return float(np.sum(np.abs(samples.astype(np.int32)) <= 2)) * 1000 / RATE


def test_a_voiced_reply_that_runs_dry_goes_on_sounding_then_resumes_where_it_stopped() -> None:
    concealer = Concealer()
    buf = rig(concealer)
    first = voiced(100)
    buf.push("a", first.tobytes())
    heard = pulls(buf, 20)  # 100 ms: all of the first delta
    assert np.array_equal(heard, first)
    hole = pulls(buf, 6)  # the next delta is 30 ms late
    assert silent_ms(hole) == 0, "the hole was silence"
    # It continues the tone: the first concealed samples are the tone's own continuation.
    truth = voiced(30, start=len(first))
    assert np.max(np.abs(hole[:48].astype(int) - truth[:48])) < 200
    second = voiced(100, start=len(first))  # the reply's next 100 ms, as the service sent them
    buf.push("a", second.tobytes())
    back = pulls(buf, 20)
    # After the 2.5 ms crossfade the reply is its own audio again, from where it stopped.
    assert np.array_equal(back[60:], second[60:])
    stats = buf.stats()
    assert stats.played_bytes == 200 * MS, "concealment counted as the reply's audio"
    assert buf.playback("a").played_bytes == 200 * MS
    assert stats.concealed_bytes == 30 * MS and stats.concealed_tail_bytes == 0
    assert stats.underruns == 1


def test_a_long_stall_fades_out_and_is_silence() -> None:
    buf = rig(Concealer())
    buf.push("a", voiced(100).tobytes())
    pulls(buf, 20)
    stall = pulls(buf, 40)  # 200 ms with nothing
    window = 20 * RATE // 1000
    rms = [
        float(np.sqrt(np.mean(stall[i : i + window].astype(float) ** 2)))
        for i in range(0, 4 * window, window)
    ]
    assert rms[0] > 3000, rms  # full level for FULL_MS
    assert FULL_MS == 20 and MAX_MS == 80
    assert rms[0] > rms[1] > rms[2] > rms[3] > 0, rms  # then fading, 20 ms by 20 ms
    last = int(MAX_MS * RATE / 1000)
    assert silent_ms(stall[last:]) == pytest.approx((len(stall) - last) * 1000 / RATE)


def test_quiet_audio_that_runs_dry_gets_silence() -> None:
    buf = rig(Concealer())
    buf.push("a", voiced(100, level=150).tobytes())  # about -47 dBFS: a pause, a breath
    pulls(buf, 20)
    hole = pulls(buf, 6)
    assert silent_ms(hole) == pytest.approx(30)
    assert buf.stats().concealed_bytes == 0


def test_without_a_concealer_a_hole_is_silence() -> None:
    buf = rig(None)  # a WAV file's speaker: its timeline is the reply's
    buf.push("a", voiced(100).tobytes())
    pulls(buf, 20)
    assert silent_ms(pulls(buf, 6)) == pytest.approx(30)


def test_concealment_after_a_replys_last_audio_is_counted_apart() -> None:
    buf = rig(Concealer())
    buf.push("a", voiced(100).tobytes())
    pulls(buf, 20)
    pulls(buf, 4)  # its end has not come yet: 20 ms concealed
    buf.end_item("a")  # response.audio.done, late
    after = pulls(buf, 2)
    assert silent_ms(after) == pytest.approx(10), "the concealment outlived the reply"
    stats = buf.stats()
    assert stats.concealed_bytes == 0 and stats.concealed_tail_bytes == 20 * MS
    assert not buf.busy


def test_a_barge_in_while_concealing_is_silent_at_the_next_pull() -> None:
    buf = rig(Concealer())
    buf.push("a", voiced(100).tobytes())
    pulls(buf, 21)  # 5 ms into the hole
    cut = buf.flush()
    assert [c.played_bytes for c in cut] == [100 * MS]  # the truncate: what was heard of it
    assert silent_ms(pulls(buf, 2)) == pytest.approx(10)
    assert buf.stats().concealed_bytes == 5 * MS  # heard mid-reply


def test_a_reply_start_is_never_concealed() -> None:
    concealer = Concealer()
    buf = JitterBuffer(prefill_bytes=40 * MS, max_bytes=10**8, concealer=concealer)
    buf.push("a", voiced(100).tobytes())
    pulls(buf, 20)
    buf.end_item("a")
    pulls(buf, 1)
    buf.push("b", voiced(20).tobytes())  # the next reply, below its prefill
    assert silent_ms(pulls(buf, 2)) == pytest.approx(10)
    assert not concealer.active


def test_too_little_played_to_find_a_period_in() -> None:
    concealer = Concealer()
    assert not concealer.start(voiced(5).tobytes())
    assert not concealer.active
    block = memoryview(bytearray(b"\xaa" * PULL))
    concealer.fill(block, 0, PULL)
    assert bytes(block) == bytes(PULL)


def test_a_malformed_odd_delta_while_concealing_never_raises_in_the_callback() -> None:
    buf = rig(Concealer())
    buf.push("a", voiced(100).tobytes())
    pulls(buf, 21)  # 5 ms into a hole
    buf.push("a", voiced(10).tobytes()[:101])  # half a sample too many, less than a crossfade
    for size in (PULL, 1001, 3):  # whole and odd pulls, into the hole that follows
        buf.pull_into(memoryview(bytearray(size)))
    assert buf.stats().played_bytes == 100 * MS + 101


def test_a_new_reply_while_the_last_one_is_concealed_starts_as_itself() -> None:
    buf = rig(Concealer())
    buf.push("a", voiced(100).tobytes())
    pulls(buf, 22)  # a ran dry 10 ms ago; its end was lost, the next reply is here
    nxt = voiced(50, start=1234)
    buf.push("b", nxt.tobytes())
    assert np.array_equal(pulls(buf, 10), nxt), "b began with a's concealment in it"
    stats = buf.stats()
    assert stats.concealed_bytes == 0 and stats.concealed_tail_bytes == 10 * MS
