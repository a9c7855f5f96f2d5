"""The per-connection services that the event modules (:mod:`turns`, :mod:`items`) rely on.

Implemented by :class:`~voicelive.simulator.handler.ConnectionHandler`. Everything runs in the
connection's task (plus its response task) on one event loop, so nothing here locks.
"""

from __future__ import annotations

from typing import Protocol

from .conversation import Conversation
from .responder import DeltaJitter
from .transcription import TranscriptOrder
from .wire import IdFactory, JsonDict


class Context(Protocol):
    ids: IdFactory
    api_version: str
    session: JsonDict
    conversation: Conversation
    speedup: float
    jitter: DeltaJitter | None
    transcript_order: TranscriptOrder

    async def send(self, event: JsonDict) -> None:
        """Send a server event; adds ``event_id``, records it. Raises ``ConnectionClosed``."""

    async def send_error(
        self,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        client_event: JsonDict | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        """Send an ``error`` event echoing the client event's ``event_id`` if it had one."""

    async def on_delta(self, count: int) -> None:
        """Called by a response after each delta it sent (fault injection point)."""
