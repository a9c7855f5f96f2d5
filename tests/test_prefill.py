"""AdaptivePrefill: the hold learned from delta arrival times, alone and driving a JitterBuffer.

Times are virtual (seconds); sizes are bytes of 24 kHz PCM16 (48 bytes per ms).
"""

from __future__ import annotations

import random

import pytest

from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.prefill import HEADROOM_MS, AdaptivePrefill

MS = 48
CHUNK = 100 * MS  # the service's (and the simulator's) delta size: 100 ms


def feed(prefill: AdaptivePrefill, item: str, arrivals_ms: list[float], size: int = CHUNK) -> None:
    for t in arrivals_ms:
        prefill.arrived(item, t / 1000, size)


def test_a_burst_faster_than_real_time_needs_no_hold() -> None:
    prefill = AdaptivePrefill()
    feed(prefill, "a", [0, 1, 2, 3, 4, 5])  # 600 ms of audio within 5 ms
    prefill.finish("a")
    assert prefill.hold_ms == 0


def test_real_time_pacing_with_scheduling_noise_needs_no_hold() -> None:
    prefill = AdaptivePrefill()
    feed(prefill, "a", [0, 100.5, 201, 300.2, 401.5])  # at most 1.5 ms late
    assert prefill.hold_ms == 0


def test_a_late_delta_raises_the_hold_already_during_its_reply() -> None:
    prefill = AdaptivePrefill()
    feed(prefill, "a", [0, 130])  # the second delta is 30 ms late for a start on the first
    assert prefill.lateness_ms == pytest.approx(30)
    assert prefill.hold_ms == pytest.approx(30 + HEADROOM_MS)


def test_the_hold_is_bounded() -> None:
    prefill = AdaptivePrefill(max_ms=400)
    feed(prefill, "a", [0, 2000])
    assert prefill.hold_ms == 400


def test_clean_replies_bring_the_hold_back_to_zero_after_the_window() -> None:
    prefill = AdaptivePrefill(window=3)
    feed(prefill, "jittery", [0, 150])
    prefill.finish("jittery")
    assert prefill.hold_ms > 0
    for n in range(3):
        assert prefill.hold_ms > 0, n
        feed(prefill, f"clean{n}", [0, 1, 2])
        prefill.finish()
    assert prefill.hold_ms == 0


def test_a_pause_far_ahead_of_real_time_does_not_count() -> None:
    # 1 s of audio within 10 ms, then a 500 ms pause (the service thinking): 490 ms still
    # queued when the next delta comes, which could not have run dry.
    prefill = AdaptivePrefill()
    feed(prefill, "a", [*range(10), 510, 511])
    assert prefill.hold_ms == 0


def test_a_gap_close_to_the_real_time_edge_counts_even_late_in_a_reply() -> None:
    # Real-time pacing, then one delta 60 ms late: a reply starting there would run dry.
    prefill = AdaptivePrefill()
    feed(prefill, "a", [0, 100, 200, 300, 460, 500])
    assert prefill.lateness_ms == pytest.approx(60)


def test_the_start_of_the_next_reply_is_a_fresh_schedule() -> None:
    prefill = AdaptivePrefill()
    feed(prefill, "a", [0, 1])
    feed(prefill, "b", [5000, 5001])  # long after a's schedule: not late, a new reply
    assert prefill.hold_ms == 0


def test_finishing_another_item_keeps_the_current_reply() -> None:
    prefill = AdaptivePrefill(window=1)
    feed(prefill, "a", [0, 150])
    prefill.finish("b")
    feed(prefill, "a", [200])  # still a's schedule: 50 ms late at 200 ms, no new anchor
    assert prefill.lateness_ms == pytest.approx(50)
    prefill.finish("a")
    prefill.finish("a")  # idempotent
    assert prefill.lateness_ms == pytest.approx(50)


def test_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError):
        AdaptivePrefill(window=0)
    with pytest.raises(ValueError):
        AdaptivePrefill(max_ms=-1)


# -------------------------------------------------------------------------------------------
# Driving a jitter buffer: a device pulling 5 ms every 5 ms, replies arriving as the
# simulator sends them (100 ms deltas at speedup 4, each held back a further random
# 0..jitter_ms, accumulating), one reply per second of quiet.


def play_replies(
    adaptive: bool, jitter_ms: float, replies: int = 30, seed: int = 7
) -> tuple[list[int], list[float]]:
    """Underruns per reply, and ms from each reply's first delta to its first sound."""
    rng = random.Random(seed)
    now = [0.0]
    buf = JitterBuffer(
        prefill_bytes=40 * MS,
        max_bytes=10**9,
        adaptive=AdaptivePrefill() if adaptive else None,
        clock=lambda: now[0],
    )
    out = memoryview(bytearray(5 * MS))
    underruns: list[int] = []
    first_sound: list[float] = []
    t = 0.0
    for reply in range(replies):
        item, lag = f"item{reply}", 0.0
        arrivals = []
        for k in range(25):  # 2.5 s replies
            lag += rng.uniform(0, jitter_ms / 1000)
            arrivals.append(t + k * 0.025 + lag)
        before = buf.stats().underruns
        heard: float | None = None
        pending = list(arrivals)
        while pending or buf.busy:
            now[0] = t
            while pending and pending[0] <= t:
                buf.push(item, bytes(CHUNK))
                pending.pop(0)
                if not pending:
                    buf.end_item(item)
            played = buf.stats().played_bytes
            buf.pull_into(out)
            if heard is None and buf.stats().played_bytes > played:
                heard = (t - arrivals[0]) * 1000
            t += 0.005
        underruns.append(buf.stats().underruns - before)
        assert heard is not None
        first_sound.append(heard)
        t += 1.0
    return underruns, first_sound


def test_with_100_ms_of_jitter_underruns_stop_after_a_few_replies() -> None:
    fixed, _ = play_replies(adaptive=False, jitter_ms=100)
    learned, waits = play_replies(adaptive=True, jitter_ms=100)
    assert sum(fixed[5:]) >= 5  # the fixed 40 ms prefill keeps running dry
    assert sum(learned[5:]) == 0, learned
    assert max(waits) <= 400


def test_on_a_clean_network_a_reply_plays_on_its_first_delta() -> None:
    underruns, waits = play_replies(adaptive=True, jitter_ms=0)
    assert sum(underruns) == 0
    assert max(waits) == 0  # the first pull after the first delta already plays it
