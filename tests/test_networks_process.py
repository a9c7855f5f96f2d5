"""The real ``voicelive chat`` process over TLS and through a proxy, as a user would run it.

The simulator sits behind a TLS front whose certificate comes from a test CA (tests/tls_proxy.py);
``SSL_CERT_FILE`` names the CA, as a company's user names its inspection root. A CONNECT proxy
written in the tests carries the connection when the environment or ``--proxy`` says so. Each
network failure ends the process with its sentence on stderr, exit 4, and no traceback.
"""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.chat_process import finish, spawn_chat
from tests.simulator_helpers import silence, speech_like
from tests.tls_proxy import DAY, NOW, ConnectProxy, SilentServer, TestCA, TlsFront, closed_port
from voicelive.errors import ConnectError
from voicelive.simulator import Simulator, SimulatorOptions

pytestmark = pytest.mark.slow  # a real process each, about a second

KEY = "net-process-key"
PASSWORD = "pr0xy-s3cret"
RATE = 24_000


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    log: str
    out: np.ndarray


@dataclass
class Bed:
    ca: TestCA
    sim: Simulator
    front: TlsFront
    tmp: Path

    async def chat(self, endpoint: str, *args: str, **env: str) -> Run:
        wav = self.tmp / "in.wav"
        with wave.open(str(wav), "wb") as file:
            file.setnchannels(1)
            file.setsampwidth(2)
            file.setframerate(RATE)
            samples = np.concatenate([silence(0.3), speech_like(1.0, seed=3), silence(1.0)])
            file.writeframes(samples.astype("<i2").tobytes())
        log = self.tmp / "voicelive.log"
        log.unlink(missing_ok=True)
        proc = await spawn_chat(
            endpoint,
            "--input-file", str(wav),
            "--output-file", str(self.tmp / "out.wav"),
            "--log-file", str(log),
            *args,
            api_key=KEY,
            env={"SSL_CERT_FILE": str(self.ca.pem), **env},
        )  # fmt: skip
        stdout, stderr = await finish(proc, 60)
        assert proc.returncode is not None
        out = np.zeros(0, np.int16)
        if (self.tmp / "out.wav").exists():
            with wave.open(str(self.tmp / "out.wav"), "rb") as file:
                out = np.frombuffer(file.readframes(file.getnframes()), "<i2")
        text = log.read_text() if log.exists() else ""
        run = Run(proc.returncode, stdout.decode(), stderr.decode(), text, out)
        for secret in (KEY, PASSWORD):
            assert secret not in run.stdout + run.stderr + run.log
        assert "Traceback" not in run.stderr
        return run


@pytest.fixture
async def bed(tmp_path: Path) -> AsyncIterator[Bed]:
    ca = TestCA(tmp_path)
    async with (
        Simulator(SimulatorOptions(api_key=KEY, speedup=4.0)) as sim,
        TlsFront(ca.issue("localhost", "127.0.0.1"), sim.port) as front,
    ):
        yield Bed(ca, sim, front, tmp_path)


def heard_s(run: Run) -> float:
    return float(np.count_nonzero(np.abs(run.out.astype(np.int32)) > 300)) / RATE


async def test_chat_over_tls_through_the_environment_proxy(bed: Bed) -> None:
    async with ConnectProxy() as proxy:
        run = await bed.chat(bed.front.endpoint, HTTPS_PROXY=proxy.url())
    assert run.code == 0, run.stderr
    assert [seen.target for seen in proxy.seen] == [f"localhost:{bed.front.port}"]
    assert len(bed.sim.connections) == 1
    assert heard_s(run) > 0.5, "the reply was not heard"
    assert f"TLS trust: the roots in SSL_CERT_FILE={bed.ca.pem}" in run.log
    assert f"through the proxy http://127.0.0.1:{proxy.port}" in run.log


async def test_chat_with_no_proxy_goes_direct(bed: Bed) -> None:
    async with ConnectProxy() as proxy:
        run = await bed.chat(bed.front.endpoint, HTTPS_PROXY=proxy.url(), NO_PROXY="localhost")
    assert run.code == 0, run.stderr
    assert proxy.seen == []
    assert len(bed.sim.connections) == 1


async def test_chat_through_a_proxy_with_basic_credentials(bed: Bed) -> None:
    async with ConnectProxy(credentials=("alice", PASSWORD)) as proxy:
        run = await bed.chat(bed.front.endpoint, "--proxy", proxy.url(f"alice:{PASSWORD}"))
    assert run.code == 0, run.stderr
    assert proxy.tunnelled.is_set()


