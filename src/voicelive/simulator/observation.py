"""What tests in the same process can observe of each connection the simulator accepted.

A :class:`ConnectionLog` is created per accepted WebSocket connection (numbered from 1 in
acceptance order) and filled by its handler: the client events it received (audio elided), its
session id, its conversation, how it ended. Loop-confined like the rest of the simulator.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .conversation import Conversation
from .wire import JsonDict


@dataclass(eq=False)
class ConnectionLog:
    """One accepted connection as the simulator saw it.

    ``received``: its client events in arrival order, base64 audio replaced by
    ``{"audio_bytes": N}`` (the oldest are dropped when the simulator's event budget is full;
    ``dropped_events`` counts them). ``close_code``/``close_reason`` are set when the
    connection has ended (1006 for an abort), then ``closed`` is set.
    """

    index: int
    """1-based number of the connection, in the order the simulator accepted them."""
    api_version: str
    query: dict[str, str]
    """Handshake query parameters, secrets redacted."""
    session_id: str | None = None
    expires_at: int | None = None
    """Unix seconds when this connection's session is closed by an expiry fault, if any."""
    received: list[JsonDict] = field(default_factory=list)
    dropped_events: int = 0
    close_code: int | None = None
    close_reason: str | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    conversation: Conversation | None = None
    """The session's conversation (items in order); after the close, without audio samples."""

    def of_type(self, type_: str) -> list[JsonDict]:
        """The received client events of ``type_``, in arrival order."""
        return [event for event in self.received if event.get("type") == type_]

    def created_items(self) -> list[Any]:
        """The ``item`` of every ``conversation.item.create`` received, in arrival order."""
        return [event.get("item") for event in self.of_type("conversation.item.create")]

    def ended(self, code: int | None, reason: str | None) -> None:
        self.close_code, self.close_reason = code, reason
        if self.conversation is not None:
            self.conversation.release_all_audio()  # a closed session's audio is never read
        self.closed.set()
