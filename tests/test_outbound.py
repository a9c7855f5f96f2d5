"""The one ordered way out (connection/outbound.py): order, bounds, put-back, the timeline."""

from __future__ import annotations

import asyncio
import contextlib
import struct

from voicelive.connection.outbound import CAPTURE_QUEUE_MS, Outbound
from voicelive.protocol.pcm import BYTES_PER_MS, bytes_of

BLOCK = bytes(20 * BYTES_PER_MS)  # 20 ms of PCM16 mono


def numbered(i: int, ms: int = 100) -> bytes:
    return bytes(bytes_of(ms) - 2) + struct.pack("<h", i)


def number(block: bytes | dict[str, object]) -> int:
    assert isinstance(block, bytes)
    return int(struct.unpack("<h", block[-2:])[0])


async def drain(out: Outbound) -> list[bytes | dict[str, object]]:
    items = []
    while True:
        try:
            async with asyncio.timeout(0.05):
                items.append(await out.get())
        except TimeoutError:
            return items


async def test_a_commit_cannot_overtake_the_audio_queued_before_it() -> None:
    out = Outbound()
    out.audio(BLOCK)
    out.audio(BLOCK)
    out.event({"type": "input_audio_buffer.commit"})
    out.event({"type": "response.create"})
    out.audio(BLOCK)
    kinds = [i["type"] if isinstance(i, dict) else "audio" for i in await drain(out)]
    assert kinds == ["audio", "audio", "input_audio_buffer.commit", "response.create", "audio"]


async def test_audio_is_bounded_in_ms_keeping_the_newest_and_never_events() -> None:
    out = Outbound()
    limit = CAPTURE_QUEUE_MS // 100
    out.event({"type": "conversation.item.truncate"})
    for i in range(limit + 3):
        out.audio(numbered(i))
    assert out.dropped_late_ms == 300
    items = await drain(out)
    assert items[0] == {"type": "conversation.item.truncate"}  # events are never dropped
    assert [number(b) for b in items[1:]] == list(range(3, limit + 3))
    assert sum(len(b) for b in items[1:] if isinstance(b, bytes)) == bytes_of(CAPTURE_QUEUE_MS)


async def test_a_stereo_queue_counts_ms_of_both_channels_together() -> None:
    out = Outbound(max_audio_ms=100, channels=2)
    for _ in range(3):
        out.audio(bytes(bytes_of(100) * 2))
    assert out.dropped_late_ms == 200


async def test_get_waits_and_a_cancelled_wait_takes_nothing() -> None:
    out = Outbound()
    waiting = asyncio.ensure_future(out.get())
    await asyncio.sleep(0)  # let it start waiting: nothing is queued
    assert not waiting.done()
    waiting.cancel()
    out.audio(BLOCK)
    async with asyncio.timeout(1):
        assert await out.get() == BLOCK


async def test_an_unfinished_send_is_put_back_first() -> None:
    out = Outbound()
    out.audio(numbered(1))
    out.audio(numbered(2))
    first = await out.get()
    out.unget(first)  # the send was cancelled by a rollover's switch
    assert [number(b) for b in await drain(out)] == [1, 2]


async def test_a_replay_goes_ahead_of_queued_audio_and_stale_events_are_dropped() -> None:
    out = Outbound()
    out.audio(numbered(1))
    out.event({"type": "conversation.item.truncate"})  # meant for the old session
    assert out.drop_events() == ["conversation.item.truncate"]
    out.events_first([{"type": "conversation.item.create", "n": 1}, {"type": "x", "n": 2}])
    items = await drain(out)
    assert [i["n"] for i in items[:2] if isinstance(i, dict)] == [1, 2]
    assert number(items[2]) == 1


async def test_dropping_audio_keeps_events_and_counts_ms() -> None:
    out = Outbound()
    out.audio(BLOCK)
    out.event({"type": "response.cancel"})
    out.audio(BLOCK)
    assert out.drop_audio() == 40
    assert await drain(out) == [{"type": "response.cancel"}]
    out.audio(BLOCK)  # the bound's bookkeeping survived the drop
    assert out.drop_audio() == 20


def test_the_session_input_timeline_counts_only_sent_audio_and_restarts() -> None:
    out = Outbound()
    out.sent(BLOCK)
    out.sent({"type": "response.create"})
    out.sent(BLOCK)
    assert out.sent_audio_ms == 40
    out.new_session()
    assert out.sent_audio_ms == 0


async def test_a_send_cut_short_by_a_switch_goes_first_to_the_next_session() -> None:
    """A rollover cancels the old session's sender mid-send: that block is not lost."""
    out = Outbound()
    for i in range(3):
        out.audio(numbered(i))
    old: list[int] = []
    stuck = asyncio.Event()

    async def old_send(item: bytes | dict[str, object]) -> None:
        if old:  # the second send hangs, as a slow socket's drain does
            stuck.set()
            await asyncio.Future()
        old.append(number(item))

    pump = asyncio.ensure_future(out.pump(old_send))
    async with asyncio.timeout(1):
        await stuck.wait()
    pump.cancel()  # the switch
    with contextlib.suppress(asyncio.CancelledError):
        await pump
    new: list[int] = []

    async def new_send(item: bytes | dict[str, object]) -> None:
        new.append(number(item))
        if len(new) == 2:
            raise ConnectionError("stop the pump")

    with contextlib.suppress(ConnectionError):
        async with asyncio.timeout(1):
            await out.pump(new_send)
    assert (old, new) == ([0], [1, 2])
    assert out.sent_audio_ms == 200  # blocks 0 and 1 finished sending; 2 raised
