"""Fault scenarios for reconnecting clients, and what the simulator lets a test observe.

A raw websockets client (``tests.simulator_helpers``), not the voicelive client, drives every
scenario, so these tests check the simulator alone.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.simulator_helpers import TIMEOUT, RawClient, raw_client, url, utterance
from voicelive.simulator import FAULTS, Simulator, SimulatorOptions
from voicelive.simulator.observation import ConnectionLog


def _options(fault: str, after: float = 0.1, speedup: float = 20.0) -> SimulatorOptions:
    return SimulatorOptions(fault=fault, fault_after_s=after, speedup=speedup)


async def _start_reply(client: RawClient) -> None:
    await client.append(utterance(speech_s=1.0))


def _audio_deltas(client: RawClient) -> int:
    return sum(1 for e in client.events if e["type"] == "response.audio.delta")


async def _closed(log: ConnectionLog) -> ConnectionLog:
    await asyncio.wait_for(log.closed.wait(), TIMEOUT)
    return log


async def _healthy_turn(sim: Simulator) -> None:
    """A new connection completes set-up and a whole spoken reply."""
    async with raw_client(sim) as client:
        await client.send("session.update", session={"instructions": "again"})
        await client.until("session.updated")
        await _start_reply(client)
        done = (await client.until("response.done"))[-1]
        assert done["response"]["status"] == "completed"


async def _refused(sim: Simulator) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as info:
        async with connect(url(sim), additional_headers={"api-key": "k"}, open_timeout=TIMEOUT):
            pass
    return info.value


def test_new_fault_names_are_known() -> None:
    new = {
        "close-1000-mid-reply",
        "close-1001-mid-reply",
        "close-1006-mid-reply",
        "close-1011-mid-reply",
        "close-1012-mid-reply",
        "close-1013-mid-reply",
        "expire-soon",
        "http-429-once",
        "refuse-rehandshake",
        "drop-during-reconnect",
    }
    assert new <= FAULTS
    for name in new:
        SimulatorOptions(fault=name)  # accepted, no ValueError


# --- closes in the middle of a reply ------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "reason"),
    [
        ("close-1000-mid-reply", 1000, ""),
        ("close-1001-mid-reply", 1001, "going away"),
        ("close-1011-mid-reply", 1011, "internal server error"),
        ("close-1012-mid-reply", 1012, "service restart"),
        ("close-1013-mid-reply", 1013, "try again later"),
    ],
)
async def test_close_mid_reply_sends_that_close_code_once(
    fault: str, code: int, reason: str
) -> None:
    async with Simulator(_options(fault)) as sim:
        async with raw_client(sim) as client:
            await _start_reply(client)
            with pytest.raises(ConnectionClosed) as info:
                await client.until("response.done")
            assert info.value.rcvd is not None  # a real close frame
            assert (info.value.rcvd.code, info.value.rcvd.reason) == (code, reason)
            assert _audio_deltas(client) == 2  # right after the second delta
        first = await _closed(sim.connections[0])
        assert first.close_code == code
        await _healthy_turn(sim)  # once per simulator: the reconnect is served normally
        assert len(sim.connections) == 2


@pytest.mark.parametrize("fault", ["close-1006-mid-reply", "drop-mid-reply"])
async def test_close_1006_mid_reply_is_an_abort_without_close_frame(fault: str) -> None:
    async with Simulator(_options(fault)) as sim:
        async with raw_client(sim) as client:
            await _start_reply(client)
            with pytest.raises(ConnectionClosed) as info:
                await client.until("response.done")
            assert info.value.rcvd is None and info.value.sent is None
            assert _audio_deltas(client) == 2
        assert (await _closed(sim.connections[0])).close_code == 1006
        await _healthy_turn(sim)


# --- session expiry and make-before-break -------------------------------------------------


async def _round_trip(client: RawClient, marker: str) -> None:
    await client.send("session.update", session={"instructions": marker})
    updated = (await client.until("session.updated"))[-1]
    assert updated["session"]["instructions"] == marker


async def test_expire_soon_allows_make_before_break_rollover() -> None:
    after = 1.5
    async with Simulator(_options("expire-soon", after=after)) as sim:
        async with raw_client(sim) as old:
            created = old.events[0]["session"]
            old_expiry = created["expires_at"]
            assert isinstance(old_expiry, int)
            assert time.time() <= old_expiry <= math.ceil(time.time() + after)
            assert sim.connections[0].expires_at == old_expiry
            # The old session lives until (almost) its announced end: it must not close early.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(old.ws.wait_closed(), old_expiry - time.time() - 0.6)
            async with raw_client(sim) as new:
                fresh = new.events[0]["session"]
                assert fresh["id"] != created["id"]
                assert fresh["expires_at"] > old_expiry  # its own, later deadline
                assert sim.connections[1].expires_at == fresh["expires_at"]
                # Both sessions are open and served at the same time.
                await _round_trip(new, "new")
                await _round_trip(old, "old")
                assert old.ws.close_code is None
                # The old one ends at its deadline with 1001 session_expired...
                await asyncio.wait_for(old.ws.wait_closed(), old_expiry - time.time() + TIMEOUT)
                assert time.time() >= old_expiry - 0.05
                assert (old.ws.close_code, old.ws.close_reason) == (1001, "session_expired")
                # ...while the new one goes on, until its own deadline.
                assert new.ws.close_code is None
                await _round_trip(new, "still here")
                await asyncio.wait_for(new.ws.wait_closed(), fresh["expires_at"] - time.time() + 5)
                assert time.time() >= fresh["expires_at"] - 0.05
                assert (new.ws.close_code, new.ws.close_reason) == (1001, "session_expired")
        assert [(await _closed(log)).close_code for log in sim.connections] == [1001, 1001]


async def test_expire_soon_closes_on_versions_without_expires_at() -> None:
    async with (
        Simulator(_options("expire-soon", after=0.2)) as sim,
        raw_client(sim, api_version="2025-10-01") as client,
    ):
        assert "expires_at" not in client.events[0]["session"]  # not in this API version
        await asyncio.wait_for(client.ws.wait_closed(), TIMEOUT)
        assert (client.ws.close_code, client.ws.close_reason) == (1001, "session_expired")


# --- handshakes ---------------------------------------------------------------------------


async def test_http_429_once_then_handshakes_succeed() -> None:
    async with Simulator(_options("http-429-once")) as sim:
        refused = await _refused(sim)
        assert refused.response.status_code == 429
        assert refused.response.headers["Retry-After"] == "1"
        assert json.loads(refused.response.body)["error"]["code"] == "429"
        assert sim.handshake_attempts == 1 and sim.connections == []
        await _healthy_turn(sim)
        await _healthy_turn(sim)
        assert sim.handshake_attempts == 3
        assert [h["status"] for h in sim.handshakes] == [429, 101, 101]
        assert [log.index for log in sim.connections] == [1, 2]


async def test_refuse_rehandshake_drops_mid_reply_then_refuses_with_401() -> None:
    async with Simulator(_options("refuse-rehandshake")) as sim:
        async with raw_client(sim) as client:
            await _start_reply(client)
            with pytest.raises(ConnectionClosed) as info:
                await client.until("response.done")
            assert info.value.rcvd is None  # dropped, not closed
            assert _audio_deltas(client) == 2
        for _ in range(2):  # every later handshake
            refused = await _refused(sim)
            assert refused.response.status_code == 401
        assert sim.handshake_attempts == 3
        assert [h["status"] for h in sim.handshakes] == [101, 401, 401]
        assert len(sim.connections) == 1


async def test_drop_during_reconnect_kills_the_second_set_up_then_heals() -> None:
    async with Simulator(_options("drop-during-reconnect")) as sim:
        async with raw_client(sim) as client:
            await _start_reply(client)
            with pytest.raises(ConnectionClosed) as info:
                await client.until("response.done")
            assert info.value.rcvd is None and _audio_deltas(client) == 2
        async with raw_client(sim) as client:  # the handshake and session.created still work
            await client.send("session.update", session={"instructions": "set up"})
            with pytest.raises(ConnectionClosed) as info:
                await client.until("session.updated")
            assert info.value.rcvd is None  # aborted, no close frame
        second = await _closed(sim.connections[1])
        assert second.close_code == 1006
        assert [e["type"] for e in second.received] == ["session.update"]
        await _healthy_turn(sim)  # third connection
        await _healthy_turn(sim)  # and later ones
        codes = [(await _closed(log)).close_code for log in sim.connections]
        assert codes == [1006, 1006, 1000, 1000]


# --- history replay with conversation.item.create -----------------------------------------


def _user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _assistant_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}


async def test_replayed_history_is_stored_and_visible_per_connection() -> None:
    history = [
        _user_text("What time is it in Oslo?"),
        _assistant_text("It is two in the afternoon."),
        {**_user_text("And in Lima?"), "id": "item_client_3"},
    ]
    async with Simulator(_options("drop-mid-reply")) as sim:
        async with raw_client(sim) as client:
            await _start_reply(client)
            with pytest.raises(ConnectionClosed):
                await client.until("response.done")
        async with raw_client(sim) as client:
            await client.send("session.update", session={"modalities": ["text"]})
            await client.until("session.updated")
            created = []
            for item in history:
                await client.send("conversation.item.create", item=item)
                created.append((await client.until("conversation.item.created"))[-1])
            # Stored in order, each after the previous one.
            assert created[0]["previous_item_id"] is None
            assert [c["previous_item_id"] for c in created[1:]] == [
                created[0]["item"]["id"],
                created[1]["item"]["id"],
            ]
            assert created[2]["item"]["id"] == "item_client_3"
            assert created[1]["item"]["role"] == "assistant"
            assert created[1]["item"]["content"] == [
                {"type": "text", "text": "It is two in the afternoon."}
            ]
            await client.send("conversation.item.retrieve", item_id=created[1]["item"]["id"])
            retrieved = (await client.until("conversation.item.retrieved"))[-1]["item"]
            assert retrieved["content"][0]["text"] == "It is two in the afternoon."
            # The reply follows from the replayed conversation (its last user item).
            await client.send("response.create")
            done = (await client.until("response.done"))[-1]
            assert (
                done["response"]["output"][0]["content"][0]["text"] == 'You wrote: "And in Lima?"'
            )
        second = await sim.wait_for_connection(2)
        assert second.created_items() == history  # exactly what was replayed, in order
        assert sim.connections[0].created_items() == []
        assert sim.connections[0].of_type("input_audio_buffer.append")  # audio went to conn 1
        assert second.of_type("input_audio_buffer.append") == []
        assert second.session_id == client.events[0]["session"]["id"]
        event = await sim.wait_for_event("conversation.item.create", connection=2)
        assert event["item"] == history[0]


@pytest.mark.parametrize(
    ("item", "param"),
    [
        (
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "input_text", "text": "x"}],
            },
            "item.content[0].type",
        ),
        (
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "x"}],
            },
            "item.content[0].type",
        ),
        (
            {"type": "message", "role": "user", "content": [{"type": "text", "text": "x"}]},
            "item.content[0].type",
        ),
        ({**_assistant_text("x"), "status": "in_progress"}, "item.status"),
        ({"type": "message", "role": "assistant", "content": [{"type": "text"}]}, None),
    ],
)
async def test_replayed_items_with_wrong_content_get_an_error_and_are_not_stored(
    item: dict[str, Any], param: str | None
) -> None:
    item = {**item, "id": "item_bad"}
    async with Simulator() as sim, raw_client(sim) as client:
        await client.send("conversation.item.create", event_id="cli-7", item=item)
        error = (await client.until("error"))[-1]["error"]
        assert error["type"] == "invalid_request_error"
        assert error["event_id"] == "cli-7"
        if param is None:
            assert (error["code"], error["param"]) == (
                "missing_required_parameter",
                "item.content[0].text",
            )
        else:
            assert (error["code"], error["param"]) == ("invalid_value", param)
        await client.send("conversation.item.retrieve", item_id="item_bad")
        assert (await client.until("error"))[-1]["error"]["code"] == "item_not_found"
        assert not any(e["type"] == "conversation.item.created" for e in client.events)


# --- observation API ----------------------------------------------------------------------


async def test_wait_for_connection_and_events_per_connection() -> None:
    async with Simulator() as sim:
        waiting = asyncio.create_task(sim.wait_for_connection(2))
        later = asyncio.create_task(
            sim.wait_for_event("session.update", connection=2, predicate=lambda e: True)
        )
        async with raw_client(sim) as first:
            await first.send("session.update", session={"instructions": "one"})
            await first.until("session.updated")
            assert not waiting.done() and not later.done()
            async with raw_client(sim) as second:
                log = await asyncio.wait_for(waiting, TIMEOUT)
                assert log.index == 2 and log.api_version == "2026-07-15"
                assert log.query["api-version"] == "2026-07-15"
                await second.send("session.update", session={"instructions": "two"})
                event = await asyncio.wait_for(later, TIMEOUT)
                assert event["session"]["instructions"] == "two"
        assert [e["session"]["instructions"] for e in sim.received_events] == ["one", "two"]
        assert sim.connections[0].of_type("session.update")[0]["session"] == {"instructions": "one"}
        with pytest.raises(TimeoutError):
            await sim.wait_for_connection(3, timeout=0.05)
        with pytest.raises(ValueError, match="numbered from 1"):
            await sim.wait_for_connection(0)


async def test_connection_logs_share_a_bounded_event_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from voicelive.simulator import server

    monkeypatch.setattr(server, "MAX_KEPT_EVENTS", 50)
    async with Simulator() as sim:
        async with raw_client(sim) as client:
            for i in range(40):
                await client.send("session.update", session={"instructions": f"a{i}"})
            await client.until(
                "session.updated", where=lambda e: e["session"]["instructions"] == "a39"
            )
        async with raw_client(sim) as client:
            for i in range(40):
                await client.send("session.update", session={"instructions": f"b{i}"})
            await client.until(
                "session.updated", where=lambda e: e["session"]["instructions"] == "b39"
            )
        first, second = sim.connections
        assert len(first.received) + len(second.received) <= 50
        assert first.dropped_events > 0 and second.dropped_events == 0  # oldest go first
        assert len(first.received) + first.dropped_events == 40
        kept = [e["session"]["instructions"] for e in first.received]
        assert kept == [f"a{i}" for i in range(40 - len(kept), 40)]  # the most recent are kept
