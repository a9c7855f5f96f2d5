"""Fault scenarios: when each one fires and what it does to the connection.

Handshakes (counted per :class:`~voicelive.simulator.Simulator`, refused ones included):

* ``http-401``, ``http-403``, ``http-404``, ``http-429``: every handshake is answered with that
  HTTP status instead of the upgrade (JSON body like Azure's; 429 adds ``Retry-After: 2``).
* ``http-429-once``: the first handshake gets 429 with ``Retry-After: 1``; later ones succeed.
* ``refuse-rehandshake``: the first handshake succeeds and that connection is aborted (no close
  frame) right after the second delta of its first reply; every later handshake gets 401.

Every connection:

* ``slow-session-created``: ``session.created`` comes only after ``fault_after_s``.
* ``expire``: closes with 1001 ``session_expired`` ``fault_after_s`` after ``session.created``
  (``session.expires_at`` announces it on 2026-07-15, rounded up to whole seconds).
* ``expire-soon``: ``session.expires_at`` (2026-07-15) is ``fault_after_s`` ahead, rounded up
  to whole seconds, and the connection closes with 1001 ``session_expired`` exactly then. Each
  connection has its own session and deadline and connections may overlap, so a client can open
  its next session before the old one expires (make-before-break).

Once, ``fault_after_s`` after the first ``session.created``:

* ``close-1011``: closes with 1011.
* ``benign-error``: an ``error`` with code ``response_cancel_not_active``; the session goes on.
* ``serious-error``: an ``error`` of type ``server_error``; the session goes on.

Once, in the first reply right after its second delta:

* ``drop-mid-reply`` and its alias ``close-1006-mid-reply``: abort the TCP connection (no close
  frame: the client sees 1006).
* ``close-1000-mid-reply``, ``close-1001-mid-reply``, ``close-1011-mid-reply``,
  ``close-1012-mid-reply``, ``close-1013-mid-reply``: a close frame with that code (1000 is a
  clean close the client did not ask for).
* ``malformed-frame``: a text frame that is not JSON; ``binary-frame``: a binary frame;
  ``unknown-event``: a well-formed event of an unknown type; ``huge-event``: a 2 MiB event
  (unknown type ``simulator.huge_event`` with a padding field). The reply then goes on.
* ``drop-during-reconnect``: that first reply's connection is aborted; the second connection is
  aborted as soon as its first ``session.update`` arrives (during the client's set-up, before
  ``session.updated``); the third and later connections are healthy.

"Once" means once per :class:`~voicelive.simulator.Simulator`, so a client that reconnects
finds a healthy service unless the scenario says otherwise. Runs in the simulator's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from typing import Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from .options import (
    CLOSE_MID_REPLY_FAULTS,
    EXPIRY_FAULTS,
    HANDSHAKE_FAULTS,
    MID_REPLY_FAULTS,
    ONCE_HANDSHAKE_FAULTS,
    RECONNECT_FAULTS,
    TIMED_FAULTS,
    SimulatorOptions,
)
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

    def handshake_status(self, attempt: int) -> int | None:
        """The HTTP status refusing handshake number ``attempt`` (1-based), or None to accept."""
        name = self.name or ""
        if name in HANDSHAKE_FAULTS:
            return HANDSHAKE_FAULTS[name]
        if name in ONCE_HANDSHAKE_FAULTS and attempt == 1:
            return ONCE_HANDSHAKE_FAULTS[name]
        if name == "refuse-rehandshake" and attempt > 1:
            return 401
        return None

    @property
    def retry_after_s(self) -> int:
        """``Retry-After`` of a refused handshake with 429."""
        return 1 if self.name in ONCE_HANDSHAKE_FAULTS else 2

    @property
    def session_created_delay(self) -> float:
        return self.after_s if self.name == "slow-session-created" else 0.0

    def expires_at(self) -> int | None:
        """``expires_at`` (Unix seconds) for a session starting now, if sessions expire."""
        if self.name not in EXPIRY_FAULTS:
            return None
        return math.ceil(time.time() + self.after_s)

    def expiry_delay(self, expires_at: int) -> float:
        """Seconds from now (``session.created``) until the session's 1001 close."""
        if self.name == "expire":
            return self.after_s
        return max(0.0, expires_at - time.time())

    @property
    def has_timed(self) -> bool:
        return self.name in TIMED_FAULTS

    def drop_on_session_update(self, connection: int) -> bool:
        """Whether connection number ``connection`` (1-based) dies on its ``session.update``."""
        return self.name == "drop-during-reconnect" and connection == 2

    def claim(self, kinds: frozenset[str]) -> str | None:
        """The fault name if it is of ``kinds`` and has not fired yet; marks it fired."""
        if self.name in kinds and not self._fired:
            self._fired = True
            return self.name
        return None


def abort(ws: ServerConnection) -> ConnectionClosed:
    """Abort the TCP connection (no close frame): what a network failure looks like.

    Returns the exception for the caller to raise, so the caller stops using the connection.
    """
    ws.transport.abort()
    return ConnectionClosed(None, None)


def handshake_body(
    status: int, message: str | None = None, retry_after_s: int = 2
) -> tuple[str, dict[str, str]]:
    """JSON body and extra headers for a refused handshake, shaped like Azure's."""
    messages = {
        401: "Access denied due to invalid subscription key or wrong API endpoint.",
        403: "The principal does not have access to this resource (missing role).",
        404: "Resource not found.",
        429: f"Rate limit is exceeded. Try again in {retry_after_s} seconds.",
    }
    body = json.dumps(
        {"error": {"code": str(status), "message": message or messages.get(status, "Error")}}
    )
    headers = {"Retry-After": str(retry_after_s)} if status == 429 else {}
    return body, headers


async def run_expiry(ws: ServerConnection, delay: float) -> None:
    """Close with 1001 ``session_expired`` after ``delay`` seconds. Cancel-safe (just stops)."""
    await asyncio.sleep(delay)
    with contextlib.suppress(ConnectionClosed):
        await ws.close(1001, "session_expired")


async def run_timed(ws: ServerConnection, out: FaultSender, plan: FaultPlan) -> None:
    """Fire the once-only timed fault after ``fault_after_s``. Cancel-safe (just stops)."""
    await asyncio.sleep(plan.after_s)
    try:
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
    if name == "drop-mid-reply" or name in RECONNECT_FAULTS:
        raise abort(ws)
    if name in CLOSE_MID_REPLY_FAULTS:
        code, reason = CLOSE_MID_REPLY_FAULTS[name]
        if code == 1006:  # 1006 is never sent: it is what the client sees without a close frame
            raise abort(ws)
        await ws.close(code, reason)
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
