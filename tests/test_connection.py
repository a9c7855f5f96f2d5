"""The WebSocket shell against real servers on 127.0.0.1:0: URL, headers, limits, errors."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.server import Request, Response, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Response as HttpResponse

from voicelive.auth import ApiKeyAuth, EntraAuth
from voicelive.config.settings import (
    AgentSettings,
    ConnectionSettings,
    Secret,
    SessionSettings,
    Settings,
)
from voicelive.connection.client import VoiceLiveConnection, build_url, is_loopback_host
from voicelive.errors import AuthError, ConfigError, ConnectError, ConnectionLost

KEY = Secret("test-key-0123456789")


def test_build_url_shapes() -> None:
    assert build_url("https://res.services.ai.azure.com/", "2026-07-15", "gpt-4o") == (
        "wss://res.services.ai.azure.com/voice-live/realtime?api-version=2026-07-15&model=gpt-4o"
    )
    assert build_url("http://127.0.0.1:9000", "2025-10-01", None) == (
        "ws://127.0.0.1:9000/voice-live/realtime?api-version=2025-10-01"
    )
    assert build_url("https://h/voice-live/realtime?foo=1&model=x", "v", "m").endswith(
        "?api-version=v&model=m&foo=1"
    )


@pytest.mark.parametrize(
    "endpoint", ["ws://example.com", "http://10.0.0.5:80", "ftp://h", "nohost"]
)
def test_clear_text_to_remote_hosts_and_non_urls_are_refused(endpoint: str) -> None:
    with pytest.raises(ConfigError):
        build_url(endpoint, "2026-07-15", "gpt-4o")


def test_loopback_hosts() -> None:
    assert is_loopback_host("localhost") and is_loopback_host("127.0.0.2")
    assert is_loopback_host("[::1]") and not is_loopback_host("example.com")


class Server:
    """A tiny WebSocket server that records handshakes and runs a scripted handler."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status: int | None = None
        self.location: str | None = None
        self.messages: list[str] = []
        self.close_code = 1000
        self.close_reason = ""
        self.port = 0

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        if self.status is None:
            return None
        headers = Headers()
        if self.location:
            headers["Location"] = self.location
        return HttpResponse(self.status, "scripted", headers, b"")

    async def handler(self, ws: ServerConnection) -> None:
        for message in self.messages:
            await ws.send(message)
        await ws.close(self.close_code, self.close_reason)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    async with serve(srv.handler, "127.0.0.1", 0, process_request=srv.process_request) as ws_server:
        srv.port = ws_server.sockets[0].getsockname()[1]
        yield srv


def settings_for(port: int, **kw: Any) -> ConnectionSettings:
    kw.setdefault("api_key", KEY)
    return ConnectionSettings(endpoint=f"http://127.0.0.1:{port}", **kw)


async def test_handshake_sends_path_query_and_headers(server: Server) -> None:
    server.messages = ['{"type":"session.created","session":{}}']
    conn = await VoiceLiveConnection.open(settings_for(server.port), ApiKeyAuth(KEY))
    assert await conn.recv() == '{"type":"session.created","session":{}}'
    await conn.close()
    req = server.requests[0]
    assert req.path == "/voice-live/realtime?api-version=2026-07-15&model=gpt-4o"
    assert req.headers["api-key"] == str(KEY)
    assert req.headers["x-ms-client-request-id"] == conn.request_id
    assert req.headers["User-Agent"].startswith("voicelive/")
    assert "Authorization" not in req.headers


async def test_each_connect_gets_a_fresh_request_id_and_token(server: Server) -> None:
    class FakeCredential:
        calls = 0

        async def get_token(self, *scopes: str, **kw: Any) -> Any:
            FakeCredential.calls += 1
            assert scopes == ("https://ai.azure.com/.default",)
            from azure.core.credentials import AccessToken

            return AccessToken(f"tok{FakeCredential.calls}", 2_000_000_000)

        async def close(self) -> None:
            pass

    auth = EntraAuth("https://ai.azure.com/.default", FakeCredential())  # type: ignore[arg-type]
    for _ in range(2):
        conn = await VoiceLiveConnection.open(settings_for(server.port, api_key=None), auth)
        await conn.close()
    tokens = [r.headers["Authorization"] for r in server.requests]
    ids = {r.headers["x-ms-client-request-id"] for r in server.requests}
    assert tokens == ["Bearer tok1", "Bearer tok2"] and len(ids) == 2
    await auth.close()


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, AuthError, "check the API key"),
        (403, AuthError, "role"),
        (404, ConnectError, "check --endpoint"),
        (429, ConnectError, "throttling"),
        (400, ConnectError, "--model and --api-version"),
        (302, ConnectError, "does not follow redirects"),
    ],
)
async def test_handshake_statuses_become_one_clear_sentence(
    server: Server, status: int, error: type[Exception], words: str
) -> None:
    server.status = status
    server.location = "ws://127.0.0.1:1/elsewhere" if status == 302 else None
    with pytest.raises(error) as info:
        await VoiceLiveConnection.open(settings_for(server.port), ApiKeyAuth(KEY))
    message = str(info.value)
    assert words in message and f"HTTP {status}" in message
    assert str(KEY) not in message and "\n" not in message
    assert len(server.requests) == 1  # the redirect was not followed


async def test_refused_port_says_cannot_reach() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(ConnectError, match=r"Cannot reach 127\.0\.0\.1"):
            await VoiceLiveConnection.open(settings_for(port), ApiKeyAuth(KEY))


