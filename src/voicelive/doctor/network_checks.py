"""The checks of the way to the service: ``endpoint`` (DNS), ``tls``, ``credential``, ``handshake``.

``handshake`` goes the way ``chat`` goes, through
:meth:`voicelive.connection.client.VoiceLiveConnection.open` and
:func:`voicelive.connection.session_setup.set_up`, so what it reports is what a chat would
meet. ``tls`` uses the standard library (through the proxy websockets would use, by an HTTP
CONNECT tunnel) to read the certificate's issuer. All coroutines; none raises. A detail never
holds the credential or the endpoint's query (which may carry a key): hosts only.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from voicelive.auth import Auth
from voicelive.config.settings import Settings
from voicelive.doctor.check import Check, fail, ok, warn
from voicelive.errors import VoiceLiveError

log = logging.getLogger(__name__)

TLS_TIMEOUT_S = 10.0
SETUP_TIMEOUT_S = 15.0
TOKEN_TIMEOUT_S = 30.0


def _host_port(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    return parts.hostname or "", parts.port or (443 if secure else 80), secure


async def check_endpoint(url: str) -> Check:
    """``endpoint``: the host name resolves."""
    host, port, _ = _host_port(url)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return fail(
            "endpoint",
            f"{host} does not resolve ({exc.strerror or type(exc).__name__})",
            "check --endpoint / AZURE_VOICELIVE_ENDPOINT (https://<resource>.services.ai.azure"
            ".com) and your network's DNS",
        )
    addresses = sorted({str(info[4][0]) for info in infos})
    shown = ", ".join(addresses[:3]) + (", ..." if len(addresses) > 3 else "")
    return ok("endpoint", f"{host} resolves to {shown}")


def _peer_certificate(
    host: str, port: int, proxy: str | None, context: ssl.SSLContext
) -> tuple[dict[str, Any], str]:
    """The server's certificate, verified with ``context``, and the TLS version, directly or
    through an HTTP(S) proxy's CONNECT tunnel. Blocking. Raises OSError (ssl.SSLError is one)."""
    import http.client

    if proxy is None:
        conn = http.client.HTTPSConnection(host, port, timeout=TLS_TIMEOUT_S, context=context)
    else:
        parts = urlsplit(proxy)
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port or 8080, timeout=TLS_TIMEOUT_S, context=context
        )
        conn.set_tunnel(host, port)
    try:
        conn.connect()
        sock = conn.sock
        assert isinstance(sock, ssl.SSLSocket)
        return sock.getpeercert() or {}, sock.version() or "TLS"
    finally:
        conn.close()


def _issuer(cert: dict[str, Any]) -> str:
    fields: dict[str, str] = {}
    for rdn in cert.get("issuer", ()):
        for key, value in rdn:
            fields.setdefault(str(key), str(value))
    names = [fields[k] for k in ("organizationName", "commonName") if k in fields]
    return ", ".join(dict.fromkeys(names)) or "an unnamed issuer"


async def check_tls(url: str, proxy_setting: str | None, trust: str) -> Check:
    """``tls``: the certificate verifies with the roots chat uses (``--trust``, SSL_CERT_FILE);
    its issuer, the TLS version, and the proxy chat would take (``--proxy``, the environment).
    Raises ConfigError for an unreadable SSL_CERT_FILE/DIR (as chat would)."""
    from voicelive.connection.proxy import effective_proxy
    from voicelive.connection.tls import client_context

    host, port, secure = _host_port(url)
    if not secure:
        return ok(
            "tls", f"not used: ws:// to the loopback host {host} (nothing leaves this machine)"
        )
    proxy = effective_proxy(proxy_setting, url)
    context, roots = client_context(trust)
    shown_proxy = None if proxy is None else (urlsplit(proxy).hostname or "?")
    via = "direct (no proxy)" if proxy is None else f"through the proxy {shown_proxy}"
    if proxy is not None and not proxy.startswith(("http://", "https://")):
        return warn(
            "tls",
            f"connections go {via} ({urlsplit(proxy).scheme}); the certificate was not checked",
            "if chat cannot connect, try without the proxy or with an HTTP one",
        )
    try:
        cert, version = await asyncio.to_thread(_peer_certificate, host, port, proxy, context)
    except ssl.SSLCertVerificationError as exc:
        return fail(
            "tls",
            f"the certificate of {host} is not trusted by {roots} ({exc.verify_message}), {via}",
            "a proxy that inspects TLS needs its root certificate trusted (SSL_CERT_FILE); "
            "otherwise check the endpoint",
        )
    except (OSError, TimeoutError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return fail(
            "tls",
            f"no TLS connection to {host}:{port} {via} ({reason})",
            "check your network, firewall and proxy settings (HTTPS_PROXY, NO_PROXY)",
        )
    return ok("tls", f"{version}, certificate issued by {_issuer(cert)}, {via}; roots: {roots}")


async def check_credential(settings: Settings, auth: Auth) -> Check:
    """``credential``: a key is there, or an Entra token was acquired; neither is shown."""
    if settings.connection.api_key is not None:
        return ok("credential", "an API key is set (not shown)")
    try:
        async with asyncio.timeout(TOKEN_TIMEOUT_S):  # azure-identity may try one source a while
            await auth.headers()
    except VoiceLiveError as err:
        return fail("credential", "no Microsoft Entra token could be acquired", str(err))
    except TimeoutError:
        return fail(
            "credential",
            f"no Microsoft Entra token within {TOKEN_TIMEOUT_S:g} s",
            "run `az login` (or set an API key: AZURE_VOICELIVE_API_KEY) and try again",
        )
    return ok(
        "credential",
        f"a Microsoft Entra token was acquired for {settings.connection.token_scope} (not shown)",
    )


async def check_handshake(settings: Settings, auth: Auth) -> Check:
    """``handshake``: the WebSocket opens and ``session.update`` is answered; the times and
    the request id (to quote to support)."""
    from voicelive.connection.client import VoiceLiveConnection
    from voicelive.connection.session_setup import set_up
    from voicelive.protocol.client_events import EventIds

    started = time.monotonic()
    try:
        conn = await VoiceLiveConnection.open(settings.connection, auth)
    except VoiceLiveError as err:
        return fail("handshake", "the WebSocket handshake failed", str(err))
    opened = time.monotonic()
    try:
        info = await set_up(conn, settings, EventIds(), SETUP_TIMEOUT_S)
    except VoiceLiveError as err:
        return fail(
            "handshake",
            f"connected (x-ms-client-request-id {conn.request_id}), but the session set-up failed",
            str(err),
        )
    finally:
        await conn.close()
    done = time.monotonic()
    return ok(
        "handshake",
        f"WebSocket open in {(opened - started) * 1000:.0f} ms, session.update answered in "
        f"{(done - opened) * 1000:.0f} ms (session {info.id or '?'}, "
        f"x-ms-client-request-id {conn.request_id})",
    )
