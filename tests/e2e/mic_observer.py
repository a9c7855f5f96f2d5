"""A loopback WebSocket relay that sees the microphone audio on its way to the simulator.

The simulator's record elides audio; some tests need the samples themselves (where a known
sound landed on the input's time line) and the moment each append arrived. The relay sits
between the client and ``voicelive simulate``: it forwards every frame both ways unchanged and
keeps, for each ``input_audio_buffer.append``, its arrival time (``time.monotonic()``) and
decoded PCM. It runs its own event loop on a helper thread; use it as a context manager.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve


@dataclass(frozen=True)
class Append:
    at: float
    """``time.monotonic()`` when the relay received it."""
    pcm: bytes


class MicObserver:
    """Relay ``ws://127.0.0.1:<port>`` (:attr:`url`) to ``upstream``, keeping every append."""

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream
        self.port = 0  # bound in _serve: port 0 leaves no window for another process
        self.url = ""
        self.appends: list[Append] = []
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, name="mic-observer", daemon=True)

    def __enter__(self) -> MicObserver:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the relay did not start within 10 s")
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop = self._stop

        def end() -> None:
            if stop is not None and not stop.done():
                stop.set_result(None)

        self._loop.call_soon_threadsafe(end)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = self._loop.create_future()
        async with serve(self._relay, "127.0.0.1", 0, max_size=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self.url = f"ws://127.0.0.1:{self.port}"
            self._ready.set()
            await self._stop

    async def _relay(self, client: ServerConnection) -> None:
        path = client.request.path if client.request is not None else "/"
        headers = {k: v for k, v in client.request.headers.raw_items()} if client.request else {}
        extra = {k: v for k, v in headers.items() if k.lower() in ("api-key", "authorization")}
        async with connect(
            self._upstream + path, additional_headers=extra, max_size=None
        ) as server:

            async def upward() -> None:
                async for message in client:
                    if isinstance(message, str) and '"input_audio_buffer.append"' in message:
                        event = json.loads(message)
                        if event.get("type") == "input_audio_buffer.append":
                            self._keep(base64.b64decode(event["audio"]))
                    await server.send(message)

            async def downward() -> None:
                async for message in server:
                    await client.send(message)

            tasks = [asyncio.ensure_future(upward()), asyncio.ensure_future(downward())]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()

    def _keep(self, pcm: bytes) -> None:
        with self._changed:
            self.appends.append(Append(time.monotonic(), pcm))
            self._changed.notify_all()

    def audio_ms(self) -> int:
        with self._changed:
            return sum(len(a.pcm) for a in self.appends) // 48

    def wait_audio_ms(self, ms: int, timeout: float) -> bool:
        """Wait until ``ms`` of audio (24 kHz PCM16) arrived; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: sum(len(a.pcm) for a in self.appends) // 48 >= ms, timeout
            )

    def samples(self) -> npt.NDArray[np.int16]:
        """Every sample received so far, in order: the input's time line."""
        with self._changed:
            return np.frombuffer(b"".join(a.pcm for a in self.appends), "<i2")
