"""The one ordered way out: everything the client sends, in the order the service will see it.

Microphone audio (from the audio pipeline) and client events (from the dispatcher: commits,
truncates, cancels, messages, the replay of a new session) share one FIFO, and one sender
task (the supervisor's, for whichever connection is current) empties it. So a manual turn's
``input_audio_buffer.commit`` cannot overtake the audio recorded before it, and a truncate
cannot overtake the cancel queued before it.

Bounds: at most ``max_audio_ms`` of microphone audio waits (beyond that the network is
hopelessly behind): the oldest audio goes first, and is counted. Client events are never
dropped by the bound; they are few and each matters.

A send that was cancelled before it finished (a rollover switching sessions, a quit) puts
its item back at the front with :meth:`Outbound.unget`, so the next session gets it: a
rollover loses no block. (A send cancelled while draining has already written its frame, so
the old session may get that one block too: at a rollover's quiet moment, 20 ms sent twice,
to two sessions, is the cheaper error.) What a new session must not get (events meant for
the old one, audio from a gap) is dropped by the supervisor with
:meth:`Outbound.drop_events` and :meth:`Outbound.drop_audio`.

Loop thread only. :meth:`Outbound.get` is cancel-safe: a cancelled wait takes nothing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from voicelive.protocol.pcm import BYTES_PER_MS

CAPTURE_QUEUE_MS = 1000
"""At most 1 s of microphone audio waits for the connection: beyond that the network is
hopelessly behind, and the oldest goes first. Counted in audio, not blocks: a block may be
one 20 ms read or a batch of quiet ones (:mod:`voicelive.audio.quiet_batcher`)."""

Item = bytes | dict[str, Any]
"""Microphone audio (PCM16, ``channels`` interleaved) or a client event."""


class Outbound:
    """See the module docstring. ``channels``: 2 when blocks carry an echo reference."""

    def __init__(self, max_audio_ms: int = CAPTURE_QUEUE_MS, channels: int = 1) -> None:
        self._items: deque[Item] = deque()
        self._ready = asyncio.Event()
        self._bytes_per_ms = BYTES_PER_MS * channels
        self._max_audio = max_audio_ms * self._bytes_per_ms
        self._audio_bytes = 0
        self._audio_blocks = 0
        self._sent_audio = 0
        self.dropped_late_ms = 0
        """Audio dropped because the connection could not keep up with the microphone."""

    def audio(self, block: bytes) -> None:
        """Queue microphone audio; beyond the bound the oldest audio is dropped (counted)."""
        self._put(block)
        while self._audio_bytes > self._max_audio and self._audio_blocks > 1:
            self.dropped_late_ms += self._remove_oldest_audio() // self._bytes_per_ms

    def event(self, event: dict[str, Any]) -> None:
        """Queue a client event behind everything queued before it."""
        self._put(event)

    def events_first(self, events: Iterable[dict[str, Any]]) -> None:
        """Queue ``events`` ahead of everything queued, in their order (a session's replay)."""
        self._items.extendleft(reversed(list(events)))
        if self._items:
            self._ready.set()

    async def get(self) -> Item:
        """The oldest item, waiting for one. Cancel-safe."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, bytes):
            self._audio_bytes -= len(item)
            self._audio_blocks -= 1
        return item

    async def pump(self, send: Callable[[Item], Awaitable[None]]) -> None:
        """Send every item in order with ``send``, until cancelled (or ``send`` raises).

        A send cut short by a cancel puts its item back (:meth:`unget`): the next pump (the
        next session's) sends it first. A send that raises loses its item: the connection
        it was for is gone, and the supervisor decides what the next one gets.
        """
        while True:
            item = await self.get()
            try:
                await send(item)
            except asyncio.CancelledError:
                self.unget(item)
                raise
            self.sent(item)

    def unget(self, item: Item) -> None:
        """Put back an item whose send did not finish: it goes first next time."""
        self._items.appendleft(item)
        if isinstance(item, bytes):
            self._audio_bytes += len(item)
            self._audio_blocks += 1
        self._ready.set()

    def sent(self, item: Item) -> None:
        """The sender finished sending ``item`` on the current session."""
        if isinstance(item, bytes):
            self._sent_audio += len(item)

    @property
    def sent_audio_ms(self) -> int:
        """Microphone audio sent to the current session: its input timeline, in ms."""
        return self._sent_audio // self._bytes_per_ms

    def new_session(self) -> None:
        """A new session starts: its input audio timeline starts at 0."""
        self._sent_audio = 0

    def drop_events(self) -> list[str]:
        """Drop the queued client events (meant for a session that is gone); their types."""
        dropped = [i["type"] for i in self._items if isinstance(i, dict)]
        if dropped:
            self._items = deque(i for i in self._items if isinstance(i, bytes))
        return dropped

    def drop_audio(self) -> int:
        """Drop the queued microphone audio (no session to take it); returns its ms."""
        dropped = self._audio_bytes // self._bytes_per_ms
        if self._audio_blocks:
            self._items = deque(i for i in self._items if not isinstance(i, bytes))
            self._audio_bytes = self._audio_blocks = 0
        return dropped

    def _put(self, item: Item) -> None:
        self._items.append(item)
        if isinstance(item, bytes):
            self._audio_bytes += len(item)
            self._audio_blocks += 1
        self._ready.set()

    def _remove_oldest_audio(self) -> int:
        for index, item in enumerate(self._items):
            if isinstance(item, bytes):
                del self._items[index]
                self._audio_bytes -= len(item)
                self._audio_blocks -= 1
                return len(item)
        return 0  # unreachable while _audio_blocks > 0