async def test_silent_server_times_out() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accept TCP, never answer the HTTP upgrade

    srv = await asyncio.start_server(never, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ConnectError, match="Timed out"):
            await VoiceLiveConnection.open(settings_for(port, open_timeout_s=0.3), ApiKeyAuth(KEY))
    finally:
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        srv.close()
        await srv.wait_closed()


async def test_large_messages_are_accepted(server: Server) -> None:
    big = '{"type":"conversation.item.retrieved","pad":"' + "A" * (3 * 1024 * 1024) + '"}'
    server.messages = [big]
    conn = await VoiceLiveConnection.open(settings_for(server.port), ApiKeyAuth(KEY))
    assert await conn.recv() == big
    await conn.close()


@pytest.mark.parametrize(
    ("code", "reason", "words"),
    [
        (1001, "session_expired", "session expired"),
        (1011, "", "internal error"),
        (1000, "", "closed the session"),
    ],
)
async def test_close_codes_become_connection_lost(
    server: Server, code: int, reason: str, words: str
) -> None:
    server.close_code, server.close_reason = code, reason
    conn = await VoiceLiveConnection.open(settings_for(server.port), ApiKeyAuth(KEY))
    with pytest.raises(ConnectionLost, match=words):
        await conn.recv()
    with pytest.raises(ConnectionLost):
        await conn.send({"type": "input_audio_buffer.commit"})
    await conn.close()  # closing a closed connection never raises


def test_empty_key_is_refused() -> None:
    with pytest.raises(AuthError):
        ApiKeyAuth(Secret("  "))


async def test_entra_failure_is_an_auth_error_without_details() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    class NoCredential:
        closed = False

        async def get_token(self, *scopes: str, **kw: Any) -> Any:
            raise ClientAuthenticationError("DefaultAzureCredential failed: secret-ish detail")

        async def close(self) -> None:
            NoCredential.closed = True

    auth = EntraAuth("https://ai.azure.com/.default", NoCredential())  # type: ignore[arg-type]
    with pytest.raises(AuthError, match="az login") as info:
        await auth.headers()
    assert "secret-ish" not in str(info.value)
    await auth.close()
    await auth.close()  # idempotent
    assert NoCredential.closed


def test_azure_identity_async_transport_is_installed() -> None:
    # azure.identity.aio needs aiohttp but does not depend on it; without it every Entra
    # sign-in fails with an ImportError (seen before aiohttp was a dependency).
    from azure.core.pipeline.transport import AioHttpTransport

    assert AioHttpTransport is not None


# --- Foundry agents and preview features in the URL --------------------------------------------

AGENT = AgentSettings("trip-planner", "contoso-travel")


def test_build_url_names_the_agent_instead_of_the_model() -> None:
    base = "wss://res.services.ai.azure.com/voice-live/realtime?api-version=2026-07-15"
    assert build_url("https://res.services.ai.azure.com", "2026-07-15", "gpt-4o", agent=AGENT) == (
        base + "&agent-name=trip-planner&agent-project-name=contoso-travel"
    )
    full = AgentSettings("trip planner", "contoso", version="3", conversation_id="conv_1&x")
    url = build_url("https://res.services.ai.azure.com/", "2026-07-15", "gpt-4o", agent=full)
    assert url == (
        base + "&agent-name=trip+planner&agent-project-name=contoso&agent-version=3"
        "&conversation-id=conv_1%26x"
    )
    # a model on the endpoint's own query does not come back in an agent session
    url = build_url("https://h/?model=gpt-4o&foo=1", "v", "gpt-4o", agent=AGENT)
    assert "model=" not in url and url.endswith("&foo=1")


def test_build_url_carries_the_feature_flags() -> None:
    url = build_url(
        "https://h", "2026-06-01-preview", "gpt-4o", features=["client_ec_reference:true"]
    )
    assert url == (
        "wss://h/voice-live/realtime?api-version=2026-06-01-preview&model=gpt-4o"
        "&features=client_ec_reference%3Atrue"
    )
    assert "features" not in build_url("https://h", "2026-07-15", "gpt-4o")


def test_settings_keep_the_feature_flag_in_step_with_the_echo_reference() -> None:
    on = Settings(
        ConnectionSettings("https://h", features=("other:1",)),
        session=SessionSettings(echo_reference=True),
    )
    assert on.connection.features == ("other:1", "client_ec_reference:true")
    off = dataclasses.replace(on, session=SessionSettings())
    assert off.connection.features == ("other:1",)
    again = dataclasses.replace(off, session=SessionSettings(echo_reference=True))
    assert again.connection.features == on.connection.features


async def test_agent_handshake_query_and_entra_header(server: Server) -> None:
    class Bearer:
        description = "test bearer"

        async def headers(self) -> dict[str, str]:
            return {"Authorization": "Bearer tok"}

        async def close(self) -> None:
            return None

    settings = settings_for(
        server.port,
        api_key=None,
        agent=AgentSettings("trip-planner", "contoso", "2"),
        features=("client_ec_reference:true",),
    )
    conn = await VoiceLiveConnection.open(settings, Bearer())
    await conn.close()
    req = server.requests[0]
    assert req.path == (
        "/voice-live/realtime?api-version=2026-07-15&agent-name=trip-planner"
        "&agent-project-name=contoso&agent-version=2&features=client_ec_reference%3Atrue"
    )
    assert req.headers["Authorization"] == "Bearer tok" and "api-key" not in req.headers
