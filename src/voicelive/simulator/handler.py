"""One simulated Voice Live session: a WebSocket connection from ``session.created`` to close.

:class:`ConnectionHandler` parses the already-validated handshake, sends ``session.created``,
then handles client events strictly in arrival order (protocol notes §2). It implements
:class:`~voicelive.simulator.context.Context` for the event modules. Runs as the websockets
connection handler task; a closed connection ends :meth:`run` quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from . import faults, items
from .conversation import Conversation
from .faults import FaultPlan
from .mcp import mcp_servers
from .mcprun import list_tools
from .observation import ConnectionLog
from .options import SimulatorOptions
from .responder import DeltaJitter
from .session import SessionError, apply_update, default_session, parse_features
from .transcription import TranscriptOrder
from .turns import TurnController
from .wire import IdFactory, JsonDict, error_event

_UNSUPPORTED = frozenset(
    {
        "session.avatar.connect",
        "input_text.delta",
        "input_text.done",
        "mcp_approval_response",
        "transcription_session.update",
        "input_audio.turn.start",
        "input_audio.turn.append",
        "input_audio.turn.end",
        "input_audio.turn.cancel",
        "input_audio.clear",
        "rtc.call.sdp.create",
    }
)


class Hub(Protocol):
    """What a connection needs from its simulator."""

    options: SimulatorOptions
    ids: IdFactory
    faults: FaultPlan
    jitter: DeltaJitter
    transcript_order: TranscriptOrder

    def record(self, direction: str, event: JsonDict) -> None:
        """Append a frame to the recording (``event`` already elided where needed)."""

    def client_event(self, event: JsonDict, log: ConnectionLog | None = None) -> None:
        """Note a parsed client event (recording, ``received_events``, ``log``, waiters)."""


def handshake_params(path: str) -> tuple[str, dict[str, str]]:
    """(path, query dict) of a request target; repeated parameters keep the last value."""
    parts = urlsplit(path)
    return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))


class ConnectionHandler:
    def __init__(self, ws: ServerConnection, hub: Hub, log: ConnectionLog) -> None:
        self._ws = ws
        self._hub = hub
        self.log = log
        self.ids = hub.ids
        self.speedup = hub.options.speedup
        self.jitter: DeltaJitter | None = hub.jitter if hub.jitter else None
        self.transcript_order = hub.transcript_order
        assert ws.request is not None  # the handler only runs after a completed handshake
        _, query = handshake_params(ws.request.path)
        self.api_version = query["api-version"]
        self.features = parse_features(query.get("features"))
        agent: JsonDict | None = None
        if query.get("agent-name"):
            name = query["agent-name"]
            version = query.get("agent-version")
            agent = {
                "type": "agent",
                "name": name,
                "agent_id": f"{name}:{version}" if version else name,
                "thread_id": query.get("conversation-id") or self.ids.new("thread"),
            }
        self._expires_at = hub.faults.expires_at()
        self.session: JsonDict = default_session(
            self.ids.new("sess"),
            self.api_version,
            query.get("model") or None,
            agent,
            self._expires_at,
        )
        log.session_id = self.session["id"]
        log.expires_at = self._expires_at
        self.conversation = Conversation()
        log.conversation = self.conversation
        self._mcp_listed: set[str] = set()  # MCP server labels whose tools were listed
        self.turns = TurnController(self)
        self._dispatch: dict[str, Callable[[JsonDict], Awaitable[None]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self.turns.append,
            "input_audio_buffer.commit": self.turns.commit,
            "input_audio_buffer.clear": lambda _e: self.turns.clear(),
            "response.create": self.turns.create_response,
            "response.cancel": self.turns.cancel,
            "conversation.item.truncate": self.turns.truncate,
            "conversation.item.create": lambda e: items.create(self, e),
            "conversation.item.retrieve": lambda e: items.retrieve(self, e),
            "conversation.item.delete": lambda e: items.delete(self, e),
            "output_audio_buffer.clear": self._output_clear,
        }

    # --- Context ------------------------------------------------------------------------------

    async def send(self, event: JsonDict) -> None:
        out = {"type": event["type"], "event_id": self.ids.new("event")}
        out.update((k, v) for k, v in event.items() if k != "type")
        await self._ws.send(json.dumps(out))
        self._hub.record("out", out)

    async def send_raw(self, data: str | bytes, record_as: JsonDict) -> None:
        await self._ws.send(data)
        self._hub.record("out", record_as)

    async def send_error(
        self,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        client_event: JsonDict | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        client_id = client_event.get("event_id") if client_event is not None else None
        await self.send(
            error_event(
                message,
                code=code,
                param=param,
                client_event_id=client_id if isinstance(client_id, str) else None,
                error_type=error_type,
            )
        )

    async def on_delta(self, count: int) -> None:
        if count == 2:
            await faults.inject_mid_reply(self._ws, self, self._hub.faults)

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until it closes. Never raises for a closed connection."""
        timers: list[asyncio.Task[None]] = []
        try:
            delay = self._hub.faults.session_created_delay
            if delay:
                # a late session.created, unless the client gives up and closes first
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ws.wait_closed(), delay)
                if self._ws.close_code is not None:
                    return
            await self.send({"type": "session.created", "session": self.session})
            plan = self._hub.faults
            if self._expires_at is not None:
                delay = plan.expiry_delay(self._expires_at)
                timers.append(asyncio.create_task(faults.run_expiry(self._ws, delay)))
            if plan.has_timed:
                timers.append(asyncio.create_task(faults.run_timed(self._ws, self, plan)))
            async for message in self._ws:
                await self._handle(message)
        except ConnectionClosed:
            pass
        finally:
            for timer in timers:
                timer.cancel()
            if timers:
                await asyncio.wait(timers)
            await self.turns.close()
            if self._ws.close_code is None:
                # Aborted from this task: the transport reports the loss on the next turn.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ws.wait_closed(), 1.0)
            self.log.ended(self._ws.close_code, self._ws.close_reason)

    async def _handle(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self._hub.record("in", {"binary_bytes": len(message)})
            await self.send_error(
                "Binary frames are not supported; send JSON text frames.", code="invalid_frame"
            )
            return
        try:
            event = json.loads(message)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            self._hub.record("in", {"malformed_text": message[:200]})
            await self.send_error(
                "The event could not be parsed: expected a JSON object.", code="invalid_json"
            )
            return
        self._hub.client_event(event, self.log)
        type_ = event.get("type")
        if not isinstance(type_, str):
            await self.send_error(
                "Missing required parameter: 'type'.",
                code="missing_required_parameter",
                param="type",
                client_event=event,
            )
            return
        handler = self._dispatch.get(type_)
        if handler is None:
            why = (
                "not supported by the simulator" if type_ in _UNSUPPORTED else "unknown event type"
            )
            await self.send_error(
                f"Invalid value: '{type_}' ({why}).",
                code="invalid_value",
                param="type",
                client_event=event,
            )
            return
        await handler(event)

    # --- small events -------------------------------------------------------------------------

    async def _session_update(self, event: JsonDict) -> None:
        if self._hub.faults.drop_on_session_update(self.log.index):
            raise faults.abort(self._ws)
        try:
            session = apply_update(
                self.session,
                event.get("session"),
                self.api_version,
                features=self.features,
                audio_started=self.turns.audio_started,
            )
        except SessionError as exc:
            await self.send_error(exc.message, code=exc.code, param=exc.param, client_event=event)
            return
        await self.turns.flush_input()  # audio appended before the update is heard as it was
        self.session = session
        self.turns.configure()
        await self.send({"type": "session.updated", "session": session})
        await list_tools(self, mcp_servers(session, self.api_version), self._mcp_listed)

    async def _output_clear(self, _event: JsonDict) -> None:
        await self.send({"type": "output_audio_buffer.cleared"})
