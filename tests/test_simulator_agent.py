"""Simulator agent sessions (Foundry Agent Service), driven by a raw WebSocket client.

protocol.md §1.2: ``agent-name`` and ``agent-project-name`` (a required pair) replace ``model``;
``agent-version`` and ``conversation-id`` are optional. §4.1: ``session.agent`` announces the
agent in ``session.created``, and ``instructions`` are not allowed in an agent session.
"""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.simulator_helpers import TIMEOUT, raw_client, url
from voicelive.simulator import Simulator

models = pytest.importorskip(
    "azure.ai.voicelive.models", reason="azure-ai-voicelive (test-only dependency) is not installed"
)

BEARER = {"Authorization": "Bearer entra-token"}
AGENT = {"agent_name": "trip-planner", "agent_project_name": "contoso-travel"}


async def test_an_agent_handshake_without_a_model_is_announced_in_session_created() -> None:
    async with Simulator() as sim, raw_client(sim, headers=BEARER, model=None, **AGENT) as client:
        session = client.events[0]["session"]
        query = sim.handshakes[0]["query"]
    assert (query["agent-name"], query["agent-project-name"]) == ("trip-planner", "contoso-travel")
    assert "model" not in query and session["model"] is None
    agent = session["agent"]
    assert agent["type"] == "agent" and agent["name"] == "trip-planner"
    assert agent["agent_id"] and agent["thread_id"]
    # the shape the SDK reads (AgentConfig: type, name, agent_id, thread_id, description?)
    config = models.AgentConfig._deserialize(agent, [])
    assert (config.type, config.name, config.agent_id) == ("agent", "trip-planner", "trip-planner")
    assert set(agent) <= {rf._rest_name for rf in type(config)._attr_to_rest_field.values()}


async def test_agent_version_and_conversation_id_reach_the_agent_object() -> None:
    extra = {**AGENT, "agent_version": "3", "conversation_id": "conv_42"}
    async with Simulator() as sim, raw_client(sim, headers=BEARER, model=None, **extra) as client:
        agent = client.events[0]["session"]["agent"]
    assert agent["agent_id"] == "trip-planner:3"
    assert agent["thread_id"] == "conv_42"


async def test_a_model_session_has_no_agent() -> None:
    async with Simulator() as sim, raw_client(sim, headers=BEARER) as client:
        assert "agent" not in client.events[0]["session"]


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        (None, {"agent_name": "trip-planner"}),
        (None, {"agent_project_name": "contoso-travel"}),
        ("gpt-4o", {"agent_name": "trip-planner"}),  # half an agent is refused even with a model
        ("gpt-4o", {"agent_project_name": "contoso-travel"}),
        (None, {}),
    ],
)
async def test_half_an_agent_or_nothing_is_refused_with_400(
    model: str | None, extra: dict[str, str]
) -> None:
    async with Simulator() as sim:
        with pytest.raises(InvalidStatus) as info:
            async with connect(
                url(sim, model=model, **extra), additional_headers=BEARER, open_timeout=TIMEOUT
            ):
                pass
        assert info.value.response.status_code == 400
        assert sim.handshakes[-1]["status"] == 400
        assert sim.connections == []


async def test_instructions_in_an_agent_session_get_an_error_and_change_nothing() -> None:
    async with Simulator() as sim, raw_client(sim, headers=BEARER, model=None, **AGENT) as client:
        await client.send(
            "session.update",
            event_id="cli-7",
            session={"instructions": "Be a pirate.", "voice": {"type": "openai", "name": "ash"}},
        )
        error = (await client.until("error"))[-1]["error"]
        assert error["type"] == "invalid_request_error"
        assert (error["param"], error["event_id"]) == ("session.instructions", "cli-7")
        assert "agent" in error["message"]
        # the update was refused whole; one without instructions is accepted
        await client.send("session.update", session={"voice": {"type": "openai", "name": "ash"}})
        updated = (await client.until("session.updated"))[-1]["session"]
    assert updated["voice"] == {"type": "openai", "name": "ash"}
    assert updated["instructions"] == ""
    assert updated["agent"]["name"] == "trip-planner"
    assert [e["type"] for e in client.events].count("error") == 1


async def test_instructions_in_a_model_session_are_still_fine() -> None:
    async with Simulator() as sim, raw_client(sim, headers=BEARER) as client:
        await client.send("session.update", session={"instructions": "Be brief."})
        events = await client.until("session.updated")
    assert events[-1]["session"]["instructions"] == "Be brief."
    assert "error" not in [e["type"] for e in events]
