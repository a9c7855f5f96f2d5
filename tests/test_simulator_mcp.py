"""Service-side MCP (issue 16 item 7): listing, calls with and without approval, the checks on
the client's approval, and the version gate; the simulator serves the tools itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.simulator_helpers import RawClient, raw_client, types
from tests.test_simulator_sdk_conformance import check_event
from voicelive.simulator import Simulator, SimulatorOptions
from voicelive.simulator.mcp import BUILTIN_TOOLS, run_tool

FAST = SimulatorOptions(speedup=50.0)
NEW = "2026-01-01-preview"


def _server(label: str = "codes", **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": label, "server_url": "https://mcp.example/mcp", **extra}


async def _declare(client: RawClient, server: dict[str, Any]) -> None:
    await client.send("session.update", session={"tools": [server]})
    await client.until("mcp_list_tools.completed")


async def _say(client: RawClient, text: str) -> list[dict[str, Any]]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await client.send("conversation.item.create", item=item)
    await client.until("conversation.item.created", where=lambda e: e["item"]["type"] == "message")
    await client.send("response.create")
    return await client.until("response.done")


async def test_declared_servers_list_their_tools_and_an_unreachable_one_fails() -> None:
    async with Simulator(FAST) as sim, raw_client(sim, api_version=NEW) as client:
        bad = _server("gone", server_url="https://mcp.nowhere.invalid/mcp")
        await client.send(
            "session.update", session={"tools": [_server(allowed_tools=["echo"]), bad]}
        )
        events = await client.until("mcp_list_tools.failed")
    names = types(events)
    assert names[0] == "session.updated"
    assert names.count("mcp_list_tools.in_progress") == 2
    assert "mcp_list_tools.completed" in names
    listed = [e["item"] for e in events if e["type"] == "conversation.item.created"]
    assert [(i["server_label"], [t["name"] for t in i["tools"]]) for i in listed] == [
        ("codes", ["echo"]),
        ("gone", []),
    ]
    for event in events:
        check_event(event)


async def test_a_call_without_approval_runs_and_its_result_is_spoken_after_response_create() -> (
    None
):
    async with Simulator(FAST) as sim, raw_client(sim, api_version=NEW) as client:
        await _declare(client, _server(require_approval="never"))
        events = await _say(client, "Please lookup code word=lighthouse")
        names = [n for n in types(events) if n != "response.mcp_call_arguments.delta"]
        assert names == [
            "response.created",
            "response.output_item.added",
            "conversation.item.created",
            "response.mcp_call_arguments.done",
            "response.mcp_call.in_progress",
            "response.mcp_call.completed",
            "response.output_item.done",
            "response.done",
        ]
        for event in events:
            check_event(event)
        done_item = next(e for e in events if e["type"] == "response.output_item.done")["item"]
        assert (done_item["type"], done_item["name"]) == ("mcp_call", "lookup_code")
        assert json.loads(done_item["arguments"]) == {"word": "lighthouse"}
        assert done_item["output"] == "ESUOHTHGIL"
        await client.send("response.create")
        reply = await client.until("response.done")
    transcript = next(e for e in reply if e["type"] == "response.audio_transcript.done")
    assert transcript["transcript"] == "The codes lookup_code tool returned: ESUOHTHGIL"


@pytest.mark.parametrize("approve", [True, False])
async def test_a_call_needing_approval_waits_for_the_clients_answer(approve: bool) -> None:
    async with Simulator(FAST) as sim, raw_client(sim, api_version=NEW) as client:
        await _declare(client, _server(require_approval={"never": ["add"]}))
        events = await _say(client, "echo text=hello")
        request = next(
            e["item"]
            for e in events
            if e["type"] == "conversation.item.created"
            and e["item"]["type"] == "mcp_approval_request"
        )
        assert "response.mcp_call.in_progress" not in types(events)  # nothing runs yet
        assert (request["name"], json.loads(request["arguments"])) == ("echo", {"text": "hello"})
        call = next(e for e in events if e["type"] == "response.output_item.done")["item"]
        assert call["approval_request_id"] == request["id"]
        bad = {"type": "mcp_approval_response", "approval_request_id": "item_x", "approve": True}
        await client.send("conversation.item.create", item=bad)
        error = (await client.until("error"))[-1]["error"]
        assert error["param"] == "item.approval_request_id"
        answer = {"type": "mcp_approval_response", "approval_request_id": request["id"]}
        await client.send("conversation.item.create", item={**answer, "approve": approve})
        outcome = "completed" if approve else "failed"
        flow = await client.until(f"response.mcp_call.{outcome}")
        if approve:
            flow += await client.until("response.output_item.done")
            assert flow[-1]["item"]["output"] == "hello"
        for event in flow:
            check_event(event)
        await client.send("conversation.item.create", item={**answer, "approve": True})
        error = (await client.until("error"))[-1]["error"]
        assert "already answered" in error["message"]


async def test_before_2026_01_01_preview_mcp_tools_are_ignored() -> None:
    async with Simulator(FAST) as sim, raw_client(sim, api_version="2025-10-01") as client:
        await client.send("session.update", session={"tools": [_server(require_approval="never")]})
        updated = await client.until("session.updated")
        events = await _say(client, "Please lookup code word=x")
    assert updated[-1]["session"]["tools"][0]["type"] == "mcp"  # accepted, echoed
    assert not [n for n in types(events) if "mcp" in n]
    assert events[-1]["response"]["output"][0]["type"] == "message"


async def test_an_mcp_tool_without_its_url_is_refused() -> None:
    async with Simulator(FAST) as sim, raw_client(sim, api_version=NEW) as client:
        await client.send(
            "session.update", session={"tools": [{"type": "mcp", "server_label": "x"}]}
        )
        error = (await client.until("error"))[-1]["error"]
    assert (error["code"], error["param"]) == (
        "missing_required_parameter",
        "session.tools[0].server_url",
    )


def test_the_builtin_tools() -> None:
    assert set(BUILTIN_TOOLS) == {"echo", "add", "lookup_code"}
    assert run_tool("add", '{"a": 2, "b": 3.5}') == ("5.5", None)
    assert run_tool("echo", '{"text": "hi"}') == ("hi", None)
    output, error = run_tool("add", '{"a": 1}')
    assert output is None and error is not None and "bad arguments" in error
