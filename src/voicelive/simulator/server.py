"""The simulator's server: handshake checks, connection bookkeeping, observation for tests.

:class:`Simulator` listens with ``websockets.asyncio.server.serve``; each accepted connection
is served by a :class:`~voicelive.simulator.handler.ConnectionHandler`. Everything runs on the
caller's event loop (``voicelive chat --simulate`` shares it with the client), so nothing here
blocks. Handshake rejections are answered the way the service's gateway would (protocol notes
§5): 404 wrong path, 401 missing or wrong credential, 400 unknown ``api-version`` or missing
``model``/agent parameters.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
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
from .options import SimulatorOptions
from .recorder import Recorder
from .wire import IdFactory, JsonDict, elide_audio, redact_mapping

PATH = "/voice-live/realtime"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

# websockets logs every request header at DEBUG (api-key included): keep our server's
# transport logger above DEBUG whatever the application configures.
_transport_logger = logging.getLogger("voicelive.simulator.transport")

MAX_KEPT_EVENTS = 50_000
"""``received_events`` keeps at most this many (the oldest fifth is dropped when full)."""

Predicate = Callable[[JsonDict], bool]


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

    ``received_events`` (client events in arrival order, audio elided, at most
    :data:`MAX_KEPT_EVENTS` recent ones) and ``handshakes`` (path, query, headers with secrets
    redacted) are for tests in the same process. Not thread-safe: use it from the
    event loop that started it.
    """

    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()
        self.ids = IdFactory()
        self.faults = FaultPlan(self.options)
        self.received_events: list[dict[str, Any]] = []
        self.handshakes: list[dict[str, Any]] = []
        self._waiters: list[tuple[str, Predicate | None, asyncio.Future[JsonDict]]] = []
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
    ) -> JsonDict:
        """The first client event of ``type_`` (matching ``predicate``) received so far or next.

        Raises ``TimeoutError`` after ``timeout`` seconds. Cancel-safe.
        """
        for event in self.received_events:
            if event.get("type") == type_ and (predicate is None or predicate(event)):
                return event
        future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        waiter = (type_, predicate, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.remove(waiter)

    # --- Hub (used by connection handlers) ----------------------------------------------------

    def record(self, direction: str, event: JsonDict) -> None:
        if self._recorder is not None:
            self._recorder.write(time.monotonic() - self._t0, direction, event)

    def client_event(self, event: JsonDict) -> None:
        elided = elide_audio(event)
        self.record("in", elided)  # eliding again is a no-op: audio is no longer a string
        if len(self.received_events) >= MAX_KEPT_EVENTS:
            # A long `chat --simulate` appends 50 events a second: keep memory bounded.
            del self.received_events[: MAX_KEPT_EVENTS // 5]
        self.received_events.append(elided)
        for type_, predicate, future in self._waiters:
            if future.done() or elided.get("type") != type_:
                continue
            if predicate is None or predicate(elided):
                future.set_result(elided)

    # --- websockets callbacks -----------------------------------------------------------------

    def _reject(
        self, connection: ServerConnection, status: int, message: str | None = None
    ) -> Response:
        body, extra = handshake_body(status, message)
        response = connection.respond(status, body)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        for name, value in extra.items():
            response.headers[name] = value
        return response

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, query = handshake_params(request.path)
        headers = dict(request.headers.raw_items())
        self.handshakes.append(
            {"path": path, "query": redact_mapping(query), "headers": redact_mapping(headers)}
        )
        status = self.faults.handshake_status
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
        if not query.get("model") and not (
            query.get("agent-name") and query.get("agent-project-name")
        ):
            return self._reject(
                connection, 400, "Missing 'model' (or 'agent-name' and 'agent-project-name')."
            )
        return None

    async def _serve_connection(self, ws: ServerConnection) -> None:
        await ConnectionHandler(ws, self).run()


async def serve(host: str, port: int, options: SimulatorOptions) -> None:
    """Run a simulator for ``voicelive simulate`` until cancelled, then close it cleanly.

    Prints one line with the endpoint to stdout once listening.
    """
    simulator = Simulator(options)
    await simulator.start(host, port)
    print(
        f"Voice Live simulator listening on {simulator.endpoint} (endpoint for --endpoint)",
        flush=True,
    )
    try:
        await asyncio.Future()
    finally:
        await simulator.close()
