"""McpServers against real MCP servers written with the SDK: stdio child processes and a
streamable-HTTP server on 127.0.0.1 (tests/mcp_servers/codes_server.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voicelive.tools.config import HttpServer, Secret, StdioServer
from voicelive.tools.manager import McpServers, server_environment

pytestmark = pytest.mark.slow  # real MCP server processes (about 1-2 s each to start)


SERVER = Path(__file__).parent / "mcp_servers" / "codes_server.py"


def stdio(name: str = "codes", pid_file: Path | None = None, **env: str) -> StdioServer:
    if pid_file is not None:
        env["CODES_SERVER_PID_FILE"] = str(pid_file)
    return StdioServer(name, sys.executable, (str(SERVER),), {k: Secret(v) for k, v in env.items()})


def alive(pid: int) -> bool:
    """Whether ``pid`` exists (signal 0 checks without sending; POSIX only: on Windows signal 0
    is CTRL_C_EVENT, so the pid tests are skipped there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True  # a zombie counts as alive: the SDK must have reaped its child


@pytest.fixture
async def http_url() -> AsyncIterator[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER), "--http", stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        port = int(line.decode().split()[1])
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        await proc.wait()


async def test_start_list_and_call_a_stdio_server() -> None:
    async with McpServers([stdio()]) as servers:
        report = await servers.start()
        assert report.failures == []
        names = {t.name for t in report.tools}
        assert {"lookup_code", "slow", "crash", "pid"} <= names
        lookup = next(t for t in report.tools if t.name == "lookup_code")
        assert lookup.server == "codes"
        assert lookup.input_schema["properties"]["word"]["type"] == "string"
        assert "code book" in lookup.description

        outcome = await servers.call("codes", "lookup_code", {"word": "lighthouse"})
        assert (outcome.kind, outcome.text) == ("ok", "LH-42")

        error = await servers.call("codes", "lookup_code", {"word": "nowhere"})
        assert error.kind == "error"
        assert "no code for 'nowhere'" in error.text


async def test_a_slow_tool_times_out_and_the_server_keeps_working() -> None:
    async with McpServers([stdio()], call_timeout_s=0.5) as servers:
        await servers.start()
        outcome = await servers.call("codes", "slow", {"seconds": 30})
        assert outcome.kind == "timeout"
        assert outcome.timeout_s == 0.5
        again = await servers.call("codes", "lookup_code", {"word": "anchor"})
        assert again.text == "AN-13"


async def test_a_cancelled_call_leaves_the_server_running() -> None:
    async with McpServers([stdio()]) as servers:
        await servers.start()
        task = asyncio.create_task(servers.call("codes", "slow", {"seconds": 30}))
        done, _ = await asyncio.wait([task], timeout=0.3)
        assert not done
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        again = await servers.call("codes", "lookup_code", {"word": "harbour"})
        assert again.text == "HB-07"


async def test_a_server_that_crashes_mid_call_gives_an_error_outcome(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    async with McpServers([stdio(pid_file=pid_file)]) as servers:
        await servers.start()
        outcome = await servers.call("codes", "crash", {})
        assert outcome.kind == "error"
        assert "stopped during the call" in outcome.text
        after = await servers.call("codes", "lookup_code", {"word": "anchor"})
        assert after.kind == "error"
        assert "not running" in after.text or "stopped" in after.text


async def test_a_server_that_fails_to_start_is_left_out_with_one_sentence(tmp_path: Path) -> None:
    broken = StdioServer("broken", str(tmp_path / "no-such-command"))
    exits = StdioServer("exits", sys.executable, ("-c", "import sys; sys.exit(4)"))
    async with McpServers([broken, stdio(), exits], start_timeout_s=20) as servers:
        report = await servers.start()
        assert {t.server for t in report.tools} == {"codes"}
        assert len(report.failures) == 2
        assert report.failures[0].startswith("MCP server 'broken' did not start (no such command")
        assert report.failures[0].endswith("; it is left out.")
        assert report.failures[1].startswith("MCP server 'exits' did not start (")
        assert all("\n" not in f for f in report.failures)
        assert (await servers.call("codes", "lookup_code", {"word": "anchor"})).text == "AN-13"


async def test_a_server_that_never_answers_times_out_at_start() -> None:
    # a server process that never speaks MCP: it only waits (the test waits on the timeout)
    mute = StdioServer("mute", sys.executable, ("-c", "import time; time.sleep(60)"))  # sleep-ok
    async with McpServers([mute], start_timeout_s=0.5) as servers:
        report = await servers.start()
        assert report.failures == [
            "MCP server 'mute' did not start (it did not answer within 0.5 s); it is left out."
        ]


POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="checks pids with signal 0")


@POSIX_ONLY
async def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    pids = [tmp_path / "a", tmp_path / "b"]
    servers = McpServers([stdio("a", pids[0]), stdio("b", pids[1])])
    report = await servers.start()
    assert report.failures == []
    started = [int(p.read_text()) for p in pids]
    assert all(alive(pid) for pid in started)
    # a call in flight does not keep a server alive
    running = asyncio.create_task(servers.call("a", "slow", {"seconds": 60}))
    await asyncio.wait([running], timeout=0.2)
    await servers.aclose()
    assert not any(alive(pid) for pid in started)
    outcome = await running
    assert outcome.kind == "error"
    await servers.aclose()  # idempotent


async def test_server_stderr_goes_to_the_log_not_the_terminal(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    servers = McpServers([stdio(API_TOKEN="stdio-SECRET-7")])
    await servers.start()
    assert (await servers.call("codes", "shout", {"text": "over the terminal"})).text == "ok"
    await servers.aclose()
    _, err = capfd.readouterr()
    assert "SHOUT" not in err
    assert "[mcp codes] SHOUT over the terminal" in caplog.text
    assert "stdio-SECRET-7" not in caplog.text  # the entry's env, at any log level


async def test_proxy_variables_and_entry_env_reach_the_server() -> None:
    environ = {"HTTPS_PROXY": "http://proxy.example:3128", "SECRET_ELSEWHERE": "no"}
    spec = stdio(API_KEY="k-123")
    assert server_environment(spec, environ) == {
        "HTTPS_PROXY": "http://proxy.example:3128",
        "API_KEY": "k-123",
    }
    async with McpServers([spec], environ=environ) as servers:
        await servers.start()
        proxy = await servers.call("codes", "env", {"name": "HTTPS_PROXY"})
        assert proxy.text == "http://proxy.example:3128"
        assert (await servers.call("codes", "env", {"name": "API_KEY"})).text == "k-123"
        assert (await servers.call("codes", "env", {"name": "SECRET_ELSEWHERE"})).text == "<unset>"


async def test_a_long_result_is_cut_with_a_note() -> None:
    async with McpServers([stdio()], max_result_chars=100) as servers:
        await servers.start()
        outcome = await servers.call("codes", "big", {"size": 1000})
        assert outcome.text == "x" * 100 + "… [cut: 900 more characters]"


async def test_streamable_http_server(http_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's and httpx2's included
    spec = HttpServer("web", http_url, {"Authorization": Secret("Bearer tok-SECRET-9")})
    async with McpServers([spec]) as servers:
        report = await servers.start()
        assert report.failures == []
        assert "lookup_code" in {t.name for t in report.tools}
        outcome = await servers.call("web", "lookup_code", {"word": "lighthouse"})
        assert outcome.text == "LH-42"
    assert "tok-SECRET-9" not in caplog.text
    assert any(r.name.startswith("mcp.") for r in caplog.records)  # the SDK did log


async def test_an_unreachable_http_server_is_left_out() -> None:
    spec = HttpServer("gone", "http://127.0.0.1:9/mcp")
    async with McpServers([spec], start_timeout_s=10) as servers:
        report = await servers.start()
        assert len(report.failures) == 1
        assert report.failures[0].startswith("MCP server 'gone' did not start (")


@POSIX_ONLY
async def test_a_server_that_does_not_exit_on_its_own_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    spec = stdio("stubborn", pid_file, CODES_SERVER_LINGER="1")
    servers = McpServers([spec])
    assert (await servers.start()).failures == []
    pid = int(pid_file.read_text())
    await servers.aclose()
    assert not alive(pid)


@POSIX_ONLY
async def test_a_wrapped_server_grandchild_is_stopped_too(tmp_path: Path) -> None:
    """As with ``npx``/``uvx`` launchers, the server is a grandchild of what voicelive starts."""
    pid_file = tmp_path / "pid"
    wrapped = StdioServer(
        "wrapped",
        "/bin/sh",
        ("-c", f'"{sys.executable}" "{SERVER}"; echo wrapper-exit >&2'),
        {"CODES_SERVER_PID_FILE": Secret(str(pid_file))},
    )
    servers = McpServers([wrapped])
    report = await servers.start()
    assert report.failures == []
    pid = int(pid_file.read_text())
    assert (await servers.call("wrapped", "pid", {})).text == str(pid)
    await servers.aclose()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
