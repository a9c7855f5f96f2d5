"""The WebSocket shell: URL, handshake headers, limits, event logging and error translation.

:class:`VoiceLiveConnection` is a thin wrapper around one ``websockets`` client connection.
Callers send and receive decoded JSON events; every ``websockets``/OS exception is translated
here into the :mod:`voicelive.errors` family with a sentence that says what to do. Each
connect gets a fresh ``x-ms-client-request-id`` (logged, so a user can quote it to support)
and fresh credential headers. Redirects are refused, so credentials only ever reach the host
the user configured; plain ``ws://`` is allowed only for loopback hosts. The proxy
(:mod:`~voicelive.connection.proxy`) and the trusted roots (:mod:`~voicelive.connection.tls`)
follow ``--proxy`` and ``--trust``; network failures get their sentences from
:mod:`~voicelive.connection.failures`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidProxy,
    InvalidStatus,
    InvalidURI,
    SecurityError,
)

from voicelive import __version__
from voicelive.auth import Auth
from voicelive.config.settings import AgentSettings, ConnectionSettings
from voicelive.connection.failures import Attempt, explain
from voicelive.connection.proxy import (
    SOCKS_MISSING,
    check_proxy_url,
    effective_proxy,
    shown_proxy,
    socks_available,
)
from voicelive.connection.tls import client_context
from voicelive.errors import AuthError, ConfigError, ConnectError, ConnectionLost
from voicelive.protocol.server_events import describe

log = logging.getLogger(__name__)
REALTIME_PATH = "/voice-live/realtime"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_url(
    endpoint: str,
    api_version: str,
    model: str | None,
    *,
    agent: AgentSettings | None = None,
    features: Sequence[str] = (),
) -> str:
    """Endpoint → ``wss://host/…/voice-live/realtime?api-version=…&model=…``.

    https→wss, http→ws; a trailing slash is dropped; query parameters already on the endpoint
    are kept after ours. With ``agent`` the query names the agent (``agent-name``,
    ``agent-project-name``, then ``agent-version`` and ``conversation-id`` when set) and leaves
    ``model`` out, as the SDK does (protocol.md §1.1-1.2). ``features`` become one ``features``
    parameter, comma-separated (e.g. ``features=client_ec_reference:true``). Raises ConfigError
    for other schemes and for clear-text (ws/http) to a host that is not loopback, because the
    credential would travel unencrypted.
    """
    parts = urlsplit(endpoint.strip())
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise ConfigError(
            f"The endpoint {endpoint!r} is not a URL: use https://<resource>.services.ai.azure.com "
            "(set --endpoint or AZURE_VOICELIVE_ENDPOINT)."
        )
    if scheme == "ws" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"The endpoint {endpoint!r} is not encrypted: use https:// or wss:// "
            "(ws:// is only allowed for loopback hosts, so credentials are never sent in clear)."
        )
    path = parts.path.rstrip("/")
    if not path.endswith(REALTIME_PATH):
        path += REALTIME_PATH
    query: list[tuple[str, str]] = [("api-version", api_version)]
    if agent is not None:
        query += [("agent-name", agent.name), ("agent-project-name", agent.project)]
        if agent.version:
            query.append(("agent-version", agent.version))
        if agent.conversation_id:
            query.append(("conversation-id", agent.conversation_id))
    elif model:
        query.append(("model", model))
    if features:
        query.append(("features", ",".join(features)))
    ours = {k for k, _ in query}
    if agent is not None:
        ours.add("model")  # an agent session names no model, not even one on the endpoint
    query += [(k, v) for k, v in parse_qsl(parts.query) if k not in ours]
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


class _NoRedirectConnect(ws_connect):
    """websockets' connect, refusing redirects (they would carry our credential elsewhere)."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


def _close_message(code: int | None, reason: str) -> str:
    if code == 1001 and "expire" in reason.lower():
        return "The Voice Live session expired (close 1001 session_expired); start voicelive again."
    if code in (1000, 1001):
        return f"The service closed the session (close {code}{': ' + reason if reason else ''})."
    if code == 1009:
        return "The service sent a message larger than the client allows (close 1009)."
    if code == 1011:
        return (
            "The service closed the session after an internal error (close 1011"
            f"{': ' + reason if reason else ''}); try again in a moment."
        )
    if code is None or code == 1006:
        return (
            "The connection to the service dropped (no close frame); check the network and retry."
        )
    return f"The service closed the session (close {code}{': ' + reason if reason else ''})."


