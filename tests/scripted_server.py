"""A scripted Voice Live server for orchestrator tests and benchmarks (not the simulator).

It answers ``session.created``/``session.update`` like the service and otherwise sends exactly
what the test queues, recording every client event it receives.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.server import ServerConnection


class Scripted:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.outgoing: asyncio.Queue[str | tuple[int, str]] = asyncio.Queue()
        self.send_created = True
        self.update_error: dict[str, Any] | None = None
        self.port = 0
        self.closed_with: int | None = None
        self.session_extra: dict[str, Any] = {}  # more fields for session.created
        self.release_update = asyncio.Event()  # a test may hold session.updated back
        self.release_update.set()
        self.updated_sent = False
        self.connections = 0
        self._cursor: dict[str, int] = {}

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        if self.send_created:
            await ws.send(
                json.dumps(
                    {
                        "type": "session.created",
                        "event_id": "e0",
                        "session": {"id": "sess_1", "model": "gpt-4o", **self.session_extra},
                    }
                )
            )

        async def reader() -> None:
            async for raw in ws:
                event = json.loads(raw)
                self.received.append(event)
                self.arrived.set()
                if event["type"] == "session.update":
                    if self.update_error:
                        await ws.send(
                            json.dumps(
                                {"type": "error", "event_id": "e1", "error": self.update_error}
                            )
                        )
                    else:
                        await self.release_update.wait()
                        self.updated_sent = True
                        await ws.send(
                            json.dumps(
                                {
                                    "type": "session.updated",
                                    "event_id": "e1",
                                    "session": event["session"],
                                }
                            )
                        )

        async def writer() -> None:
            while True:
                item = await self.outgoing.get()
                if isinstance(item, tuple):
                    await ws.close(*item)
                    return
                await ws.send(item)

        tasks = [asyncio.create_task(reader()), asyncio.create_task(writer())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            self.closed_with = ws.close_code

    def send(self, **event: Any) -> None:
        self.outgoing.put_nowait(json.dumps(event))

    async def wait_for(self, type_: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next ``type_`` event received after the one this returned last time."""

        async def look() -> dict[str, Any]:
            while True:
                for index in range(self._cursor.get(type_, 0), len(self.received)):
                    if self.received[index]["type"] == type_:
                        self._cursor[type_] = index + 1
                        return self.received[index]
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(look(), timeout)
