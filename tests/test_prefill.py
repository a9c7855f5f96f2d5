"""AdaptivePrefill: the hold learned from delta arrival times, alone and driving a JitterBuffer.

Times are virtual (seconds); sizes are bytes of 24 kHz PCM16 (48 bytes per ms).
"""

from __future__ import annotations

import random

import pytest

from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.prefill import FIRST_HOLD_MS, HEADROOM_MS, AdaptivePrefill

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


def test_on_a_clean_network_a_reply_plays_on_its_first_delta_after_the_first_reply() -> None:
    underruns, waits = play_replies(adaptive=True, jitter_ms=0)
    assert sum(underruns) == 0
    # The first reply waits its first hold (its second delta, 25 ms later at speedup 4, would
    # have shown that it comes faster than real time). Later replies: the first pull plays.
    assert waits[0] == FIRST_HOLD_MS == 20
    assert max(waits[1:]) == 0


# -------------------------------------------------------------------------------------------
# The first reply through a link of 100 ms + 0..60 ms of jitter (per chunk, TCP-ordered: never
# before the chunk ahead of it), delivered at real time: 100 ms deltas sent every 100 ms.


def first_reply(
    seed: int, delay_ms: float = 100, jitter_ms: float = 60, chunks: int = 25, block_ms: int = 10
) -> tuple[float, float]:
    """Gaps (ms of silence pulled between the reply's first sound and its last byte) and the
    worst playout (ms from a chunk's send to the pull of its first byte) of a session's first
    reply, the device pulling ``block_ms`` every ``block_ms`` at a random phase."""
    rng = random.Random(seed)
    now = [0.0]
    buf = JitterBuffer(
        prefill_bytes=40 * MS, max_bytes=10**9, adaptive=AdaptivePrefill(), clock=lambda: now[0]
    )
    sent = [k * 0.1 for k in range(chunks)]
    arrivals: list[float] = []
    for at in sent:
        link = at + (delay_ms + rng.uniform(0, jitter_ms)) / 1000
        arrivals.append(max(link, arrivals[-1] if arrivals else 0.0))
    out = memoryview(bytearray(block_ms * MS))
    t = arrivals[0] - rng.uniform(0, block_ms / 1000)
    pending, gap_bytes, playout, total = list(arrivals), 0, 0.0, chunks * CHUNK
    while pending or buf.busy:
        now[0] = t
        while pending and pending[0] <= t:
            buf.push("a", bytes(CHUNK))
            pending.pop(0)
            if not pending:
                buf.end_item("a")
        before = buf.stats().played_bytes
        buf.pull_into(out)
        played = buf.stats().played_bytes - before
        if before and before + played < total:
            gap_bytes += len(out) - played
        for k in range(chunks):  # chunks whose first byte this pull handed to the device
            if before <= k * CHUNK < before + played:
                at = t + (k * CHUNK - before) / MS / 1000
                playout = max(playout, (at - sent[k]) * 1000)
        t += block_ms / 1000
    return gap_bytes / MS, playout


def test_a_first_reply_at_real_time_through_100_plus_60_ms_of_jitter_has_at_most_20_ms_gaps() -> (
    None
):
    results = [first_reply(seed) for seed in range(100)]
    gaps = sorted(gap for gap, _ in results)
    # Without the first-reply hold: 80 ms at the median, 150 at worst. Independent jitter per
    # chunk is the hard case (a real link's is correlated, and the relay's first delta waits
    # behind the reply's opening events, so it is mostly late itself: there the same hold had
    # 0-15 ms of gaps in every run, tests/e2e/test_first_reply_audio.py). Here, when the first
    # delta was among the fastest of the reply, it runs dry by up to the jitter less the hold;
    # the device's speaker conceals such a hole inside a word (tests/test_concealment.py).
    assert sum(gap <= 20 for gap in gaps) >= 75, gaps
    assert gaps[-1] <= 60 - FIRST_HOLD_MS and gaps[50] <= 10, gaps
    playouts = sorted(playout for _, playout in results)
    assert playouts[50] <= 100 + 80 - 10, playouts  # one-way delay + 80 ms, with room
    # a first delta that was itself among the latest costs its lateness more: the hold is
    # counted from it
    assert playouts[-1] <= 100 + 60 + FIRST_HOLD_MS + 10, playouts


def test_a_first_reply_that_comes_as_a_burst_plays_as_soon_as_its_second_delta_is_in() -> None:
    now = [5.0]
    buf = JitterBuffer(
        prefill_bytes=40 * MS, max_bytes=10**9, adaptive=AdaptivePrefill(), clock=lambda: now[0]
    )
    out = memoryview(bytearray(10 * MS))
    buf.push("a", bytes(CHUNK))
    assert buf.pull_into(out) is None  # one delta: nothing says yet how the link delivers
    assert buf.stats().played_bytes == 0
    now[0] += 0.001
    buf.push("a", bytes(CHUNK))  # 100 ms of audio within 1 ms: far ahead of real time
    buf.pull_into(out)
    assert buf.stats().played_bytes == 10 * MS


def test_the_first_reply_holds_from_the_earliest_schedule_its_deltas_show() -> None:
    prefill = AdaptivePrefill(first_hold_ms=40)
    assert prefill.play_at() == 0  # no reply
    feed(prefill, "a", [1000])
    assert prefill.play_at() == pytest.approx(1.040)
    feed(prefill, "a", [1070])  # 100 ms of audio 70 ms later: the first came 30 ms late
    assert prefill.play_at() == pytest.approx(1.010)
    prefill.finish("a")
    feed(prefill, "b", [5000])
    assert prefill.play_at() == 0  # a clean reply was seen: no first-reply hold any more
