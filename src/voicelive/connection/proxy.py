"""Which proxy a connection goes through, and how to name it without its credentials.

The setting (``--proxy`` / ``VOICELIVE_PROXY``) is a URL, ``none`` (:data:`DIRECT`) or unset.
Unset means what the environment and the OS say, exactly as websockets reads them
(``urllib.request.getproxies``: ``WSS_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``..., the Windows
registry or macOS System Settings, with ``NO_PROXY`` honoured); the Entra ID token requests
follow the same choice (:func:`azure_transport_options`). Credentials in the URL go as HTTP
Basic (websockets supports nothing else: NTLM or Kerberos proxies need a local relay such as
cntlm or px). SOCKS needs the optional ``python-socks`` package.

Pure functions, no I/O except :func:`open_tunnel` (used only to diagnose a failed handshake);
importable without websockets' client (``voicelive doctor`` may call them).
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from voicelive.config.settings import DIRECT

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")
SOCKS_MISSING = (
    "A SOCKS proxy needs the python-socks package: pip install 'voicelive[socks]' (or "
    "python-socks), or use an http:// proxy."
)


def check_proxy_url(text: str) -> str | None:
    """Why ``text`` cannot be a proxy URL (a predicate for a sentence), None when it can."""
    try:
        parts = urlsplit(text)
        _ = parts.port  # ValueError when not a number
    except ValueError:
        return "a URL such as http://proxy.example.com:8080, or none"
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        return "an http://, https://, socks5:// or socks5h:// URL (http://proxy:8080), or none"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "a proxy URL without a path or query, such as http://proxy.example.com:8080"
    if parts.username is not None and parts.password is None:
        return "a URL with user and password both (http://user:pass@host:port), or none"
    return None


def websockets_proxy(setting: str | None) -> str | Literal[True] | None:
    """The ``proxy`` argument for websockets' connect: True lets it read the environment."""
    if setting is None:
        return True
    return None if setting.lower() == DIRECT else setting


def effective_proxy(setting: str | None, ws_url: str) -> str | None:
    """The proxy URL a connection to ``ws_url`` uses, None for a direct one. From the
    environment, ``host:port`` without a scheme means ``http://host:port``, as curl reads it."""
    chosen = websockets_proxy(setting)
    if chosen is not True:
        return chosen
    from websockets.proxy import get_proxy
    from websockets.uri import parse_uri

    found = get_proxy(parse_uri(ws_url))
    if found is not None and "://" not in found:
        found = "http://" + found
    return found


def shown_proxy(url: str) -> str:
    """``scheme://host:port`` of ``url``: never its user name or password."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 1080 if "socks" in url else 80)
    except ValueError:  # not a number: show the host only
        return f"{parts.scheme}://{parts.hostname or '?'}"
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{port}"


def has_credentials(url: str) -> bool:
    return urlsplit(url).username is not None


def socks_available() -> bool:
    return importlib.util.find_spec("python_socks") is not None


def azure_transport_options(setting: str | None) -> dict[str, Any]:
    """Keyword arguments that route azure-identity's token requests like the WebSocket.

    A URL becomes ``proxies`` (azure-core's ProxyPolicy, honoured by the aiohttp transport);
    ``none`` turns off the environment's proxies (``use_env_settings=False``); unset keeps
    aiohttp's own reading of ``HTTPS_PROXY``/``NO_PROXY``. SOCKS is not supported by aiohttp:
    the token requests then go directly (logged).
    """
    if setting is None:
        return {}
    if setting.lower() == DIRECT:
        return {"use_env_settings": False}
    if urlsplit(setting).scheme.lower().startswith("socks"):
        log.info("Entra ID token requests do not go through a SOCKS proxy (aiohttp has none)")
        return {}
    return {"proxies": {"http": setting, "https": setting}}


async def open_tunnel(
    proxy: str | None, host: str, port: int, timeout_s: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP stream to ``host:port``, through ``proxy`` (HTTP CONNECT or SOCKS) when given.

    Used only to look at a certificate after a failed handshake. Raises OSError,
    TimeoutError, or ConnectionError when the proxy refuses.
    """
    import asyncio

    if proxy is None:
        return await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    parts = urlsplit(proxy)
    if parts.scheme.startswith("socks"):
        from python_socks.async_.asyncio import Proxy as SocksProxy

        sock = await asyncio.wait_for(SocksProxy.from_url(proxy).connect(host, port), timeout_s)
        return await asyncio.open_connection(sock=sock)
    from websockets.headers import build_authorization_basic

    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname, parts.port or 80, ssl=parts.scheme == "https"),
        timeout_s,
    )
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
    if parts.username is not None:
        from urllib.parse import unquote

        basic = build_authorization_basic(unquote(parts.username), unquote(parts.password or ""))
        request += f"Proxy-Authorization: {basic}\r\n"
    writer.write((request + "\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout_s)
    status = head.split(b" ", 2)[1] if head.count(b" ") >= 1 else b""
    if not status.startswith(b"2"):
        writer.close()
        raise ConnectionError(f"proxy answered {status.decode(errors='replace')}")
    return reader, writer
