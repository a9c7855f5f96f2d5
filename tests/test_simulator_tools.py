"""Function tools (issue 16 item 7): the simulator's documented rule for calling a declared
function, the service's event flow, and the checks the service makes on the client's answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.simulator_helpers import RawClient, raw_client, types, utterance
from tests.test_simulator_sdk_conformance import check_event
from voicelive.simulator import Simulator, SimulatorOptions
from voicelive.simulator.conversation import Conversation, Item
from voicelive.simulator.tools import arguments_for, plan_call

FAST = SimulatorOptions(speedup=50.0)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a place.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["location", "days"],
    },
}
TIME = {"type": "function", "name": "get_time", "parameters": {"type": "object"}}


async def _session(client: RawClient, **session: Any) -> None:
    await client.send("session.update", session={"tools": [WEATHER, TIME], **session})
    await client.until("session.updated")


async def _say(client: RawClient, text: str) -> list[dict[str, Any]]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await client.send("conversation.item.create", item=item)
    await client.until("conversation.item.created")
    await client.send("response.create")
    return await client.until("response.done")


async def test_a_typed_turn_naming_a_function_calls_it_with_the_service_flow() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await _session(client)
        events = await _say(client, "Please call get_weather for location=Beijing")
    names = [n for n in types(events) if n != "response.function_call_arguments.delta"]
    assert names == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
    ]
    for event in events:
        check_event(event)  # every event in the SDK's own shape
    added = next(e for e in events if e["type"] == "response.output_item.added")["item"]
    assert (added["type"], added["name"], added["status"]) == (
        "function_call",
        "get_weather",
        "in_progress",
    )
    deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert "".join(d["delta"] for d in deltas) == done["arguments"]
    assert json.loads(done["arguments"]) == {"location": "Beijing", "days": 0}  # stand-in 0
    assert {d["call_id"] for d in deltas} == {done["call_id"]} == {added["call_id"]}
    assert done["name"] == "get_weather"
    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert final["output"][0]["arguments"] == done["arguments"]


async def test_the_output_is_checked_and_then_spoken() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await _session(client)
        events = await _say(
            client, 'What is the get weather forecast? {"location": "Oslo", "days": 2}'
        )
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert json.loads(done["arguments"]) == {"location": "Oslo", "days": 2}
        call_id = done["call_id"]
        unknown = {"type": "function_call_output", "call_id": "call_nope", "output": "x"}
        await client.send("conversation.item.create", item=unknown)
        error = (await client.until("error"))[-1]["error"]
        assert (error["param"], error["code"]) == ("item.call_id", "invalid_value")
        output = {"type": "function_call_output", "call_id": call_id, "output": "sunny, 25 C"}
        await client.send("conversation.item.create", item=output)
        created = (await client.until("conversation.item.created"))[-1]
        check_event(created)
        await client.send("conversation.item.create", item=output)  # a second output
        error = (await client.until("error"))[-1]["error"]
        assert error["param"] == "item.call_id" and "already has an output" in error["message"]
        await client.send("response.create")
        await client.until("response.created")
        await client.send("response.create")  # while that reply is still active
        error = (await client.until("error"))[-1]["error"]
        assert error["code"] == "conversation_already_has_active_response"
        reply = await client.until("response.done")
    transcript = next(e for e in reply if e["type"] == "response.audio_transcript.done")
    assert transcript["transcript"] == "The get_weather tool returned: sunny, 25 C"
    assert "response.audio.delta" in types(reply)


@pytest.mark.parametrize(
    ("tool_choice", "called"),
    [
        ({"type": "function", "name": "get_time"}, "get_time"),
        ("get_time", "get_time"),
        ("required", "get_weather"),
        ("auto", None),
        ("none", None),
    ],
)
async def test_a_spoken_turn_calls_a_tool_only_when_tool_choice_forces_one(
    tool_choice: Any, called: str | None
) -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await _session(client, tool_choice=tool_choice)
        await client.append(utterance(speech_s=0.6))
        events = await client.until("response.done", timeout=10)
    output = events[-1]["response"]["output"][0]
    if called is None:
        assert output["type"] == "message"
    else:
        assert (output["type"], output["name"]) == ("function_call", called)
        assert json.loads(output["arguments"]) == (
            {} if called == "get_time" else {"location": "simulated", "days": 0}
        )


def test_the_rule_reads_names_with_spaces_and_skips_after_an_output() -> None:
    conversation = Conversation()
    text = Item(
        id="u1",
        type="message",
        role="user",
        wire_content=[{"type": "input_text", "text": "what's the GET TIME now"}],
    )
    conversation.append(text)
    session = {"tools": [WEATHER, TIME], "tool_choice": "auto"}
    call = plan_call(conversation, session, {})
    assert call is not None and call.name == "get_time"
    conversation.append(
        Item(id="o1", type="function_call_output", role=None, extra={"call_id": "c", "output": "9"})
    )
    assert plan_call(conversation, session, {}) is None
    assert plan_call(conversation, {"tools": []}, {}) is None
    assert arguments_for(WEATHER, 'days: 3 location="New York"') == {
        "location": "New York",
        "days": 3,
    }


def test_a_namespaced_name_reads_as_words_with_one_space_per_underscore_run() -> None:
    conversation = Conversation()
    typed = [{"type": "input_text", "text": "codes lookup code word: lighthouse"}]
    conversation.append(Item(id="u1", type="message", role="user", wire_content=typed))
    lookup = {
        "type": "function",
        "name": "codes__lookup_code",
        "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
    }
    call = plan_call(conversation, {"tools": [lookup], "tool_choice": "auto"}, {})
    assert call is not None and call.name == "codes__lookup_code"
    assert arguments_for(lookup, "codes lookup code word: lighthouse") == {"word": "lighthouse"}
