"""The doctor's network checks against real peers on loopback: a TLS server with a certificate
made here (trusted through SSL_CERT_FILE, or not), an HTTP CONNECT proxy in between, the
simulator's handshake, and an Entra credential that fails or succeeds."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from voicelive.auth import ApiKeyAuth, EntraAuth
from voicelive.config.resolve import resolve_settings
from voicelive.config.settings import Secret
from voicelive.doctor import network_checks as nc
from voicelive.simulator import Simulator
from voicelive.simulator.options import SimulatorOptions

ISSUER = "voicelive doctor test CA"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (its own issuer) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ISSUER),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[int, Path]]:
    """A TLS server on 127.0.0.1 that completes the handshake and waits for the close."""
    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        with contextlib.suppress(OSError):  # the client may close without TLS's close_notify
            await reader.read()  # the client closes after the handshake
        await closed(writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    async with server:
        yield server.sockets[0].getsockname()[1], cert
        # every connection ends by itself once its client closes: wait for them to end
        await asyncio.wait_for(asyncio.gather(*handlers), 5)


async def closed(writer: asyncio.StreamWriter) -> None:
    """Close ``writer`` and wait for it; a peer already gone is no error here."""
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy", "WSS_PROXY", "wss_proxy", "SOCKS_PROXY",
                 "socks_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_proxy_env")
async def test_a_trusted_certificate_reports_its_issuer_and_a_direct_path(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    check = await nc.check_tls(f"wss://localhost:{port}/voice-live/realtime", None, "system")
    assert check.status == "ok", check
    assert f"certificate issued by {ISSUER}, localhost" in check.detail
    assert "direct (no proxy); roots: the roots in SSL_CERT_FILE=" in check.detail
    assert check.detail.startswith("TLSv1.")


@pytest.mark.usefixtures("no_proxy_env")
async def test_an_untrusted_certificate_fails_with_the_reason(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port, _ = tls_server
    (tmp_path / "other").mkdir()
    other, _ = make_certificate(tmp_path / "other")
    monkeypatch.setenv("SSL_CERT_FILE", str(other))  # trusts another certificate only
    check = await nc.check_tls(f"wss://localhost:{port}/voice-live/realtime", None, "system")
    assert check.status == "fail"
    assert "is not trusted" in check.detail
    assert "SSL_CERT_FILE" in check.fix


@pytest.mark.usefixtures("no_proxy_env")
async def test_tls_goes_through_the_proxy_websockets_would_use(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_server
    requests: list[bytes] = []
    tunnel_closed = asyncio.Event()

    async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        requests.append(head.split(b"\r\n")[0])
        target = head.split()[1].decode()
        target_port = target.rpartition(":")[2]
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(target_port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            await closed(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        tunnel_closed.set()

    proxy = await asyncio.start_server(tunnel, "127.0.0.1", 0)
    async with proxy:
        proxy_port = proxy.sockets[0].getsockname()[1]
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        url = f"wss://localhost:{port}/voice-live/realtime"
        direct = await nc.check_tls(url, "none", "system")  # --proxy none: as chat, no tunnel
        assert requests == [] and "direct (no proxy)" in direct.detail, direct
        check = await nc.check_tls(url, None, "system")  # the environment's proxy, as chat
        await asyncio.wait_for(tunnel_closed.wait(), 5)  # both ways closed behind the check
    assert check.status == "ok", check
    assert "through the proxy 127.0.0.1;" in check.detail
    assert [r.rsplit(b" ", 1)[0] for r in requests] == [f"CONNECT localhost:{port}".encode()]


async def test_a_name_that_does_not_resolve_fails_the_endpoint() -> None:
    check = await nc.check_endpoint("wss://no-such-resource.invalid/voice-live/realtime")
    assert check.status == "fail"
    assert "no-such-resource.invalid does not resolve" in check.detail
    assert "AZURE_VOICELIVE_ENDPOINT" in check.fix


class FakeCredential:
    """An AsyncTokenCredential that fails or hands out a fixed token."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        if self.token is None:
            raise ClientAuthenticationError("no az login")
        return AccessToken(self.token, 2_000_000_000)

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("token", [None, "eyJ-THE-TOKEN"])
async def test_the_entra_credential_is_acquired_or_fails_never_shown(token: str | None) -> None:
    settings = resolve_settings({"endpoint": "https://r.example.com"}, environ={})
    check = await nc.check_credential(settings, EntraAuth("scope/.default", FakeCredential(token)))  # type: ignore[arg-type]
    assert check.status == ("ok" if token else "fail")
    assert "eyJ" not in check.detail + check.fix
    if token is None:
        assert "az login" in check.fix


async def test_the_handshake_reports_times_and_the_request_id_or_the_refusal() -> None:
    async with Simulator(SimulatorOptions(api_key="right")) as sim:
        settings = resolve_settings({"endpoint": sim.endpoint, "api_key": "right"}, environ={})
        good = await nc.check_handshake(settings, ApiKeyAuth(Secret("right")))
        bad = await nc.check_handshake(settings, ApiKeyAuth(Secret("wrong-key-42")))
    assert good.status == "ok", good
    assert "session.update answered in" in good.detail
    assert "x-ms-client-request-id" in good.detail
    assert bad.status == "fail"
    assert "HTTP 401" in bad.fix and "wrong-key-42" not in bad.fix + bad.detail
