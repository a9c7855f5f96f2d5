"""JitterBuffer: push/pull sequences, priming, underruns, flush accounting, bounds."""

from __future__ import annotations

import threading

import pytest

from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.prefill import AdaptivePrefill
from voicelive.protocol.playback import PlaybackEvent, PlaybackNotice


def pull(buf: JitterBuffer, n: int) -> tuple[bytes, PlaybackNotice | None]:
    out = bytearray(b"\xaa" * n)  # garbage, to prove every byte is written
    notice = buf.pull_into(memoryview(out))
    return bytes(out), notice


def test_primes_until_prefill_then_plays_in_order() -> None:
    buf = JitterBuffer(prefill_bytes=8, max_bytes=1000)
    buf.push("a", b"\x01\x02\x03\x04")
    data, notice = pull(buf, 4)
    assert data == b"\0\0\0\0" and notice is None  # below prefill: silence
    buf.push("a", b"\x05\x06\x07\x08")
    data, notice = pull(buf, 6)
    assert data == b"\x01\x02\x03\x04\x05\x06"
    assert notice == PlaybackNotice(PlaybackEvent.STARTED, "a")
    assert buf.playback("a").played_bytes == 6


def test_finished_item_shorter_than_prefill_still_plays() -> None:
    buf = JitterBuffer(prefill_bytes=100, max_bytes=1000)
    buf.push("a", b"\x01\x01")
    buf.end_item("a")
    data, notice = pull(buf, 4)
    assert data == b"\x01\x01\0\0"
    # started and drained in one pull: drained wins, the reply is already over
    assert notice == PlaybackNotice(PlaybackEvent.DRAINED, "a")
    assert not buf.busy


def test_underrun_mid_item_counts_and_pads_with_silence() -> None:
    buf = JitterBuffer(prefill_bytes=0, max_bytes=1000)
    buf.push("a", b"\x01\x02")
    data, _ = pull(buf, 4)
    assert data == b"\x01\x02\0\0"
    assert buf.stats().underruns == 1
    buf.end_item("a")
    data, notice = pull(buf, 4)
    assert data == b"\0\0\0\0" and notice == PlaybackNotice(PlaybackEvent.DRAINED, "a")
    assert buf.stats().underruns == 1  # running dry after the end is not an underrun


def test_flush_reports_played_and_silences_next_pull() -> None:
    buf = JitterBuffer(prefill_bytes=0, max_bytes=10_000)
    buf.push("a", bytes(range(1, 101)))
    pull(buf, 30)
    buf.push("a", b"\x07" * 50)
    cut = buf.flush()
    assert [(c.item_id, c.played_bytes, c.open) for c in cut] == [("a", 30, True)]
    data, _ = pull(buf, 8)
    assert data == bytes(8)
    assert buf.stats().flushes == 1 and not buf.busy


def test_fully_played_items_are_not_reported_as_cut() -> None:
    buf = JitterBuffer(prefill_bytes=0, max_bytes=1000)
    buf.push("a", b"\x01" * 10)
    buf.end_item("a")
    pull(buf, 10)
    buf.push("b", b"\x02" * 10)
    cut = buf.flush()
    assert [c.item_id for c in cut] == ["b"]


def test_overflow_drops_newest_and_counts() -> None:
    buf = JitterBuffer(prefill_bytes=0, max_bytes=10)
    assert buf.push("a", b"\x01" * 8)
    assert not buf.push("a", b"\x02" * 8)
    assert buf.stats().dropped_bytes == 8
    data, _ = pull(buf, 10)
    assert data == b"\x01" * 8 + b"\0\0"


def test_item_change_notifies_started_for_the_new_item() -> None:
    buf = JitterBuffer(prefill_bytes=0, max_bytes=1000)
    buf.push("a", b"\x01\x01")
    buf.end_item("a")
    buf.push("b", b"\x02\x02")
    data, notice = pull(buf, 4)
    assert data == b"\x01\x01\x02\x02" and notice == PlaybackNotice(PlaybackEvent.STARTED, "b")
    assert buf.playback("a").played_bytes == 2 and buf.playback("b").played_bytes == 2