def only_error(run: Run) -> str:
    """The one stderr line, without ``error: ``."""
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0].removeprefix("error: ")


async def failure(bed: Bed, endpoint: str, *args: str, **env: str) -> str:
    run = await bed.chat(endpoint, *args, **env)
    assert run.code == ConnectError.exit_code == 4, run.stderr
    assert bed.sim.connections == []
    return only_error(run)


async def test_untrusted_certificate(bed: Bed) -> None:
    inspector = TestCA(bed.tmp, "Contoso TLS Inspection CA")
    async with TlsFront(inspector.issue("localhost", label="inspected"), bed.sim.port) as front:
        sentence = await failure(bed, front.endpoint)
    assert sentence == (
        'The certificate of localhost was issued by "Contoso TLS Inspection CA", which '
        "SSL_CERT_FILE / SSL_CERT_DIR does not trust; if your network inspects TLS, install "
        "its root in the OS store or set SSL_CERT_FILE to a file holding it."
    )


async def test_hostname_mismatch(bed: Bed) -> None:
    async with TlsFront(bed.ca.issue("other.example", label="other"), bed.sim.port) as front:
        sentence = await failure(bed, front.endpoint)
    assert sentence.startswith("The certificate localhost presented is for other.example, not ")


async def test_expired_certificate(bed: Bed) -> None:
    old = bed.ca.issue("localhost", not_before=NOW - 9 * DAY, not_after=NOW - 2 * DAY, label="old")
    async with TlsFront(old, bed.sim.port) as front:
        sentence = await failure(bed, front.endpoint)
    assert sentence.startswith("The certificate of localhost expired on ")
    assert "check this computer's date and time" in sentence


async def test_dns_failure(bed: Bed) -> None:
    sentence = await failure(bed, "https://voicelive-no-such-host.invalid")
    assert sentence == (
        "Cannot resolve the host voicelive-no-such-host.invalid (no DNS answer); check "
        "--endpoint / AZURE_VOICELIVE_ENDPOINT and your network's DNS (behind a proxy, set "
        "--proxy)."
    )


async def test_connection_refused(bed: Bed) -> None:
    port = closed_port()
    sentence = await failure(bed, f"https://localhost:{port}")
    assert sentence == (
        f"Cannot reach localhost: port {port} refused the connection; check --endpoint (its "
        "host and port), or whether your network needs a proxy (--proxy)."
    )


async def test_proxy_unreachable(bed: Bed) -> None:
    port = closed_port()
    sentence = await failure(bed, bed.front.endpoint, HTTPS_PROXY=f"http://127.0.0.1:{port}")
    assert sentence == (
        f"Cannot reach the proxy http://127.0.0.1:{port} (connection refused); check --proxy / "
        "HTTPS_PROXY, or use --proxy none to connect directly."
    )


async def test_proxy_407(bed: Bed) -> None:
    async with ConnectProxy(credentials=("alice", PASSWORD)) as proxy:
        sentence = await failure(bed, bed.front.endpoint, "--proxy", proxy.url())
        wrong = await failure(bed, bed.front.endpoint, "--proxy", proxy.url("alice:nope"))
    assert sentence == (
        f"The proxy http://127.0.0.1:{proxy.port} wants credentials (HTTP 407): give them as "
        "--proxy http://user:pass@host:port (Basic only; for NTLM or Kerberos run a local relay "
        "such as cntlm or px and point --proxy at it)."
    )
    assert wrong.startswith(
        f"The proxy http://127.0.0.1:{proxy.port} rejected the user and password in the proxy "
        "URL (HTTP 407)"
    )


async def test_tls_handshake_timeout(bed: Bed) -> None:
    async with SilentServer() as silent:
        sentence = await failure(
            bed, f"https://localhost:{silent.port}", "--connect-timeout", "1.5"
        )
    assert sentence == (
        "The TLS handshake with localhost got no answer within 1 s: a firewall or proxy may be "
        "holding it; check the network (and --proxy), or allow more time with --connect-timeout."
    )


async def test_an_unreachable_socks_proxy_is_named(bed: Bed) -> None:
    pytest.importorskip("python_socks")  # the optional extra
    port = closed_port()
    run = await bed.chat(bed.front.endpoint, "--proxy", f"socks5://127.0.0.1:{port}")
    assert run.code == 4
    assert only_error(run).startswith(f"Cannot reach the proxy socks5://127.0.0.1:{port}")