class VoiceLiveConnection:
    """One open Voice Live WebSocket. Create with :meth:`open`.

    ``send`` and ``recv`` may run concurrently from different tasks (one sender, one
    receiver); both raise :class:`ConnectionLost` once the socket is closed. ``recv`` is
    cancel-safe (websockets keeps the message for the next call); ``send`` of one event is
    atomic (a frame is either fully written or not at all).
    """

    def __init__(self, ws: ClientConnection, request_id: str, url: str) -> None:
        self._ws = ws
        self.request_id = request_id
        self.url = url
        self._appends = 0
        self._append_bytes = 0

    @classmethod
    async def open(cls, settings: ConnectionSettings, auth: Auth) -> VoiceLiveConnection:
        """Connect and complete the handshake. Raises ConfigError, AuthError, ConnectError."""
        url = build_url(
            settings.endpoint,
            settings.api_version,
            settings.model,
            agent=settings.agent,
            features=settings.features,
        )
        host = urlsplit(url).hostname or "?"
        request_id = str(uuid.uuid4())
        headers = await auth.headers()
        headers["x-ms-client-request-id"] = request_id
        log.info(
            "connecting to %s with %s (x-ms-client-request-id=%s)",
            url,
            auth.description,
            request_id,
        )
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        proxy = effective_proxy(settings.proxy, url)
        if proxy is not None and settings.proxy is None and (why := check_proxy_url(proxy)):
            raise ConfigError(  # --proxy was checked with the settings; the environment was not
                f"The proxy URL from the environment ({shown_proxy(proxy)}) must be {why}: fix "
                "HTTPS_PROXY (or the OS proxy settings), or use --proxy none."
            )
        if proxy is not None:
            log.info("through the proxy %s", shown_proxy(proxy))
            if proxy.startswith("socks") and not socks_available():
                raise ConfigError(SOCKS_MISSING)
        # the TLS handshake has its own, shorter limit, so that a stalled one is told apart
        attempt = Attempt(host, port, proxy, settings.trust, settings.open_timeout_s,
                          tls_timeout_s=settings.open_timeout_s * 2 / 3)  # fmt: skip
        tls: dict[str, Any] = {}
        if parts.scheme == "wss":
            tls = {
                "ssl": client_context(settings.trust)[0],
                "ssl_handshake_timeout": attempt.tls_timeout_s,
            }
        try:
            ws = await _NoRedirectConnect(
                url,
                additional_headers=headers,
                user_agent_header=f"voicelive/{__version__}",
                open_timeout=settings.open_timeout_s,
                max_size=settings.max_message_bytes,
                compression=None,  # base64 audio barely compresses; save the CPU and latency
                ping_interval=settings.keepalive_s,
                ping_timeout=settings.keepalive_s,
                close_timeout=2,  # quitting must not hang on a silent peer
                logger=logging.getLogger("websockets.client"),
                proxy=proxy,  # chosen above, the environment read as websockets reads it
                **tls,
            )
        except InvalidStatus as exc:
            retry_after = _retry_after_s(exc.response.headers.get("Retry-After"))
            raise _status_error(exc.response.status_code, host, request_id, retry_after) from None
        except InvalidURI:
            # the host only: an endpoint may carry ?api-key=… in its query
            raise ConfigError(
                f"The endpoint URL for {host} is not valid; check --endpoint."
            ) from None
        except SecurityError as exc:
            raise ConnectError(f"Refused to connect to {host}: {exc}.") from None
        except (OSError, InvalidHandshake, InvalidProxy, ImportError) as exc:
            log.debug("connect failed: %r", exc)
            error = await explain(exc, attempt)
            if error is not None:
                raise error from None
            raise ConnectError(
                f"The WebSocket handshake with {host} failed ({exc}).", retryable=True
            ) from None
        log.info("connected (x-ms-client-request-id=%s)", request_id)
        # websockets builds a DEBUG record for every frame (50 a second while listening) that
        # the log filter then drops: 0.5-1 % of a core. The handshake is logged; stop here.
        ws.debug = ws.protocol.debug = False
        return cls(ws, request_id, url)

    async def send(self, event: dict[str, Any]) -> None:
        """Send one client event. Raises ConnectionLost if the socket is closed."""
        kind = event.get("type")
        if kind == "input_audio_buffer.append":
            # 50 per second: log a running count, not every one.
            self._appends += 1
            self._append_bytes += len(event.get("audio", "")) * 3 // 4
            if self._appends == 1 or self._appends % 250 == 0:
                log.debug(
                    "send input_audio_buffer.append #%d (%d bytes so far)",
                    self._appends,
                    self._append_bytes,
                )
        else:
            log.debug("send %s", describe(event))
        try:
            await self._ws.send(json.dumps(event, separators=(",", ":")))
        except ConnectionClosed as exc:
            raise self._lost(exc) from None

    async def recv(self) -> str | bytes:
        """Receive one raw message. Raises ConnectionLost when the socket closes."""
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: ConnectionClosed) -> ConnectionLost:
        frame = exc.rcvd
        code = frame.code if frame is not None else None
        reason = frame.reason if frame is not None else ""
        log.info("connection closed: code=%s reason=%r", code, reason)
        return ConnectionLost(_close_message(code, reason), close_code=code)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code`` (1000 = normal) and wait for the closing handshake. Never raises."""
        try:
            await asyncio.shield(self._ws.close(code, reason))
        except Exception:  # closing is best effort: the socket may already be gone
            log.debug("error while closing the websocket", exc_info=True)
        log.info(
            "websocket closed (code=%s, %d appends, %d audio bytes sent)",
            code,
            self._appends,
            self._append_bytes,
        )


def _retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the delta-seconds form; an HTTP date is ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _status_error(
    status: int, host: str, request_id: str, retry_after_s: float | None = None
) -> Exception:
    suffix = f" (HTTP {status}, x-ms-client-request-id {request_id})"
    if status in (401, 403):
        what = "key" if status == 401 else "role assignment"
        return AuthError(
            f"The service at {host} refused the credential{suffix}: check the API key, or that "
            f"your Entra identity has the Cognitive Services User role ({what} problem)."
        )
    if status == 404:
        return ConnectError(
            f"Nothing answers at that path on {host}{suffix}: check --endpoint "
            "(https://<resource>.services.ai.azure.com) and --api-version."
        )
    if status == 429:
        return ConnectError(
            f"The service is throttling requests{suffix}: wait a little and retry.",
            retryable=True,
            retry_after_s=retry_after_s,
            status=429,
        )
    if status == 400:
        return ConnectError(
            f"The service rejected the connection request{suffix}: check --model and --api-version."
        )
    if 300 <= status < 400:
        return ConnectError(
            f"{host} answered with a redirect{suffix}; voicelive does not follow redirects so "
            "credentials stay with the host you chose: check --endpoint."
        )
    return ConnectError(
        f"The WebSocket handshake with {host} failed{suffix}.",
        retryable=status >= 500,  # the service is having a bad moment, not refusing us
        retry_after_s=retry_after_s,
        status=status,
    )
