"""ToolDriver with a real stdio MCP server: service frames in, client events out."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from voicelive.tools.config import parse_mcp_config
from voicelive.tools.driver import Callbacks, StartedTools, ToolSettings, start_tools
from voicelive.tools.loop_events import ToolCallRecord

pytestmark = pytest.mark.slow  # real MCP server processes (about 1-2 s each to start)


SERVER = Path(__file__).parent / "mcp_servers" / "codes_server.py"


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"cli_{self.n}"


class Terminal:
    """What the chat would see: sent events, prompts, records, each on a queue."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.prompts: asyncio.Queue[str | None] = asyncio.Queue()
        self.records: list[ToolCallRecord] = []
        self.callbacks = Callbacks(
            send=self.sent.put_nowait,
            on_prompt=self.prompts.put_nowait,
            on_record=self.records.append,
        )

    async def next_sent(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.sent.get(), 20)

    async def next_prompt(self) -> str | None:
        return await asyncio.wait_for(self.prompts.get(), 20)


def config(pid_file: Path | None = None) -> Any:
    env = {"CODES_SERVER_PID_FILE": str(pid_file)} if pid_file else {}
    entry = {"command": sys.executable, "args": [str(SERVER)], "env": env}
    broken = {"command": str(SERVER.parent / "missing-server")}
    return parse_mcp_config({"mcpServers": {"codes": entry, "broken": broken}}, SERVER, {})


@pytest.fixture
async def terminal() -> Terminal:
    return Terminal()


@pytest.fixture
async def tools(terminal: Terminal, tmp_path: Path) -> AsyncIterator[StartedTools]:
    settings = ToolSettings(approval_timeout_s=60.0)
    started = await start_tools(config(tmp_path / "pid"), terminal.callbacks, Ids(), settings)
    yield started
    await started.driver.aclose()


def call_frames(rid: str, call_id: str, name: str, args: str) -> list[dict[str, Any]]:
    item = {"id": f"it_{call_id}", "type": "function_call", "call_id": call_id, "name": name}
    return [
        {"type": "response.created", "response": {"id": rid}},
        {"type": "response.output_item.added", "response_id": rid, "item": item},
        {"type": "response.function_call_arguments.done", "response_id": rid,
         "item_id": f"it_{call_id}", "call_id": call_id, "arguments": args},
        {"type": "response.done", "response": {"id": rid, "status": "completed"}},
    ]  # fmt: skip


async def test_start_reports_the_broken_server_and_declares_the_tools(tools: StartedTools) -> None:
    assert tools.failures == [
        "MCP server 'broken' did not start (no such command: "
        f"{SERVER.parent / 'missing-server'}); it is left out."
    ]
    names = [t["name"] for t in tools.driver.session_tools]
    assert "codes__lookup_code" in names and all(n.startswith("codes__") for n in names)


async def test_approve_with_y_then_output_and_response_create(
    tools: StartedTools, terminal: Terminal
) -> None:
    driver = tools.driver
    for frame in call_frames("r1", "c1", "codes__lookup_code", '{"word": "lighthouse"}'):
        driver.on_frame(frame)
    prompt = await terminal.next_prompt()
    assert (
        prompt
        == 'tool codes.lookup_code {"word": "lighthouse"}: allow? y / n / a (always this tool)'
    )
    assert driver.on_line("hello there") is False  # a message, not an answer
    assert driver.on_line("y") is True
    output = await terminal.next_sent()
    assert output["item"] == {"type": "function_call_output", "call_id": "c1", "output": "LH-42"}
    assert output["previous_item_id"] == "it_c1"
    assert (await terminal.next_sent())["type"] == "response.create"
    assert [(r.name, r.outcome) for r in terminal.records] == [("codes.lookup_code", "ok")]
    assert driver.on_line("y") is False  # nothing is asked any more


async def test_an_unanswered_question_is_a_denial(terminal: Terminal) -> None:
    settings = ToolSettings(approval_timeout_s=0.2)
    started = await start_tools(config(), terminal.callbacks, Ids(), settings)
    try:
        for frame in call_frames("r1", "c1", "codes__lookup_code", '{"word": "anchor"}'):
            started.driver.on_frame(frame)
        assert await terminal.next_prompt() is not None
        output = await terminal.next_sent()
        assert output["item"]["output"] == "not approved by the user"
        assert await terminal.next_prompt() is None
    finally:
        await started.driver.aclose()


@pytest.mark.skipif(sys.platform == "win32", reason="checks the pid with signal 0")
async def test_cancel_a_running_tool_and_quit_leaves_no_process(
    terminal: Terminal, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    settings = ToolSettings(approve=["codes.*"])
    started = await start_tools(config(pid_file), terminal.callbacks, Ids(), settings)
    pid = int(pid_file.read_text())
    driver = started.driver
    for frame in call_frames("r1", "c1", "codes__slow", '{"seconds": 60}'):
        driver.on_frame(frame)
    assert (driver.status() or "").startswith("running codes.slow · ")
    assert driver.cancel() is True
    output = await terminal.next_sent()
    assert output["item"]["output"] == "cancelled by the user"
    for frame in call_frames("r2", "c2", "codes__slow", '{"seconds": 60}'):
        driver.on_frame(frame)  # q while a tool runs
    await driver.aclose()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_overhead_from_approval_to_output_sent(
    tools: StartedTools, terminal: Terminal
) -> None:
    """Issue 16's benchmark: approval to function_call_output sent, less the tool's own time
    (lookup_code does no work, so all of it is overhead). Target: median <= 10 ms."""
    driver = tools.driver
    samples = []
    for n in range(30):
        driver.user_turn()  # each call is its own turn (the per-turn cap is 10)
        for frame in call_frames(f"r{n}", f"c{n}", "codes__lookup_code", '{"word": "anchor"}'):
            driver.on_frame(frame)
        await terminal.next_prompt()
        began = time.perf_counter()
        driver.on_line("y")
        output = await terminal.next_sent()
        samples.append(time.perf_counter() - began)
        assert output["item"]["output"] == "AN-13"
        assert (await terminal.next_sent())["type"] == "response.create"
        assert await terminal.next_prompt() is None
    median_ms = statistics.median(samples) * 1000
    print(f"approval -> output: median {median_ms:.1f} ms, max {max(samples) * 1000:.1f} ms")
    assert median_ms <= 10 * 3  # the shared CI CPU: the figure itself is in the report
