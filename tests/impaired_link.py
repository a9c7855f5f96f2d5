"""A loopback TCP relay that behaves like a bad network: latency, jitter and a one-off stall.

:class:`ImpairedLink` listens on 127.0.0.1:0 and relays every connection to ``target_port``.
Each chunk read in either direction is released ``delay_ms`` plus a uniform random
``0..jitter_ms`` after it arrived, never before the chunk ahead of it (TCP keeps order, so
jitter shows as bunching, as on a real link). :meth:`stall` freezes both directions for a
while: nothing is delivered until it ends, then everything held goes at once. Reproducible with
``seed``. Used by the tests and by ``benchmarks/`` (a real socket, no fakes).

Every chunk relayed from the server to the client is logged in :attr:`ImpairedLink.delivered`
(read and written times, ``loop.time()``, i.e. ``time.monotonic()``, and how many
``response.audio.delta`` events it opens): the link's real delay, what a benchmark compares a
player's playout against.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from dataclasses import dataclass
from types import TracebackType

AUDIO_DELTA = b'"response.audio.delta"'


@dataclass(frozen=True)
class Delivery:
    """One chunk relayed server -> client: read from the server at ``read_at``, written to the
    client at ``sent_at`` (monotonic seconds); ``audio_deltas`` audio delta events begin in it."""

    read_at: float
    sent_at: float
    audio_deltas: int


class ImpairedLink:
    """See the module docstring. ``endpoint`` is ``ws://127.0.0.1:PORT`` (for the simulator)."""

    def __init__(
        self, target_port: int, *, delay_ms: float = 0.0, jitter_ms: float = 0.0, seed: int = 1
    ) -> None:
        self.target_port = target_port
        self.delay_s = delay_ms / 1000
        self.jitter_s = jitter_ms / 1000
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._open = asyncio.Event()
        self._open.set()
        self.port = 0
        self.connections = 0
        self.delivered: list[Delivery] = []
        """Server -> client chunks, in order (all connections)."""

    @property
    def endpoint(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stall(self, seconds: float) -> None:
        """Deliver nothing, either way, for ``seconds`` from now (a one-off freeze)."""
        self._open.clear()
        asyncio.get_running_loop().call_later(seconds, self._open.set)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        for source, sink, down in ((reader, up_writer, False), (up_reader, writer, True)):
            task = asyncio.ensure_future(self._direction(source, sink, down))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _direction(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, down: bool
    ) -> None:
        """Read chunks, stamp their release time, and deliver them in order when due."""
        loop = asyncio.get_running_loop()
        due: asyncio.Queue[tuple[float, float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                read_at, release, data = await due.get()
                wait = release - loop.time()
                if wait > 0:  # the link's delay: a timer to a known moment
                    await asyncio.sleep(wait)  # sleep-ok: the link's delay
                await self._open.wait()
                if not data:
                    sink.close()
                    return
                sink.write(data)
                if down:
                    deltas = data.count(AUDIO_DELTA)
                    self.delivered.append(Delivery(read_at, loop.time(), deltas))
                await sink.drain()

        sender = asyncio.ensure_future(deliver())
        last = 0.0
        try:
            while True:
                data = await source.read(65536)
                read_at = loop.time()
                release = read_at + self.delay_s + self._rng.uniform(0, self.jitter_s)
                last = max(last, release)
                due.put_nowait((read_at, last, data))
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
            sink.close()

    async def __aenter__(self) -> ImpairedLink:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self._open.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.transport.abort()
        await self._server.wait_closed()


class ThreadedLink:
    """An :class:`ImpairedLink` served by its own event loop on a thread, for callers whose
    waits block (the e2e tests, benchmarks/run.py). ``with ThreadedLink(...) as link``."""

    def __init__(
        self, target_port: int, *, delay_ms: float = 0.0, jitter_ms: float = 0.0, seed: int = 1
    ) -> None:
        self._args = (target_port, delay_ms, jitter_ms, seed)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.link: ImpairedLink | None = None
        self._thread = threading.Thread(target=self._run, name="impaired-link", daemon=True)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        port, delay, jitter, seed = self._args
        self._stop = asyncio.Event()
        async with ImpairedLink(port, delay_ms=delay, jitter_ms=jitter, seed=seed) as link:
            self.link = link
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ImpairedLink:
        self._thread.start()
        if not self._ready.wait(10) or self.link is None:
            raise RuntimeError("the impaired link did not start within 10 s")
        return self.link

    def __exit__(self, *exc_info: object) -> None:
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout=10)
