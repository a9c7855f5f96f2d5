"""Pause trimming: a reply that waited longer than the link needed takes the excess back out
of its pauses; alone and driving a JitterBuffer with an adaptive prefill.

Times are virtual (seconds); sizes are bytes of 24 kHz PCM16 (48 bytes per ms).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from voicelive.audio.jitter import TRIM_MARGIN_MS, JitterBuffer
from voicelive.audio.pause_trim import CROSSFADE_MS, KEEP_MS, trim_pause
from voicelive.audio.prefill import HEADROOM_MS, AdaptivePrefill

RATE = 24_000
MS = 48


def tone(ms: int, level: float = 8000.0) -> bytes:
    t = np.arange(ms * RATE // 1000) / RATE
    return (level * np.sin(2 * np.pi * 200 * t)).astype("<i2").tobytes()


def hush(ms: int) -> bytes:
    """A pause: -56 dBFS of noise, as a reply's quiet between words."""
    rng = np.random.default_rng(ms)
    return rng.normal(0, 50, ms * RATE // 1000).astype("<i2").tobytes()


def test_a_pause_is_shortened_and_the_speech_around_it_is_untouched() -> None:
    before, pause, after = tone(40), hush(100), tone(40)
    trim = trim_pause(before + pause + after, 30 * MS)
    assert trim.removed == 30 * MS
    assert len(trim.pcm) == len(before + pause + after) - 30 * MS
    assert trim.pcm.startswith(before + pause[: int(KEEP_MS * MS)])
    assert trim.pcm.endswith(pause[-int(KEEP_MS * MS) :] + after)
    assert trim.at >= len(before) + KEEP_MS * MS  # the cut is inside the pause


def test_a_pause_keeps_its_ends_however_much_is_wanted() -> None:
    pcm = tone(40) + hush(50) + tone(40)
    trim = trim_pause(pcm, 1000 * MS)
    room = (50 - 2 * KEEP_MS - CROSSFADE_MS) * MS
    assert 0 < trim.removed <= room
    assert trim.removed >= room - 2.5 * MS  # the run is found to its 2.5 ms piece


def test_speech_without_a_pause_is_never_cut() -> None:
    pcm = tone(100)
    assert trim_pause(pcm, 30 * MS) == (pcm, 0, 0)
    short = tone(40) + hush(20) + tone(40)  # a gap between syllables: too short to cut
    assert trim_pause(short, 30 * MS).removed == 0


# -------------------------------------------------------------------------------------------
# Driving a jitter buffer: a device pulling 5 ms every 5 ms, 100 ms deltas at real time.

DELTA = 100


def reply_audio(n: int) -> list[bytes]:
    """``n`` 100 ms deltas, each 60 ms of speech and a 40 ms pause."""
    return [tone(60) + hush(40) for _ in range(n)]


def play(
    buf: JitterBuffer,
    now: list[float],
    item: str,
    arrivals_ms: Sequence[float],
    deltas: list[bytes],
) -> tuple[float, int]:
    """Plays one reply to its end; (ms from its first delta to its first sound, bytes the
    device got)."""
    t0 = now[0] = now[0] + 1.0
    out = memoryview(bytearray(5 * MS))
    pending = [(t0 + a / 1000, d) for a, d in zip(arrivals_ms, deltas, strict=True)]
    heard: float | None = None
    device = 0
    while pending or buf.busy:
        while pending and pending[0][0] <= now[0]:
            buf.push(item, pending.pop(0)[1])
            if not pending:
                buf.end_item(item)
        before = buf.stats().played_bytes
        buf.pull_into(out)
        if buf.stats().played_bytes > before:
            device += buf.stats().played_bytes - before
            if heard is None:
                heard = (now[0] - t0) * 1000
        now[0] += 0.005
    assert heard is not None
    return heard, device


def rig() -> tuple[JitterBuffer, list[float]]:
    now = [0.0]
    buf = JitterBuffer(
        prefill_bytes=40 * MS, max_bytes=10**9, adaptive=AdaptivePrefill(), clock=lambda: now[0]
    )
    return buf, now


def test_a_reply_whose_first_delta_was_late_takes_the_excess_wait_back_from_its_pauses() -> None:
    buf, now = rig()
    # A jittery reply: its fastest delta 60 ms ahead of its slowest. The hold learned: 60 + 20.
    play(buf, now, "a", [0, 100, 140, 300, 400], reply_audio(5))
    hold = buf.stats().hold_ms
    assert hold == pytest.approx(60 + HEADROOM_MS)
    # The next reply's first delta was itself 50 ms late, which only the deltas after its
    # start show (the next comes 10 ms sooner than it says, the rest 50 ms sooner). It waits
    # its hold, then takes the 50 ms (less the margin) back from its pauses.
    arrivals = [0, 90, 150] + [100 * k - 50 for k in range(3, 10)]
    first_sound, device = play(buf, now, "b", arrivals, reply_audio(10))
    assert first_sound == pytest.approx(hold, abs=5)  # a 5 ms pull
    trimmed = buf.stats().trimmed_bytes
    # (deltas are pushed on the 5 ms pull grid: the excess is seen to within a pull)
    assert trimmed == pytest.approx((50 - TRIM_MARGIN_MS) * MS, abs=5 * MS)
    assert device == 1000 * MS - trimmed  # the device played that much less...
    assert buf.playback("b").played_bytes == 1000 * MS  # ...and the truncate's count is whole
    assert buf.stats().underruns == 0


def test_the_first_reply_and_a_burst_are_never_trimmed() -> None:
    buf, now = rig()
    play(buf, now, "a", [0, 100, 140, 300, 400], reply_audio(5))  # the first reply
    assert buf.stats().trimmed_bytes == 0
    play(buf, now, "b", [0, 1, 2, 3, 4, 5], reply_audio(6))  # 600 ms within 5 ms
    assert buf.stats().trimmed_bytes == 0


def second_reply_trimmed(buf: JitterBuffer, now: list[float], out: memoryview) -> None:
    """After a jittery first reply, a second whose second delta comes 15 ms sooner than its
    first said: 10 ms to trim, from that delta, in its pause (60 + 10 ms into it)."""
    play(buf, now, "a", [0, 100, 140, 300, 400], reply_audio(5))
    first, second = reply_audio(2)
    now[0] += 1.0
    buf.push("b", first)
    for _ in range(17):  # its 80 ms hold, then 5 ms of it
        buf.pull_into(out)
        now[0] += 0.005
    buf.push("b", second)


def test_a_cut_inside_a_barge_in_counts_only_once_played_past() -> None:
    buf, now = rig()
    out = memoryview(bytearray(5 * MS))
    second_reply_trimmed(buf, now, out)
    while buf.playback("b").played_bytes < 50 * MS:
        buf.pull_into(out)
        now[0] += 0.005
    assert buf.stats().trimmed_bytes == 0  # the cut is in the second delta, not played yet
    cut = buf.flush()
    assert [c.played_bytes for c in cut] == [50 * MS]  # what was heard, nothing more


def test_a_barge_in_after_a_cut_was_played_past_counts_it_as_heard() -> None:
    buf, now = rig()
    out = memoryview(bytearray(5 * MS))
    second_reply_trimmed(buf, now, out)
    while buf.stats().trimmed_bytes == 0:  # play into the second delta, past its cut
        buf.pull_into(out)
        now[0] += 0.005
    device = buf.stats().played_bytes  # what the speaker really took of b (and of a)
    trimmed = buf.stats().trimmed_bytes
    assert trimmed == pytest.approx(10 * MS, abs=5 * MS)
    cut = buf.flush()
    # the truncate is in b's own time: what the device played of it, plus the cut it passed
    played_of_b = device - 500 * MS
    assert [c.played_bytes for c in cut] == [played_of_b + trimmed]
