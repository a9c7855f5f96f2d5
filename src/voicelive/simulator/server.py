"""The simulator's server: handshake checks, connection bookkeeping, observation for tests.

:class:`Simulator` listens with ``websockets.asyncio.server.serve``; each accepted connection
is served by a :class:`~voicelive.simulator.handler.ConnectionHandler`. Everything runs on the
caller's event loop (``voicelive chat --simulate`` shares it with the client), so nothing here
blocks. Handshake rejections are answered the way the service's gateway would (protocol notes
§5): 404 wrong path, 401 missing or wrong credential, 400 unknown ``api-version`` or missing
``model``/agent parameters (``agent-name`` and ``agent-project-name`` come as a pair). Agent
sessions take the same credentials as model sessions (protocol notes §1.4; ⚠ the Learn agent
quickstart says Entra ID only, which the client enforces on its side).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.http11 import Request, Response

from .constants import API_VERSIONS
from .faults import FaultPlan, handshake_body
from .handler import ConnectionHandler, handshake_params
from .observation import ConnectionLog
from .options import SimulatorOptions
from .recorder import Recorder
from .responder import DeltaJitter
from .transcription import TranscriptOrder
from .wire import IdFactory, JsonDict, elide_audio, redact_mapping

PATH = "/voice-live/realtime"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

# websockets logs every request header at DEBUG (api-key included): keep our server's
# transport logger above DEBUG whatever the application configures.
_transport_logger = logging.getLogger("voicelive.simulator.transport")

MAX_KEPT_EVENTS = 20_000
"""``received_events`` keeps at most this many (the oldest fifth is dropped when full); the
per-connection lists (:attr:`ConnectionLog.received`) share the same budget, oldest first."""

MAX_KEPT_HANDSHAKES = 1_000
"""``handshakes`` keeps the most recent this many (``handshake_attempts`` counts them all)."""

Predicate = Callable[[JsonDict], bool]
_EventWaiter = tuple[str, Predicate | None, int | None, "asyncio.Future[JsonDict]"]


def _credential_ok(headers: dict[str, str], query: dict[str, str], required: str | None) -> bool:
    lower = {k.lower(): v for k, v in headers.items()}
    key = lower.get("api-key") or query.get("api-key")
    if required is not None:
        return key is not None and hmac.compare_digest(key.encode(), required.encode())
    auth = lower.get("authorization") or query.get("Authorization") or ""
    scheme, _, token = auth.partition(" ")
    return bool(key) or (scheme.lower() == "bearer" and bool(token.strip()))


class Simulator:
    """A local stand-in for Voice Live. Use as ``async with Simulator(options) as sim:``.

    For tests in the same process:

    * ``received_events``: client events of every connection in arrival order, audio elided,
      at most :data:`MAX_KEPT_EVENTS` recent ones;
    * ``connections``: one :class:`~voicelive.simulator.observation.ConnectionLog` per
      accepted connection (``connections[0]`` is connection 1), with its own ``received``
      events, session id and close code; :meth:`wait_for_connection` waits for the n-th;
    * ``handshake_attempts``: handshakes seen, refused ones included; ``handshakes``: each one's
      path, query and headers (secrets redacted) and the HTTP ``status`` answered (101 =
      accepted).

    Not thread-safe: use it from the event loop that started it.
    """

    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()
        self.ids = IdFactory()
        self.faults = FaultPlan(self.options)
        self.jitter = DeltaJitter(self.options.jitter_ms, self.options.seed)
        self.transcript_order = TranscriptOrder(self.options.transcript_order, self.options.seed)
        self.received_events: list[dict[str, Any]] = []
        self.handshakes: list[dict[str, Any]] = []
        self.handshake_attempts = 0
        self.connections: list[ConnectionLog] = []
        self._kept_per_connection = 0
        self._waiters: list[_EventWaiter] = []
        self._connection_waiters: list[tuple[int, asyncio.Future[ConnectionLog]]] = []
        self._server: Server | None = None
        self._recorder: Recorder | None = None
        self._t0 = time.monotonic()
        self._closed = False

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start listening (port 0 = any free port). Raises ``OSError`` if the port is taken."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        if _transport_logger.level in (logging.NOTSET, logging.DEBUG):
            _transport_logger.setLevel(logging.INFO)
        if self.options.record_path is not None:
            self._recorder = Recorder(self.options.record_path)
        self._t0 = time.monotonic()
        self._server = await ws_serve(
            self._serve_connection,
            host,
            port,
            process_request=self._process_request,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,
            logger=_transport_logger,
        )

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def endpoint(self) -> str:
        """``ws://HOST:PORT``; the client appends ``/voice-live/realtime?…``."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        host = str(self._server.sockets[0].getsockname()[0])
        return f"ws://[{host}]:{self.port}" if ":" in host else f"ws://{host}:{self.port}"

    async def close(self) -> None:
        """Close every connection with 1001, stop listening, close the recording. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
        if self._recorder is not None:
            self._recorder.close()

    async def __aenter__(self) -> Simulator:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- observation --------------------------------------------------------------------------

    async def wait_for_event(
        self,
        type_: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the agreed test-facing interface
        predicate: Predicate | None = None,
        connection: int | None = None,
    ) -> JsonDict:
        """The first client event of ``type_`` (matching ``predicate``) received so far or next.

        ``connection`` (1-based) limits the search to that connection's events. Raises
        ``TimeoutError`` after ``timeout`` seconds. Cancel-safe.
        """
        if connection is None:
            seen = self.received_events
        else:
            seen = (
                self.connections[connection - 1].received
                if connection <= len(self.connections)
                else []
            )
        for event in seen:
            if event.get("type") == type_ and (predicate is None or predicate(event)):
                return event
        future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        waiter: _EventWaiter = (type_, predicate, connection, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.remove(waiter)

    async def wait_for_connection(
        self,
        index: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - same interface as wait_for_event
    ) -> ConnectionLog:
        """Connection ``index`` (1-based) once accepted; ``TimeoutError`` after ``timeout`` s."""
        if index < 1:
            raise ValueError("connections are numbered from 1")
        if index <= len(self.connections):
            return self.connections[index - 1]
        future: asyncio.Future[ConnectionLog] = asyncio.get_running_loop().create_future()
        waiter = (index, future)
        self._connection_waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._connection_waiters.remove(waiter)

    # --- Hub (used by connection handlers) ----------------------------------------------------

    def record(self, direction: str, event: JsonDict) -> None:
        if self._recorder is not None:
            self._recorder.write(time.monotonic() - self._t0, direction, event)

    def client_event(self, event: JsonDict, log: ConnectionLog | None = None) -> None:
        elided = elide_audio(event)
        if isinstance(elided.get("type"), str):
            elided["type"] = sys.intern(elided["type"])  # one copy, not one per kept event
        self.record("in", elided)  # eliding again is a no-op: audio is no longer a string
        if len(self.received_events) >= MAX_KEPT_EVENTS:
            # A long `chat --simulate` appends 50 events a second: keep memory bounded.
            del self.received_events[: MAX_KEPT_EVENTS // 5]
        self.received_events.append(elided)
        if log is not None:
            log.received.append(elided)
            self._kept_per_connection += 1
            if self._kept_per_connection > MAX_KEPT_EVENTS:
                self._trim_connection_logs()
        for type_, predicate, connection, future in self._waiters:
            if future.done() or elided.get("type") != type_:
                continue
            if connection is not None and (log is None or log.index != connection):
                continue
            if predicate is None or predicate(elided):
                future.set_result(elided)

    def _trim_connection_logs(self) -> None:
        """Drop the oldest fifth of the budget from the oldest connections' ``received``."""
        excess = self._kept_per_connection - MAX_KEPT_EVENTS + MAX_KEPT_EVENTS // 5
        for log in self.connections:
            if excess <= 0:
                break
            cut = min(excess, len(log.received))
            if cut:
                del log.received[:cut]
                log.dropped_events += cut
                self._kept_per_connection -= cut
                excess -= cut

    def open_connection(self, ws: ServerConnection) -> ConnectionLog:
        """Number and log a connection whose handshake was accepted."""
        assert ws.request is not None
        _, query = handshake_params(ws.request.path)
        log = ConnectionLog(
            index=len(self.connections) + 1,
            api_version=query.get("api-version", ""),
            query=redact_mapping(query),
        )
        self.connections.append(log)
        for index, future in self._connection_waiters:
            if index == log.index and not future.done():
                future.set_result(log)
        return log

    # --- websockets callbacks -----------------------------------------------------------------

    def _reject(
        self, connection: ServerConnection, status: int, message: str | None = None
    ) -> Response:
        self.handshakes[-1]["status"] = status
        body, extra = handshake_body(status, message, self.faults.retry_after_s)
        response = connection.respond(status, body)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        for name, value in extra.items():
            response.headers[name] = value
        return response

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, query = handshake_params(request.path)
        headers = dict(request.headers.raw_items())
        self.handshake_attempts += 1
        if len(self.handshakes) >= MAX_KEPT_HANDSHAKES:
            del self.handshakes[: MAX_KEPT_HANDSHAKES // 5]
        self.handshakes.append(
            {
                "attempt": self.handshake_attempts,
                "path": path,
                "query": redact_mapping(query),
                "headers": redact_mapping(headers),
                "status": 101,
            }
        )
        status = self.faults.handshake_status(self.handshake_attempts)
        if status is not None:
            return self._reject(connection, status)
        if path.rstrip("/") != PATH:
            return self._reject(connection, 404, f"Resource not found: {path}")
        if not _credential_ok(headers, query, self.options.api_key):
            return self._reject(connection, 401)
        version = query.get("api-version")
        if version not in API_VERSIONS:
            known = ", ".join(API_VERSIONS)
            return self._reject(
                connection, 400, f"Unsupported api-version {version!r}; supported: {known}."
            )
        agent, project = query.get("agent-name"), query.get("agent-project-name")
        if bool(agent) != bool(project):
            return self._reject(
                connection,
                400,
                "An agent session needs both 'agent-name' and 'agent-project-name'.",
            )
        if not query.get("model") and not agent:
            return self._reject(
                connection, 400, "Missing 'model' (or 'agent-name' and 'agent-project-name')."
            )
        return None

    async def _serve_connection(self, ws: ServerConnection) -> None:
        await ConnectionHandler(ws, self, self.open_connection(ws)).run()


async def serve(
    host: str,
    port: int,
    options: SimulatorOptions,
    listening: asyncio.Future[str] | None = None,
) -> None:
    """Run a simulator for ``voicelive simulate`` until cancelled, then close it cleanly.

    Prints one line with the endpoint to stdout once listening, and then resolves
    ``listening`` (when given) with that endpoint, so a caller can wait for it.
    """
    simulator = Simulator(options)
    await simulator.start(host, port)
    print(
        f"Voice Live simulator listening on {simulator.endpoint} (endpoint for --endpoint)",
        flush=True,
    )
    if listening is not None and not listening.done():
        listening.set_result(simulator.endpoint)
    try:
        await asyncio.Future()
    finally:
        await simulator.close()
