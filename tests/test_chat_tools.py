"""run_chat with --mcp-config: a scripted service on 127.0.0.1, a real stdio MCP server (the
SDK), typed answers through a real pipe as the keyboard."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chat_process import finish, spawn_chat
from tests.fakes import FakeAudio, RecordingView
from tests.scripted_server import Scripted
from voicelive.chat import run_chat
from voicelive.config.settings import (
    AudioSettings,
    ConnectionSettings,
    LogSettings,
    Secret,
    Settings,
    ToolsSettings,
)
from voicelive.errors import EXIT_INTERRUPTED
from voicelive.quit import Quit
from voicelive.tools.config import parse_mcp_config

pytestmark = pytest.mark.slow

SERVER = Path(__file__).parent / "mcp_servers" / "codes_server.py"


class Keyboard:
    """A pipe standing in for stdin: the test types lines into it."""

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()

    def type(self, line: str) -> None:
        os.write(self._write_fd, (line + "\n").encode())

    def close(self) -> None:
        for fd in (self.read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def keyboard() -> Iterator[Keyboard]:
    kb = Keyboard()
    yield kb
    kb.close()


def settings(port: int, tmp_path: Path, approve: tuple[str, ...] = (), **extra: Any) -> Settings:
    env = {"CODES_SERVER_PID_FILE": str(tmp_path / "pid")}
    entry = {"command": sys.executable, "args": [str(SERVER)], "env": env}
    mcp = parse_mcp_config({"mcpServers": {"codes": entry}}, tmp_path / "mcp.json", {})
    return Settings(
        connection=ConnectionSettings(endpoint=f"ws://127.0.0.1:{port}", api_key=Secret("k-1")),
        audio=AudioSettings(prebuffer_ms=0),
        log=LogSettings(log_file=None),
        tools=ToolsSettings(mcp, approve, **extra),
        transcript=tmp_path / "talk.jsonl",
        stats_json=tmp_path / "stats.json",
    )


def call(scripted: Scripted, rid: str, call_id: str, name: str, args: dict[str, Any]) -> None:
    item = {"id": f"it_{call_id}", "type": "function_call", "call_id": call_id, "name": name}
    scripted.send(type="response.created", response={"id": rid})
    scripted.send(type="response.output_item.added", response_id=rid, output_index=0, item=item)
    scripted.send(type="conversation.item.created", item=item)
    scripted.send(
        type="response.function_call_arguments.done",
        response_id=rid,
        item_id=f"it_{call_id}",
        call_id=call_id,
        arguments=json.dumps(args),
    )
    scripted.send(type="response.done", response={"id": rid, "status": "completed"})


async def output_of(scripted: Scripted, timeout: float = 20) -> dict[str, Any]:
    while True:
        event = await scripted.wait_for("conversation.item.create", timeout)
        if event["item"]["type"] == "function_call_output":
            return event


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="a pipe as stdin, pids by signal 0")
async def test_declare_ask_approve_answer_record_and_stop(
    scripted: Scripted, keyboard: Keyboard, tmp_path: Path
) -> None:
    view, quit = RecordingView(), Quit()
    s = settings(scripted.port, tmp_path)
    task = asyncio.create_task(
        run_chat(s, view=view, audio=FakeAudio(), stdin_fd=keyboard.read_fd, quit=quit)
    )
    update = await scripted.wait_for("session.update", 30)
    tools = update["session"]["tools"]
    assert {t["name"] for t in tools} >= {"codes__lookup_code", "codes__slow"}
    assert update["session"]["tool_choice"] == "auto"
    await view.wait_for("status", "listening", 10)

    call(scripted, "r1", "c1", "codes__lookup_code", {"word": "lighthouse"})
    prompt = await view.wait_for("tool-ask", "allow?", 10)
    assert prompt == (
        'tool codes.lookup_code {"word": "lighthouse"}: allow? y / n / a (always this tool)'
    )
    keyboard.type("y")
    output = await output_of(scripted)
    assert output["item"] == {"type": "function_call_output", "call_id": "c1", "output": "LH-42"}
    await scripted.wait_for("response.create", 10)

    call(scripted, "r2", "c2", "codes__lookup_code", {"word": "anchor"})
    await view.wait_for("tool-ask", "anchor", 10)
    keyboard.type("n")
    assert (await output_of(scripted))["item"]["output"] == "not approved by the user"

    call(scripted, "r3", "c3", "codes__slow", {"seconds": 60})
    await view.wait_for("tool-ask", "codes.slow", 10)
    keyboard.type("a")
    await view.wait_for("tool", "running codes.slow · ", 10)
    keyboard.type("/cancel")
    assert (await output_of(scripted))["item"]["output"] == "cancelled by the user"

    call(scripted, "r4", "c4", "codes__slow", {"seconds": 60})  # "a": no question now
    await view.wait_for("tool", "running codes.slow · ", 10)
    pid = int((tmp_path / "pid").read_text())
    quit.signal(EXIT_INTERRUPTED, "Ctrl+C")  # while the tool runs
    assert await asyncio.wait_for(task, 30) == EXIT_INTERRUPTED
    assert gone(pid)

    lines = [json.loads(x) for x in (tmp_path / "talk.jsonl").read_text().splitlines()]
    tool_lines = [(x["name"], x["outcome"], x["output"]) for x in lines if x["role"] == "tool"]
    assert tool_lines == [
        ("codes.lookup_code", "ok", "LH-42"),
        ("codes.lookup_code", "denied", "not approved by the user"),
        ("codes.slow", "cancelled", "cancelled by the user"),
    ]
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert [(c["name"], c["outcome"]) for c in stats["tool_calls"]] == [
        ("codes.lookup_code", "ok"),
        ("codes.lookup_code", "denied"),
        ("codes.slow", "cancelled"),
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="pids by signal 0")
async def test_pre_approved_tool_and_a_reconnect_during_the_call(
    scripted: Scripted, tmp_path: Path
) -> None:
    view, quit = RecordingView(), Quit()
    s = settings(scripted.port, tmp_path, approve=("codes.*",), call_timeout_s=20.0)
    task = asyncio.create_task(run_chat(s, view=view, audio=FakeAudio(), stdin_fd=None, quit=quit))
    await scripted.wait_for("session.update", 30)
    await view.wait_for("status", "listening", 10)
    call(scripted, "r1", "c1", "codes__slow", {"seconds": 1.5})
    await view.wait_for("tool", "running codes.slow", 10)
    scripted.outgoing.put_nowait((1011, "drop"))  # the connection drops while the tool runs
    await scripted.wait_for("session.update", 30)  # the new session
    replayed = await scripted.wait_for("conversation.item.create", 10)
    assert replayed["item"] == {
        "type": "function_call",
        "call_id": "c1",
        "name": "codes__slow",
        "arguments": '{"seconds": 1.5}',
    }
    output = await output_of(scripted)
    assert output["item"]["output"] == "done"
    await scripted.wait_for("response.create", 10)
    outputs = [
        e for e in scripted.received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]  # fmt: skip
    assert len(outputs) == 1  # answered once, on the new session
    quit.signal(EXIT_INTERRUPTED, "Ctrl+C")
    assert await asyncio.wait_for(task, 30) == EXIT_INTERRUPTED
    assert gone(int((tmp_path / "pid").read_text()))


@pytest.mark.skipif(sys.platform == "win32", reason="a pipe as stdin")
async def test_service_side_mcp_approval_and_a_barge_in_during_a_call(
    scripted: Scripted, keyboard: Keyboard, tmp_path: Path
) -> None:
    view, quit = RecordingView(), Quit()
    entry = {"command": sys.executable, "args": [str(SERVER)]}
    wiki = {"type": "service", "url": "https://mcp.example.com/mcp", "headers": {"X-Key": "hk-7"}}
    mcp = parse_mcp_config({"mcpServers": {"codes": entry, "wiki": wiki}}, tmp_path / "m.json", {})
    s = dataclasses.replace(
        settings(scripted.port, tmp_path), tools=ToolsSettings(mcp, ("codes.slow",))
    )
    task = asyncio.create_task(
        run_chat(s, view=view, audio=FakeAudio(), stdin_fd=keyboard.read_fd, quit=quit)
    )
    update = await scripted.wait_for("session.update", 30)
    service = [t for t in update["session"]["tools"] if t["type"] == "mcp"]
    assert service == [
        {
            "type": "mcp",
            "server_label": "wiki",
            "server_url": "https://mcp.example.com/mcp",
            "require_approval": "always",
            "headers": {"X-Key": "hk-7"},
        }
    ]
    await view.wait_for("status", "listening", 10)

    listing = {"type": "mcp_list_tools", "id": "ml_1", "server_label": "wiki"}
    scripted.send(type="conversation.item.created", item=listing)
    scripted.send(type="mcp_list_tools.failed", item_id="ml_1")
    await view.wait_for("warning", "could not reach the MCP server 'wiki'", 10)

    request = {"type": "mcp_approval_request", "id": "apr_1", "server_label": "wiki",
               "name": "ask_question", "arguments": '{"q": "tides"}'}  # fmt: skip
    scripted.send(type="response.created", response={"id": "r1"})
    scripted.send(type="conversation.item.created", item=request)
    scripted.send(type="response.done", response={"id": "r1", "status": "completed"})
    await view.wait_for("tool-ask", 'wiki.ask_question {"q": "tides"}', 10)
    keyboard.type("y")
    approval = await scripted.wait_for("conversation.item.create", 10)
    assert approval["item"] == {
        "type": "mcp_approval_response", "approval_request_id": "apr_1", "approve": True,
    }  # fmt: skip
    scripted.send(type="response.mcp_call.completed", item_id="mc_1", output_index=0)
    scripted.send(type="response.mcp_call.completed", item_id="mc_1", output_index=0)
    await scripted.wait_for("response.create", 10)

    # the user talks (a new turn and response) while a tool runs: its output still goes, and
    # the response.create waits for that response to finish
    call(scripted, "r2", "c2", "codes__slow", {"seconds": 1})
    await view.wait_for("tool", "running codes.slow", 10)
    scripted.send(type="input_audio_buffer.speech_started", audio_start_ms=100, item_id="u1")
    scripted.send(type="response.created", response={"id": "r3"})
    assert (await output_of(scripted))["item"]["output"] == "done"
    scripted.send(type="response.done", response={"id": "r3", "status": "completed"})
    await scripted.wait_for("response.create", 10)
    creates = [e for e in scripted.received if e["type"] == "response.create"]
    assert len(creates) == 2  # one after the MCP call (deduplicated), one after the output
    quit.signal(EXIT_INTERRUPTED, "Ctrl+C")
    assert await asyncio.wait_for(task, 30) == EXIT_INTERRUPTED


@pytest.mark.skipif(sys.platform == "win32", reason="pids by signal 0")
async def test_the_real_process_quits_with_q_while_a_tool_runs_and_leaves_no_server(
    scripted: Scripted, tmp_path: Path
) -> None:
    quiet = tmp_path / "quiet.wav"
    with wave.open(str(quiet), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(bytes(2 * 24_000 * 30))
    config = tmp_path / "mcp.json"
    entry = {"command": sys.executable, "args": [str(SERVER)],
             "env": {"CODES_SERVER_PID_FILE": str(tmp_path / "pid")}}  # fmt: skip
    config.write_text(json.dumps({"mcpServers": {"codes": entry}}))
    proc = await spawn_chat(
        f"ws://127.0.0.1:{scripted.port}",
        "--input-file", str(quiet), "--output-file", str(tmp_path / "out.wav"),
        "--log-file", str(tmp_path / "voicelive.log"),
        "--mcp-config", str(config), "--approve", "codes.*",
        api_key="k-1",
        stdin=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    try:
        update = await scripted.wait_for("session.update", 60)
        assert "codes__slow" in {t["name"] for t in update["session"]["tools"]}
        pid = int((tmp_path / "pid").read_text())
        both = [
            ("c1", "codes__lookup_code", {"word": "harbour"}),
            ("c2", "codes__slow", {"seconds": 60}),
        ]
        scripted.send(type="response.created", response={"id": "r1"})
        for call_id, name, args in both:
            item = {
                "id": f"it_{call_id}",
                "type": "function_call",
                "call_id": call_id,
                "name": name,
            }
            scripted.send(type="response.output_item.added", response_id="r1", item=item)
            scripted.send(
                type="response.function_call_arguments.done",
                response_id="r1",
                item_id=f"it_{call_id}",
                call_id=call_id,
                arguments=json.dumps(args),
            )
        scripted.send(type="response.done", response={"id": "r1", "status": "completed"})
        # both started together; the quick one's output means the slow one is running
        assert (await output_of(scripted, 30))["item"]["output"] == "HB-07"
        proc.stdin.write(b"q\n")
        await proc.stdin.drain()
        stdout, stderr = await finish(proc, 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr
    assert b"tools: codes." in stdout
    assert gone(pid)
    assert b"Traceback" not in stderr
