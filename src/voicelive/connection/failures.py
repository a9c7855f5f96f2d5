"""One sentence per way a connection can fail on the network, each saying what to do.

:func:`explain` turns what websockets, asyncio, ``ssl`` and the OS raise while opening a
connection (DNS, refused, timeouts, the TLS handshake, a certificate, the proxy) into a
:class:`~voicelive.errors.ConnectError` (exit 4) or, for a setting that cannot work, a
:class:`~voicelive.errors.ConfigError` (exit 2). Proxies are named without their
credentials. ``retryable`` says whether the same attempt may work later (a reconnect keeps
trying), as :class:`ConnectError` documents. Loop thread; cancel-safe.
"""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import dataclass

from websockets.exceptions import InvalidProxy, InvalidProxyMessage, InvalidProxyStatus, ProxyError

from voicelive.connection.proxy import SOCKS_MISSING, has_credentials, shown_proxy
from voicelive.connection.tls import describe_refusal, peer_certificate
from voicelive.errors import ConfigError, ConnectError, VoiceLiveError

_TLS_TIMEOUT_TEXT = "ssl handshake is taking longer than"
PROXY_SETTING = "--proxy / HTTPS_PROXY"


@dataclass(frozen=True)
class Attempt:
    """Where a failed connection went: the endpoint's ``host`` and ``port``, the ``proxy`` URL
    it went through (None: direct), the trust source, and the time limits (seconds)."""

    host: str
    port: int
    proxy: str | None
    trust: str
    timeout_s: float
    tls_timeout_s: float


async def explain(exc: BaseException, at: Attempt) -> VoiceLiveError | None:
    """The error to raise for ``exc``, None when it is not a network failure known here."""
    via = f" through the proxy {shown_proxy(at.proxy)}" if at.proxy else ""
    if isinstance(exc, ssl.SSLCertVerificationError):
        cert = await peer_certificate(at.host, at.port, at.proxy, min(5.0, at.timeout_s))
        return ConnectError(describe_refusal(exc, at.host, cert, at.trust))
    if isinstance(exc, ConnectionAbortedError) and _TLS_TIMEOUT_TEXT in str(exc).lower():
        return ConnectError(
            f"The TLS handshake with {at.host}{via} got no answer within {at.tls_timeout_s:g} s: "
            "a firewall or proxy may be holding it; check the network (and --proxy), or allow "
            "more time with --connect-timeout.",
            retryable=True,
        )
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or exc.__class__.__name__
        return ConnectError(
            f"The TLS handshake with {at.host}{via} failed ({reason}): check that the endpoint "
            "is https:// and, if your network inspects TLS, that its proxy allows this host.",
            retryable=True,
        )
    if at.proxy is not None:
        proxy_error = _proxy_error(exc, at)
        if proxy_error is not None:
            return proxy_error
    if isinstance(exc, TimeoutError):
        return ConnectError(
            f"Timed out connecting to {at.host}{via} after {at.timeout_s:g} s; check the "
            "endpoint and your network, or allow more time with --connect-timeout.",
            retryable=True,
        )
    if isinstance(exc, socket.gaierror):
        return ConnectError(
            f"Cannot resolve the host {at.host} (no DNS answer); check --endpoint / "
            "AZURE_VOICELIVE_ENDPOINT and your network's DNS (behind a proxy, set --proxy).",
            retryable=True,  # a network that is coming back cannot resolve either
        )
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError(
            f"Cannot reach {at.host}: port {at.port} refused the connection; check --endpoint "
            "(its host and port), or whether your network needs a proxy (--proxy).",
            retryable=True,
        )
    if isinstance(exc, OSError):
        reason = _os_reason(exc)
        return ConnectError(
            f"Cannot reach {at.host} ({reason}); check the endpoint and your network.",
            retryable=True,
        )
    return None


def _proxy_error(exc: BaseException, at: Attempt) -> VoiceLiveError | None:
    assert at.proxy is not None
    proxy = shown_proxy(at.proxy)
    if isinstance(exc, InvalidProxyStatus):
        status = exc.response.status_code
        if status == 407:
            given = (
                "rejected the user and password in the proxy URL"
                if has_credentials(at.proxy)
                else "wants credentials"
            )
            return ConnectError(
                f"The proxy {proxy} {given} (HTTP 407): give them as --proxy "
                "http://user:pass@host:port (Basic only; for NTLM or Kerberos run a local relay "
                "such as cntlm or px and point --proxy at it)."
            )
        return ConnectError(
            f"The proxy {proxy} refused to connect to {at.host} (HTTP {status}): ask your "
            "network's administrators to allow it, or check --endpoint.",
            retryable=status >= 500,
            status=status,
        )
    if isinstance(exc, InvalidProxyMessage):
        return ConnectError(
            f"The proxy {proxy} did not answer as an HTTP proxy; check {PROXY_SETTING} (its "
            "scheme and port).",
            retryable=True,
        )
    if isinstance(exc, InvalidProxy):
        return ConfigError(f"The proxy URL is not valid ({exc}); check {PROXY_SETTING}.")
    if isinstance(exc, ImportError):
        return ConfigError(SOCKS_MISSING)
    if isinstance(exc, ProxyError):  # SOCKS refusals
        return ConnectError(
            f"The SOCKS proxy {proxy} did not connect to {at.host}; check {PROXY_SETTING}.",
            retryable=True,
        )
    if isinstance(exc, OSError) and not isinstance(exc, ConnectionResetError | TimeoutError):
        reason = _os_reason(exc)
        return ConnectError(
            f"Cannot reach the proxy {proxy} ({reason}); check {PROXY_SETTING}, or use "
            "--proxy none to connect directly.",
            retryable=True,
        )
    return None


def _os_reason(exc: OSError) -> str:
    """``no DNS answer``, ``connection refused``, else the OS's words."""
    if isinstance(exc, socket.gaierror):
        return "no DNS answer"
    refused = isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED
    if refused or "connect call failed" in str(exc).lower():  # asyncio's and python-socks' words
        return "connection refused"
    return exc.strerror or str(exc) or exc.__class__.__name__
