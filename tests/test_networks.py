"""TLS, trust and proxies with real parts on loopback: the client's connection against the
simulator behind a TLS front with a test CA, through a CONNECT proxy written here.

Each failure a user's network can cause gets its sentence (ConnectError, exit 4). The same
failures through the real ``voicelive chat`` process are in test_networks_process.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tls_proxy import (
    DAY,
    NOW,
    ConnectProxy,
    SilentServer,
    TestCA,
    TlsFront,
    TokenServer,
    closed_port,
)
from voicelive.auth import ApiKeyAuth, EntraAuth
from voicelive.config.settings import ConnectionSettings, Secret
from voicelive.connection.client import VoiceLiveConnection
from voicelive.connection.tls import client_context
from voicelive.errors import ConnectError
from voicelive.simulator import Simulator, SimulatorOptions

KEY = "net-test-key"


@dataclass
class Bed:
    ca: TestCA
    sim: Simulator
    front: TlsFront
    tmp: Path

    def front_with(self, *names: str, **dates: object) -> TlsFront:
        issued = self.ca.issue(*names, label="-".join(names), **dates)  # type: ignore[arg-type]
        return TlsFront(issued, self.sim.port)


@pytest.fixture
async def bed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bed]:
    for name in ("HTTPS_PROXY", "https_proxy", "WSS_PROXY", "wss_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    ca = TestCA(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.pem))
    async with (
        Simulator(SimulatorOptions(api_key=KEY)) as sim,
        TlsFront(ca.issue("localhost", "127.0.0.1"), sim.port) as front,
    ):
        yield Bed(ca, sim, front, tmp_path)


async def open_conn(endpoint: str, **conn: object) -> VoiceLiveConnection:
    settings = ConnectionSettings(endpoint=endpoint, **conn)  # type: ignore[arg-type]
    return await VoiceLiveConnection.open(settings, ApiKeyAuth(Secret(KEY)))


async def refusal(endpoint: str, **conn: object) -> ConnectError:
    with pytest.raises(ConnectError) as caught:
        await open_conn(endpoint, **conn)
    return caught.value


async def test_tls_with_the_test_ca_in_ssl_cert_file_connects(
    bed: Bed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "voicelive")
    conn = await open_conn(bed.front.endpoint)
    await conn.close()
    assert len(bed.sim.connections) == 1
    assert f"TLS trust: the roots in SSL_CERT_FILE={bed.ca.pem}" in caplog.text


async def test_an_http_proxy_carries_the_connection_and_its_connect_is_seen(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url())
        conn = await open_conn(bed.front.endpoint)
        await conn.close()
    assert [seen.target for seen in proxy.seen] == [f"localhost:{bed.front.port}"]
    assert "proxy-authorization" not in proxy.seen[0].headers
    assert len(bed.sim.connections) == 1


async def test_no_proxy_bypasses_the_environment_proxy(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url())
        monkeypatch.setenv("NO_PROXY", "localhost")
        conn = await open_conn(bed.front.endpoint)
        await conn.close()
    assert proxy.seen == []
    assert len(bed.sim.connections) == 1


async def test_proxy_none_connects_directly_whatever_the_environment_says(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url())
        conn = await open_conn(bed.front.endpoint, proxy="none")
        await conn.close()
    assert proxy.seen == []


async def test_a_flag_proxy_with_credentials_sends_them_as_basic(bed: Bed) -> None:
    async with ConnectProxy(credentials=("alice", "s3cret")) as proxy:
        conn = await open_conn(bed.front.endpoint, proxy=proxy.url("alice:s3cret"))
        await conn.close()
    assert proxy.seen[0].headers["proxy-authorization"] == "Basic YWxpY2U6czNjcmV0"
    assert proxy.tunnelled.is_set()


async def test_a_proxy_that_wants_credentials_says_how_to_give_them(bed: Bed) -> None:
    async with ConnectProxy(credentials=("alice", "s3cret")) as proxy:
        error = await refusal(bed.front.endpoint, proxy=proxy.url())
        wrong = await refusal(bed.front.endpoint, proxy=proxy.url("alice:wrong"))
    assert str(error) == (
        f"The proxy http://127.0.0.1:{proxy.port} wants credentials (HTTP 407): give them as "
        "--proxy http://user:pass@host:port (Basic only; for NTLM or Kerberos run a local relay "
        "such as cntlm or px and point --proxy at it)."
    )
    assert "rejected the user and password in the proxy URL (HTTP 407)" in str(wrong)
    assert "wrong" not in str(wrong) and "alice" not in str(wrong)
    assert not error.retryable


@pytest.mark.parametrize("status", [403, 502])
async def test_a_proxy_that_refuses_the_host_says_so(bed: Bed, status: int) -> None:
    async with ConnectProxy(refuse_with=status) as proxy:
        error = await refusal(bed.front.endpoint, proxy=proxy.url())
    assert str(error) == (
        f"The proxy http://127.0.0.1:{proxy.port} refused to connect to localhost (HTTP "
        f"{status}): ask your network's administrators to allow it, or check --endpoint."
    )
    assert error.retryable is (status == 502)


async def test_a_proxy_host_without_dns_is_named(bed: Bed) -> None:
    error = await refusal(bed.front.endpoint, proxy="http://voicelive-proxy.invalid:3128")
    assert str(error) == (
        "Cannot reach the proxy http://voicelive-proxy.invalid:3128 (no DNS answer); check "
        "--proxy / HTTPS_PROXY, or use --proxy none to connect directly."
    )


async def test_an_unreachable_proxy_is_named(bed: Bed) -> None:
    port = closed_port()
    error = await refusal(bed.front.endpoint, proxy=f"http://u:p@127.0.0.1:{port}")
    assert str(error) == (
        f"Cannot reach the proxy http://127.0.0.1:{port} (connection refused); check --proxy / "
        "HTTPS_PROXY, or use --proxy none to connect directly."
    )
    assert error.retryable
    assert ":p@" not in str(error)


async def test_an_untrusted_certificate_names_its_issuer(bed: Bed) -> None:
    inspector = TestCA(bed.tmp, "Contoso TLS Inspection CA")
    async with TlsFront(inspector.issue("localhost", label="inspected"), bed.sim.port) as front:
        error = await refusal(front.endpoint)
    assert str(error) == (
        'The certificate of localhost was issued by "Contoso TLS Inspection CA", which '
        "SSL_CERT_FILE / SSL_CERT_DIR does not trust; if your network inspects TLS, install "
        "its root in the OS store or set SSL_CERT_FILE to a file holding it."
    )
    assert not error.retryable


async def test_the_os_store_does_not_trust_the_test_ca(
    bed: Bed, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "voicelive")
    monkeypatch.delenv("SSL_CERT_FILE")
    error = await refusal(bed.front.endpoint)
    assert "which the OS trust store does not trust" in str(error)
    assert '"voicelive Test Root CA"' in str(error)
    assert "TLS trust: the OS trust store (truststore)" in caplog.text


async def test_a_hostname_mismatch_names_the_certificate_s_names(bed: Bed) -> None:
    async with bed.front_with("other.example", "www.other.example") as front:
        error = await refusal(front.endpoint)
    assert str(error) == (
        "The certificate localhost presented is for other.example, www.other.example, not "
        'localhost (issued by "voicelive Test Root CA"): check --endpoint; if your network '
        "inspects TLS, its proxy answered for a host it does not cover."
    )


async def test_an_expired_certificate_gives_its_date(bed: Bed) -> None:
    async with bed.front_with("localhost", not_before=NOW - 9 * DAY, not_after=NOW - 2 * DAY) as f:
        error = await refusal(f.endpoint)
    day = (NOW - 2 * DAY).strftime("%Y-%m-%d %H:%M UTC")
    assert str(error) == (
        f'The certificate of localhost expired on {day} (issued by "voicelive Test Root CA"): '
        "check this computer's date and time; if they are right, the server's certificate must "
        "be renewed."
    )


async def test_an_expired_certificate_through_the_proxy_is_diagnosed_through_it(
    bed: Bed,
) -> None:
    async with (
        bed.front_with("localhost", not_before=NOW - 9 * DAY, not_after=NOW - 2 * DAY) as front,
        ConnectProxy() as proxy,
    ):
        error = await refusal(front.endpoint, proxy=proxy.url())
    assert "expired on" in str(error) and '"voicelive Test Root CA"' in str(error)
    assert len(proxy.seen) == 2  # the handshake, then the look at the certificate


async def test_a_dns_failure_says_so() -> None:
    error = await refusal("https://voicelive-no-such-host.invalid")
    assert str(error).startswith("Cannot resolve the host voicelive-no-such-host.invalid")
    assert error.retryable


async def test_a_refused_connection_names_host_and_port() -> None:
    port = closed_port()
    error = await refusal(f"https://localhost:{port}")
    assert str(error) == (
        f"Cannot reach localhost: port {port} refused the connection; check --endpoint (its "
        "host and port), or whether your network needs a proxy (--proxy)."
    )


async def test_a_stalled_tls_handshake_has_its_own_sentence(bed: Bed) -> None:
    async with SilentServer() as silent:
        error = await refusal(f"https://localhost:{silent.port}", open_timeout_s=1.5)
    assert str(error) == (
        "The TLS handshake with localhost got no answer within 1 s: a firewall or proxy may be "
        "holding it; check the network (and --proxy), or allow more time with --connect-timeout."
    )


def test_trust_python_uses_certifi(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import certifi

    caplog.set_level(logging.INFO, "voicelive")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    context, description = client_context("python")
    assert description == f"Python's bundle (certifi {certifi.where()})"
    assert context.cert_store_stats()["x509_ca"] > 50  # certifi's roots were loaded
    assert f"TLS trust: {description}" in caplog.text


@pytest.fixture
def entra_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """EnvironmentCredential's variables (DefaultAzureCredential tries it first), pointing
    at a local authority."""

    def point_at(port: int) -> None:
        monkeypatch.setenv("AZURE_TENANT_ID", "test-tenant")
        monkeypatch.setenv("AZURE_CLIENT_ID", "test-client")
        monkeypatch.setenv("AZURE_CLIENT_SECRET", "test-secret")
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", f"https://localhost:{port}")

    return point_at


async def test_entra_token_requests_go_through_the_flag_proxy_and_trust_the_ca(
    bed: Bed, entra_env: Callable[[int], None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "voicelive")
    async with (
        TokenServer(bed.ca.issue("localhost", label="login")) as login,
        ConnectProxy() as proxy,
    ):
        entra_env(login.port)
        auth = EntraAuth("https://ai.azure.com/.default", proxy=proxy.url(), trust="system")
        try:
            headers = await auth.headers()
        finally:
            await auth.close()
    assert headers == {"Authorization": "Bearer entra-test-token"}
    assert [seen.target for seen in proxy.seen] == [f"localhost:{login.port}"]
    assert login.paths == ["/test-tenant/oauth2/v2.0/token"]
    assert f"TLS trust: the roots in SSL_CERT_FILE={bed.ca.pem}" in caplog.text


async def test_entra_token_requests_follow_the_environment_proxy_and_proxy_none(
    bed: Bed, entra_env: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        TokenServer(bed.ca.issue("localhost", label="login")) as login,
        ConnectProxy() as proxy,
    ):
        entra_env(login.port)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url())
        for setting in (None, "none"):
            auth = EntraAuth("https://ai.azure.com/.default", proxy=setting)
            try:
                await auth.headers()
            finally:
                await auth.close()
    assert len(login.paths) == 2
    assert [seen.target for seen in proxy.seen] == [f"localhost:{login.port}"]  # not for none


async def test_entra_token_requests_refuse_an_untrusted_authority(
    bed: Bed, entra_env: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.core.exceptions import ServiceRequestError
    from azure.identity.aio import EnvironmentCredential

    monkeypatch.delenv("SSL_CERT_FILE")  # the OS store does not hold the test CA
    async with TokenServer(bed.ca.issue("localhost", label="login")) as login:
        entra_env(login.port)
        auth = EntraAuth("https://ai.azure.com/.default", trust="system")
        # one credential, no retries: the refusal itself is the point, not 5 s of backoff
        credential = EnvironmentCredential(**auth.credential_options(), retry_total=0)
        try:
            with pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
                await credential.get_token("https://ai.azure.com/.default")
        finally:
            await credential.close()
            await auth.close()
    assert login.paths == []


def resolved(**flags: object) -> ConnectionSettings:
    from voicelive.config.resolve import resolve_settings

    flags = {"endpoint": "https://x.services.ai.azure.com", "api_key": "k", **flags}
    return resolve_settings(flags, environ={}).connection


def test_the_network_options_reach_the_connection_settings() -> None:
    assert (resolved().proxy, resolved().trust, resolved().open_timeout_s) == (None, "system", 15)
    conn = resolved(proxy="None", trust="PYTHON", connect_timeout="2.5")
    assert (conn.proxy, conn.trust, conn.open_timeout_s) == ("none", "python", 2.5)
    assert resolved(proxy="socks5h://127.0.0.1:1080").proxy == "socks5h://127.0.0.1:1080"
    # the simulator listens on loopback: an environment proxy could not reach it
    assert resolved(simulate=True).proxy == "none"
    assert resolved(simulate=True, proxy="http://p:1").proxy == "http://p:1"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("ftp://proxy:21", "an http://, https://, socks5:// or socks5h:// URL"),
        ("proxy.example.com:8080", "an http://, https://, socks5:// or socks5h:// URL"),
        ("http://proxy:8080/path", "without a path or query"),
        ("http://alice@proxy:8080", "user and password both"),
        ("http://proxy:port", "a URL such as"),
    ],
)
def test_a_bad_proxy_url_is_refused_without_showing_its_password(value: str, words: str) -> None:
    from voicelive.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        resolved(proxy=value)
    assert words in str(caught.value) and str(caught.value).startswith("--proxy (VOICELIVE_PROXY)")
    with pytest.raises(ConfigError) as caught:
        resolved(proxy="ftp://alice:hunter2@proxy:21")
    assert "hunter2" not in str(caught.value) and "alice" not in str(caught.value)


def test_voicelive_config_hides_the_proxy_password() -> None:
    from voicelive.config.resolve import describe

    rows = describe({"proxy": "http://alice:hunter2@proxy:8080"}, environ={})
    assert [value for flag, value, _ in rows if flag == "--proxy"] == ["http://proxy:8080"]
    assert not any("hunter2" in value for _, value, _ in rows)


async def test_an_unreadable_ssl_cert_file_is_a_configuration_error(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicelive.errors import ConfigError

    not_pem = bed.tmp / "not-a-cert.pem"
    not_pem.write_text("hello\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(not_pem))
    with pytest.raises(ConfigError) as caught:
        await open_conn(bed.front.endpoint)
    assert str(caught.value) == (
        f"SSL_CERT_FILE names {not_pem}, which holds no readable certificates (SSLError); point "
        "it at a PEM file of root certificates, or unset it to use the OS store."
    )
    assert bed.sim.connections == []


async def test_an_environment_proxy_without_a_scheme_is_http(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{proxy.port}")  # as curl accepts it
        conn = await open_conn(bed.front.endpoint)
        await conn.close()
    assert [seen.target for seen in proxy.seen] == [f"localhost:{bed.front.port}"]


async def test_a_bad_environment_proxy_is_a_configuration_error(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicelive.errors import ConfigError

    monkeypatch.setenv("HTTPS_PROXY", "http://alice:hunter2@proxy:notaport")
    with pytest.raises(ConfigError) as caught:
        await open_conn(bed.front.endpoint)
    assert str(caught.value) == (
        "The proxy URL from the environment (http://proxy) must be a URL such as "
        "http://proxy.example.com:8080, or none: fix HTTPS_PROXY (or the OS proxy settings), or "
        "use --proxy none."
    )
    assert "hunter2" not in str(caught.value)


async def test_a_socks_proxy_without_python_socks_says_how_to_install_it(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicelive.connection import client
    from voicelive.errors import ConfigError

    monkeypatch.setattr(client, "socks_available", lambda: False)  # as if not installed
    with pytest.raises(ConfigError) as caught:
        await open_conn(bed.front.endpoint, proxy="socks5://127.0.0.1:1080")
    assert str(caught.value) == (
        "A SOCKS proxy needs the python-socks package: pip install 'voicelive[socks]' (or "
        "python-socks), or use an http:// proxy."
    )
