"""Real network parts for the networks tests: a test CA, a TLS front, a CONNECT proxy.

- :class:`TestCA` makes a root and issues server certificates (any names, any dates) as PEM
  files, with the ``cryptography`` package (azure-identity's msal depends on it);
- :class:`TlsFront` terminates TLS on loopback with one of those certificates and relays the
  bytes to a plain TCP server (the simulator), as a TLS-terminating load balancer does;
- :class:`ConnectProxy` is an HTTP CONNECT proxy that records every CONNECT (target and
  headers), optionally demands Basic credentials (407), and relays the tunnel;
- :class:`SilentServer` accepts TCP connections and never says a word (a stalled handshake).

All listen on 127.0.0.1:0 and close every connection on exit.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


class TestCA:
    """A root certificate authority named ``name``, written to ``directory/<slug>-ca.pem``."""

    __test__ = False  # not a pytest class

    def __init__(self, directory: Path, name: str = "voicelive Test Root CA") -> None:
        self.directory = directory
        self.name = name
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._subject = subject
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - DAY)
            .not_valid_after(NOW + 30 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        slug = name.lower().replace(" ", "-")
        self.pem = directory / f"{slug}-ca.pem"
        self.pem.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        *names: str,
        not_before: datetime.datetime = NOW - DAY,
        not_after: datetime.datetime = NOW + 7 * DAY,
        label: str = "server",
    ) -> Issued:
        """A server certificate for ``names`` (DNS names or IP addresses), with its key."""
        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self._subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        cert_path = self.directory / f"{label}.pem"
        key_path = self.directory / f"{label}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Issued(cert_path, key_path)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def relay(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    """Copy both ways until either side closes."""
    await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))


class _Listener:
    """A loopback server whose connections are all closed on exit."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    port = 0
    """The port listened on (still known after exit)."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)
            self._tasks.discard(task)

    async def __aenter__(self) -> Any:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


class TlsFront(_Listener):
    """TLS on loopback with ``issued``'s certificate, relayed to ``target_port`` (plain TCP)."""

    def __init__(self, issued: Issued, target_port: int) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(issued.cert, issued.key)
        super().__init__(context)
        self.target_port = target_port

    @property
    def endpoint(self) -> str:
        return f"https://localhost:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
        await relay((reader, writer), upstream)


@dataclass
class ConnectSeen:
    target: str
    headers: dict[str, str] = field(default_factory=dict)


class ConnectProxy(_Listener):
    """An HTTP CONNECT proxy; ``credentials`` ``(user, password)`` makes it demand Basic."""

    def __init__(
        self, credentials: tuple[str, str] | None = None, refuse_with: int | None = None
    ) -> None:
        super().__init__()
        self.credentials = credentials
        self.refuse_with = refuse_with
        """Answer every CONNECT with this status (403: a policy, 502: no way there)."""
        self.seen: list[ConnectSeen] = []
        self.tunnelled = asyncio.Event()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request, *lines = head.split("\r\n")
        method, target, _ = request.split(" ", 2)
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines if ln)
        }
        self.seen.append(ConnectSeen(target, headers))
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        if self.credentials is not None:
            expected = base64.b64encode(":".join(self.credentials).encode()).decode()
            if headers.get("proxy-authorization") != f"Basic {expected}":
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
                )
                await writer.drain()
                return
        if self.refuse_with is not None:
            writer.write(
                f"HTTP/1.1 {self.refuse_with} Refused\r\nContent-Length: 0\r\n\r\n".encode()
            )
            await writer.drain()
            return
        host, _, port = target.rpartition(":")
        upstream = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        self.tunnelled.set()
        await relay((reader, writer), upstream)


class SilentServer(_Listener):
    """Accepts connections, reads what comes, and never answers."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class TokenServer(_Listener):
    """An HTTPS Entra ID token endpoint: every POST gets ``token`` (one request per connection);
    ``paths`` records what was asked for."""

    def __init__(self, issued: Issued, token: str = "entra-test-token") -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(issued.cert, issued.key)
        super().__init__(context)
        self.token = token
        self.paths: list[str] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import json

        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request, *lines = head.split("\r\n")
        self.paths.append(request.split(" ")[1])
        length = next(
            (
                int(v)
                for k, _, v in (ln.partition(":") for ln in lines)
                if k.lower() == "content-length"
            ),
            0,
        )
        await reader.readexactly(length)
        body = json.dumps(
            {"access_token": self.token, "token_type": "Bearer", "expires_in": 3600}
        ).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
