"""Fault scenarios: when each one fires and what it does to the connection.

Every handshake: ``http-401``, ``http-403``, ``http-404``, ``http-429`` answer with that HTTP
status instead of the upgrade (JSON body like Azure's; 429 adds ``Retry-After: 2``).

Every connection: ``slow-session-created`` sends ``session.created`` only after
``fault_after_s``; ``expire`` closes with 1001 ``session_expired`` after ``fault_after_s``
(and ``session.expires_at`` says so on 2026-07-15).

Once, ``fault_after_s`` after ``session.created``: ``close-1011`` closes with 1011;
``benign-error`` sends an ``error`` with code ``response_cancel_not_active``;
``serious-error`` sends an ``error`` of type ``server_error``. The session goes on after both.

Once, in the first reply right after its second delta: ``drop-mid-reply`` aborts the TCP
connection (no close frame); ``malformed-frame`` sends a text frame that is not JSON;
``binary-frame`` a binary frame; ``unknown-event`` a well-formed event of an unknown type;
``huge-event`` a 2 MiB event (unknown type ``simulator.huge_event`` with a padding field).

"Once" means once per :class:`~voicelive.simulator.Simulator`, so a client that reconnects
finds a healthy service. Runs in the simulator's event loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from .options import HANDSHAKE_FAULTS, MID_REPLY_FAULTS, TIMED_FAULTS, SimulatorOptions
from .wire import JsonDict, error_event

HUGE_EVENT_BYTES = 2 * 1024 * 1024


class FaultSender(Protocol):
    async def send(self, event: JsonDict) -> None: ...

    async def send_raw(self, data: str | bytes, record_as: JsonDict) -> None: ...


class FaultPlan:
    """Which fault applies and whether a once-only fault has fired. Loop-confined."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.name = options.fault
        self.after_s = options.fault_after_s
        self._fired = False

    @property
    def handshake_status(self) -> int | None:
        return HANDSHAKE_FAULTS.get(self.name or "")

    @property
    def session_created_delay(self) -> float:
        return self.after_s if self.name == "slow-session-created" else 0.0

    @property
    def expire_after(self) -> float | None:
        return self.after_s if self.name == "expire" else None

    @property
    def has_timed(self) -> bool:
        return self.name in TIMED_FAULTS or self.name == "expire"

    def claim(self, kinds: frozenset[str]) -> str | None:
        """The fault name if it is of ``kinds`` and has not fired yet; marks it fired."""
        if self.name in kinds and not self._fired:
            self._fired = True
            return self.name
        return None


def handshake_body(status: int, message: str | None = None) -> tuple[str, dict[str, str]]:
    """JSON body and extra headers for a refused handshake, shaped like Azure's."""
    messages = {
        401: "Access denied due to invalid subscription key or wrong API endpoint.",
        403: "The principal does not have access to this resource (missing role).",
        404: "Resource not found.",
        429: "Rate limit is exceeded. Try again in 2 seconds.",
    }
    body = json.dumps(
        {"error": {"code": str(status), "message": message or messages.get(status, "Error")}}
    )
    headers = {"Retry-After": "2"} if status == 429 else {}
    return body, headers


async def run_timed(ws: ServerConnection, out: FaultSender, plan: FaultPlan) -> None:
    """Fire the connection's timed fault after ``fault_after_s``. Cancel-safe (just stops)."""
    await asyncio.sleep(plan.after_s)
    try:
        if plan.expire_after is not None:
            await ws.close(1001, "session_expired")
            return
        name = plan.claim(TIMED_FAULTS)
        if name == "close-1011":
            await ws.close(1011, "internal server error")
        elif name == "benign-error":
            await out.send(
                error_event(
                    "Cancellation failed: no active response found",
                    code="response_cancel_not_active",
                )
            )
        elif name == "serious-error":
            await out.send(
                error_event(
                    "The server had an error while processing your request.",
                    code="server_error",
                    error_type="server_error",
                )
            )
    except ConnectionClosed:
        pass


async def inject_mid_reply(ws: ServerConnection, out: FaultSender, plan: FaultPlan) -> None:
    """Inject the mid-reply fault if it is due (first call only). Raises ``ConnectionClosed``."""
    name = plan.claim(MID_REPLY_FAULTS)
    if name is None:
        return
    if name == "drop-mid-reply":
        # No close frame, no FIN handshake: what a network failure looks like to the client.
        ws.transport.abort()
        raise ConnectionClosed(None, None)
    if name == "malformed-frame":
        text = '{"type": "response.audio.delta", "delta": "AAAA'
        await out.send_raw(text, {"malformed_text": text})
    elif name == "binary-frame":
        data = bytes(range(256)) * 4
        await out.send_raw(data, {"binary_bytes": len(data)})
    elif name == "unknown-event":
        await out.send({"type": "simulator.unknown_event", "detail": "clients must ignore this"})
    elif name == "huge-event":
        # At least 2 MiB on the wire: the padding fills 2 MiB, the event_id comes on top.
        head = {"type": "simulator.huge_event", "detail": "2 MiB test event", "padding": ""}
        event = {**head, "padding": "x" * (HUGE_EVENT_BYTES - len(json.dumps(head)))}
        await out.send(event)
