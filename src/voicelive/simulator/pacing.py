"""Input audio is heard at the pace of speech: no faster than ``speedup`` times real time.

The service's detector listens to a stream; a client that appends a whole recording at once
does not get all of it judged in the same instant. So the simulator hands appended audio to
the turn detector in 20 ms slices, each due :data:`SLICE_SAMPLES` / rate / ``speedup`` after
the one before, or on arrival when the client streams no faster than that (a live microphone
is never held back). This matters for the replies: a reply to the first of two questions in
one append gets to speak before the second question barges in, as with the service.

:class:`InputPacer` runs in the connection's event loop: :meth:`push` from the connection
task, the slices from its own task. :meth:`flush` (before a commit or a session change) feeds
everything pending at once, in order; :meth:`drop` forgets it (a clear); :meth:`close` stops it.
The consumer's ``ConnectionClosed`` ends the task quietly; anything else is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from websockets.exceptions import ConnectionClosed

from .audio import Pcm
from .constants import SAMPLE_RATE

logger = logging.getLogger(__name__)

SLICE_SAMPLES = SAMPLE_RATE // 50
"""20 ms of 24 kHz audio: the step at which the detector hears a fast client's audio."""

Consumer = Callable[[Pcm], Awaitable[None]]


class InputPacer:
    def __init__(self, speedup: float, consume: Consumer) -> None:
        self._speedup = speedup
        self._consume = consume
        self._pending: deque[Pcm] = deque()
        self._due = 0.0  # loop time at which the next slice may be heard
        self._hurry = asyncio.Event()  # set while flushing: no more waiting
        self._task: asyncio.Task[None] | None = None

    def push(self, pcm: Pcm) -> None:
        """Queue appended audio (24 kHz mono) behind what is still pending."""
        loop = asyncio.get_running_loop()
        self._due = max(self._due, loop.time())
        for start in range(0, pcm.size, SLICE_SAMPLES):
            self._pending.append(pcm[start : start + SLICE_SAMPLES])
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="simulator input pacing")

    async def flush(self) -> None:
        """Feed everything pending now, in order; returns when it has all been heard."""
        if self._task is None or self._task.done():
            return
        self._hurry.set()
        try:
            await asyncio.wait({self._task})
        finally:
            self._hurry.clear()

    async def drop(self) -> None:
        """Forget the pending audio (the slice being heard, if any, completes first)."""
        self._pending.clear()
        await self.flush()

    async def close(self) -> None:
        self._pending.clear()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task})

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                delay = self._due - loop.time()
                if delay > 0 and not self._hurry.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._hurry.wait()  # the pacing itself, cut short by flush()
                if not self._pending:
                    break
                part = self._pending.popleft()
                self._due += part.size / SAMPLE_RATE / self._speedup
                await self._consume(part)
        except ConnectionClosed:
            self._pending.clear()
        except Exception:
            logger.exception("simulator: hearing input audio failed")
            self._pending.clear()