def test_concurrent_push_and_pull_lose_no_bytes() -> None:
    buf = JitterBuffer(prefill_bytes=0, max_bytes=10_000_000)
    chunks = [bytes([i % 251 + 1]) * 97 for i in range(2000)]
    got = bytearray()
    done = threading.Event()

    def consumer() -> None:
        out = bytearray(64)
        mv = memoryview(out)
        while not (done.is_set() and not buf.busy):
            buf.pull_into(mv)
            got.extend(b for b in out if b)  # drop silence padding

    t = threading.Thread(target=consumer)
    t.start()
    for c in chunks:
        buf.push("x", c)
    buf.end_item("x")
    done.set()
    t.join(timeout=30)
    assert not t.is_alive()
    assert bytes(got) == b"".join(chunks)


def test_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        JitterBuffer(prefill_bytes=-1, max_bytes=10)


class Clock:
    """A settable clock for the adaptive prefill's hold."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_adaptive_hold_keeps_a_reply_silent_until_it_has_passed() -> None:
    clock = Clock()
    buf = JitterBuffer(
        prefill_bytes=4, max_bytes=10_000, adaptive=AdaptivePrefill(headroom_ms=0), clock=clock
    )
    buf.push("a", b"\x01" * 48)  # 1 ms of audio
    clock.now += 0.031  # the next 1 ms delta comes 30 ms late: a jittery network
    buf.push("a", b"\x02" * 48)
    buf.end_item("a")
    assert buf.stats().hold_ms == pytest.approx(30)
    pull(buf, 96)  # plays a (complete), then the buffer is dry
    clock.now += 1.0
    buf.push("b", b"\x03" * 8)  # the next reply waits the hold after its first bytes
    data, notice = pull(buf, 8)
    assert data == bytes(8) and notice is None
    clock.now += 0.029
    assert pull(buf, 8)[0] == bytes(8)
    clock.now += 0.002
    data, notice = pull(buf, 8)
    assert data == b"\x03" * 8 and notice == PlaybackNotice(PlaybackEvent.STARTED, "b")


def test_a_complete_reply_plays_at_once_whatever_the_hold() -> None:
    clock = Clock()
    buf = JitterBuffer(prefill_bytes=0, max_bytes=10_000, adaptive=AdaptivePrefill(), clock=clock)
    buf.push("a", b"\x01" * 48)
    clock.now += 0.2
    buf.push("a", b"\x01" * 48)
    buf.end_item("a")
    assert buf.stats().hold_ms > 100
    pull(buf, 96)
    buf.push("b", b"\x02" * 4)
    buf.end_item("b")
    assert pull(buf, 4)[0] == b"\x02" * 4


def test_without_adaptive_prefill_time_plays_no_part() -> None:
    clock = Clock()
    buf = JitterBuffer(prefill_bytes=0, max_bytes=10_000, clock=clock)
    buf.push("a", b"\x01" * 2)
    clock.now += 5.0
    buf.push("a", b"\x01" * 2)
    assert buf.stats().hold_ms == 0
    assert pull(buf, 4)[0] == b"\x01" * 4


def test_after_running_dry_a_reply_plays_again_as_soon_as_its_audio_is_there() -> None:
    clock = Clock()
    buf = JitterBuffer(prefill_bytes=4, max_bytes=10_000, adaptive=AdaptivePrefill(), clock=clock)
    buf.push("z", b"\x03" * 48)  # a clean reply first: no first-reply hold after it
    buf.end_item("z")
    pull(buf, 48)
    clock.now += 1.0
    buf.push("a", b"\x01" * 48)
    assert pull(buf, 48)[0] == b"\x01" * 48
    pull(buf, 48)  # dry: an underrun
    assert buf.stats().underruns == 1
    clock.now += 0.05  # the next 1 ms delta comes 49 ms late: the learned hold is up
    buf.push("a", b"\x02" * 48)
    assert buf.stats().hold_ms > 40
    # A second wait now would only add to the gap the listener already heard.
    assert pull(buf, 48)[0] == b"\x02" * 48
