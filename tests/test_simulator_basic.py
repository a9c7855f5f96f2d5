"""Simulator basic mode, driven by a raw WebSocket client on 127.0.0.1:0 (no voicelive client)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.simulator_helpers import (
    RawClient,
    best_correlation,
    decode_pcm,
    raw_client,
    speech_like,
    types,
    url,
    utterance,
    without_deltas,
)
from voicelive.simulator import Simulator, SimulatorOptions, serve

FAST = SimulatorOptions(speedup=50.0)

REPLY_ORDER = [
    "response.created",
    "response.output_item.added",
    "conversation.item.created",
    "response.content_part.added",
    "response.audio_transcript.delta",
    "response.audio.delta",
    "response.audio.done",
    "response.audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
]


async def _status(sim: Simulator, target: str, headers: dict[str, str] | None) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with connect(target, additional_headers=headers or {}, open_timeout=5):
            pass
    return info.value.response.status_code


# --- handshake ----------------------------------------------------------------------------


async def test_handshake_rejections_use_service_statuses() -> None:
    async with Simulator(SimulatorOptions(api_key="right-key")) as sim:
        good = {"api-key": "right-key"}
        assert await _status(sim, url(sim), None) == 401
        assert await _status(sim, url(sim), {"api-key": "wrong-key"}) == 401
        assert await _status(sim, url(sim), {"Authorization": "Bearer tok"}) == 401
        bad_path = url(sim).replace("/voice-live/realtime", "/openai/realtime")
        assert await _status(sim, bad_path, good) == 404
        assert await _status(sim, url(sim, api_version="2024-10-01-preview"), good) == 400
        assert await _status(sim, url(sim, model=None), good) == 400
        async with raw_client(sim, headers=good) as client:
            assert client.events[0]["session"]["model"] == "gpt-4o"


async def test_any_credential_accepted_without_required_key_and_secrets_redacted() -> None:
    async with Simulator() as sim:
        async with raw_client(sim, headers={"Authorization": "Bearer secret-token-123"}):
            pass
        async with raw_client(sim, headers={"api-key": "secret-key-456"}):
            pass
        assert await _status(sim, url(sim), {"Authorization": "Bearer "}) == 401
        assert await _status(sim, url(sim) + "&api-key=", {}) == 401
        async with connect(url(sim) + "&api-key=query-secret-789", open_timeout=5) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "session.created"
        dump = json.dumps(sim.handshakes)
        for secret in ("secret-token-123", "secret-key-456", "query-secret-789"):
            assert secret not in dump
        assert sim.handshakes[0]["path"] == "/voice-live/realtime"
        assert sim.handshakes[0]["query"]["api-version"] == "2026-07-15"
        auth = {k.lower(): v for k, v in sim.handshakes[0]["headers"].items()}["authorization"]
        assert auth == f"<redacted {len('Bearer secret-token-123')} chars>"


async def test_agent_parameters_replace_model() -> None:
    agent = {"agent_name": "helper", "agent_project_name": "proj"}
    async with Simulator() as sim, raw_client(sim, model=None, **agent) as client:
        session = client.events[0]["session"]
        assert session["agent"]["name"] == "helper"
        assert session["agent"]["type"] == "agent"


# --- session ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "padding", "has_expiry"),
    [("2025-10-01", 300, False), ("2026-04-10", 400, False), ("2026-07-15", 400, True)],
)
async def test_session_created_defaults_follow_api_version(
    version: str, padding: int, has_expiry: bool
) -> None:
    async with Simulator() as sim, raw_client(sim, api_version=version) as client:
        event = client.events[0]
        session = event["session"]
        assert event["event_id"].startswith("event_")
        assert session["id"].startswith("sess_")
        assert session["object"] == "realtime.session"
        assert session["input_audio_sampling_rate"] == 24000
        assert session["input_audio_format"] == session["output_audio_format"] == "pcm16"
        assert session["modalities"] == ["text", "audio"]
        assert session["turn_detection"]["type"] == "server_vad"
        assert session["turn_detection"]["prefix_padding_ms"] == padding
        assert ("expires_at" in session) is has_expiry


async def test_session_update_merges_and_replaces_nested_objects_whole() -> None:
    async with Simulator() as sim, raw_client(sim) as client:
        await client.send("session.update", session={"instructions": "Be brief."})
        first = (await client.until("session.updated"))[-1]["session"]
        assert first["instructions"] == "Be brief."
        td = {"type": "server_vad", "silence_duration_ms": 700, "auto_truncate": True}
        await client.send("session.update", session={"turn_detection": td})
        second = (await client.until("session.updated"))[-1]["session"]
        assert second["instructions"] == "Be brief."  # untouched field kept
        assert second["turn_detection"]["silence_duration_ms"] == 700
        assert second["turn_detection"]["auto_truncate"] is True
        assert second["turn_detection"]["threshold"] == 0.5  # type defaults filled in
        await client.send("session.update", session={"turn_detection": None})
        third = (await client.until("session.updated"))[-1]["session"]
        assert third["turn_detection"] is None
        assert second["id"] == third["id"] == client.events[0]["session"]["id"]


# --- one spoken turn ----------------------------------------------------------------------


async def _spoken_turn(client: RawClient, pcm: np.ndarray) -> list[dict[str, Any]]:
    await client.append(pcm)
    return await client.until("response.done")


async def test_utterance_gives_full_turn_sequence_and_parrots_the_audio() -> None:
    pcm = utterance(speech_s=1.0, lead_s=0.5, tail_s=0.8)
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        events = await _spoken_turn(client, pcm)
        order = without_deltas(events)
        assert order[:4] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.created",
        ]
        assert order[4:] == REPLY_ORDER  # §3.2, delta runs collapsed
        started, stopped, committed, user_item = events[0], events[1], events[2], events[3]
        # Onset at 500 ms, 400 ms prefix padding on 2026-07-15; end = 1500 ms + 500 ms silence.
        assert started["audio_start_ms"] == pytest.approx(100, abs=30)
        assert stopped["audio_end_ms"] == pytest.approx(2000, abs=30)
        assert started["item_id"] == stopped["item_id"] == committed["item_id"]
        assert user_item["item"]["id"] == committed["item_id"]
        assert user_item["item"]["role"] == "user"
        deltas = [e for e in events if e["type"] == "response.audio.delta"]
        assert len(deltas) >= 5
        returned = decode_pcm([e["delta"] for e in deltas])
        assert returned.size == pytest.approx(1.4 * 24000, abs=24 * 30)  # padding + speech
        assert best_correlation(pcm, returned) > 0.99
        done = events[-1]["response"]
        assert done["status"] == "completed"
        assert done["status_details"] is None
        assert done["usage"]["total_tokens"] > 0
        transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")
        assert transcript["transcript"] == "You said something 1.4 seconds long."
        text = "".join(e["delta"] for e in events if e["type"] == "response.audio_transcript.delta")
        assert text == transcript["transcript"]
        item_ids = {e["item_id"] for e in deltas}
        assert item_ids == {done["output"][0]["id"]}


async def test_reply_is_paced_by_speedup() -> None:
    pcm = utterance(speech_s=1.6, lead_s=0.2, tail_s=0.7)
    async with Simulator(SimulatorOptions(speedup=4.0)) as sim, raw_client(sim) as client:
        await client.append(pcm)
        loop = asyncio.get_running_loop()
        await client.until("response.audio.delta")
        first = loop.time()
        await client.until("response.done")
        elapsed = loop.time() - first
        # 2 s of audio (padding + speech) at 4x: the last chunk goes out ~0.4 s after the first.
        assert 0.3 < elapsed < 1.5


async def test_create_response_false_commits_without_reply() -> None:
    td = {"type": "server_vad", "create_response": False}
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await client.send("session.update", session={"turn_detection": td})
        await client.until("session.updated")
        await client.append(utterance())
        await client.until("conversation.item.created")
        await client.send("response.cancel", event_id="probe")
        seen = await client.until("error")
        assert "response.created" not in types(seen)
        assert seen[-1]["error"]["code"] == "response_cancel_not_active"


async def test_input_transcription_events_when_configured() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        session = {"input_audio_transcription": {"model": "azure-speech", "language": "en-US"}}
        await client.send("session.update", session=session)
        await client.until("session.updated")
        events = await _spoken_turn(client, utterance(speech_s=0.8))
        completed = next(
            e
            for e in events
            if e["type"] == "conversation.item.input_audio_transcription.completed"
        )
        committed = next(e for e in events if e["type"] == "input_audio_buffer.committed")
        assert completed["item_id"] == committed["item_id"]
        assert "not transcribe" in completed["transcript"]


# --- barge-in -----------------------------------------------------------------------------


async def _interrupt_reply(client: RawClient) -> list[dict[str, Any]]:
    """Speak, wait for the reply's first audio, then speak again; return events after that."""
    await client.append(utterance(speech_s=1.5))
    await client.until("response.audio.delta")
    await client.append(speech_like(0.5, seed=7))
    return await client.until("response.done")


async def test_barge_in_cancels_the_active_response() -> None:
    async with Simulator(SimulatorOptions(speedup=1.0)) as sim, raw_client(sim) as client:
        events = await _interrupt_reply(client)
        names = types(events)
        assert "input_audio_buffer.speech_started" in names
        assert names.index("input_audio_buffer.speech_started") < names.index("response.audio.done")
        for name in (
            "response.audio_transcript.done",
            "response.content_part.done",
            "response.output_item.done",
        ):
            assert name in names
        done = events[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
        assert done["output"][0]["status"] == "incomplete"
        assert "conversation.item.truncated" not in names  # auto_truncate is off by default


async def test_barge_in_with_auto_truncate_truncates_at_realtime_position() -> None:
    td = {"type": "server_vad", "auto_truncate": True}
    # The reply streams twice as fast as it plays, as the service's does, so unplayed audio is
    # waiting when the barge-in comes. (At 1x the input, heard at real time, and the reply's
    # 100 ms chunks can meet exactly at a chunk's end: everything sent was heard, nothing to cut.)
    async with Simulator(SimulatorOptions(speedup=2.0)) as sim, raw_client(sim) as client:
        await client.send("session.update", session={"turn_detection": td})
        await client.until("session.updated")
        loop = asyncio.get_running_loop()
        await client.append(utterance(speech_s=1.5))
        first_delta = (await client.until("response.audio.delta"))[-1]
        t_first = loop.time()
        await client.append(speech_like(0.5, seed=7))
        events = await client.until("conversation.item.truncated")
        upper_ms = (loop.time() - t_first) * 1000 + 50
        truncated = events[-1]
        assert truncated["item_id"] == first_delta["item_id"]
        assert 0 <= truncated["audio_end_ms"] <= upper_ms
        assert truncated["audio_end_ms"] < 1900  # well before the end of the reply
        assert "response.done" in types(events)  # cancelled before being truncated


async def test_interrupt_response_false_lets_the_reply_finish() -> None:
    td = {"type": "server_vad", "interrupt_response": False, "create_response": False}
    async with Simulator(SimulatorOptions(speedup=2.0)) as sim, raw_client(sim) as client:
        await client.send("session.update", session={"turn_detection": td})
        await client.until("session.updated")
        await client.append(utterance(speech_s=1.0))
        await client.until("conversation.item.created")
        await client.send("response.create")
        await client.until("response.audio.delta")
        await client.append(speech_like(0.5, seed=7))
        events = await client.until("response.done")
        assert "input_audio_buffer.speech_started" in types(events)
        assert events[-1]["response"]["status"] == "completed"


# --- cancel and truncate ------------------------------------------------------------------


async def test_cancel_with_nothing_active_is_a_benign_error_echoing_event_id() -> None:
    async with Simulator() as sim, raw_client(sim) as client:
        await client.send("response.cancel", event_id="cli-42")
        error = (await client.until("error"))[-1]["error"]
        assert error["code"] == "response_cancel_not_active"
        assert error["type"] == "invalid_request_error"
        assert error["event_id"] == "cli-42"


async def test_client_cancel_of_active_response() -> None:
    async with Simulator(SimulatorOptions(speedup=1.0)) as sim, raw_client(sim) as client:
        await client.send("response.create")
        created = (await client.until("response.created"))[-1]["response"]
        await client.until("response.audio.delta")
        await client.send("response.cancel", response_id=created["id"])
        done = (await client.until("response.done"))[-1]["response"]
        assert done["id"] == created["id"]
        assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}


async def test_truncate_errors_and_success() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        events = await _spoken_turn(client, utterance(speech_s=1.0))
        user_id = next(e for e in events if e["type"] == "input_audio_buffer.committed")["item_id"]
        assistant = events[-1]["response"]["output"][0]["id"]
        reply_ms = 1400

        async def truncate(item_id: str, ms: int) -> dict[str, Any]:
            await client.send(
                "conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=ms
            )
            return await client.recv()  # the very next event answers this request

        beyond = await truncate(assistant, reply_ms + 500)
        assert beyond["type"] == "error" and beyond["error"]["param"] == "audio_end_ms"
        unknown = await truncate("item_nope", 10)
        assert unknown["type"] == "error" and unknown["error"]["param"] == "item_id"
        user = await truncate(user_id, 10)
        assert user["type"] == "error" and "Only model output audio" in user["error"]["message"]
        ok = await truncate(assistant, 700)
        assert ok["type"] == "conversation.item.truncated"
        assert (ok["item_id"], ok["content_index"], ok["audio_end_ms"]) == (assistant, 0, 700)
        await client.send("conversation.item.retrieve", item_id=assistant)
        item = (await client.until("conversation.item.retrieved"))[-1]["item"]
        audio = base64.b64decode(item["content"][0]["audio"])
        assert len(audio) == 700 * 48
        assert item["content"][0]["transcript"] == "You said something"  # half the words heard
        again = await truncate(assistant, 300)
        assert again["error"]["code"] == "item_already_truncated"


# --- manual commit ------------------------------------------------------------------------


async def test_manual_commit_mode_parrots_committed_audio_on_response_create() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await client.send("session.update", session={"turn_detection": None})
        await client.until("session.updated")
        await client.send("input_audio_buffer.commit", event_id="empty")
        error = (await client.until("error"))[-1]["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        pcm = speech_like(0.6)
        await client.append(pcm)
        await client.send("input_audio_buffer.commit")
        events = await client.until("conversation.item.created")
        assert types(events) == ["input_audio_buffer.committed", "conversation.item.created"]
        await client.send("response.create")
        reply = await client.until("response.done")
        assert "input_audio_buffer.speech_started" not in types(reply)
        returned = decode_pcm([e["delta"] for e in reply if e["type"] == "response.audio.delta"])
        assert returned.size == pcm.size
        assert best_correlation(pcm, returned) > 0.99


async def test_clear_empties_the_buffer() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await client.send("session.update", session={"turn_detection": None})
        await client.until("session.updated")
        await client.append(speech_like(0.5))
        await client.send("input_audio_buffer.clear")
        await client.until("input_audio_buffer.cleared")
        await client.send("input_audio_buffer.commit")
        assert (await client.until("error"))[-1]["error"][
            "code"
        ] == "input_audio_buffer_commit_empty"


async def test_response_create_while_active_is_refused() -> None:
    async with Simulator(SimulatorOptions(speedup=1.0)) as sim, raw_client(sim) as client:
        await client.send("response.create")
        await client.until("response.audio.delta")
        await client.send("response.create", event_id="dup")
        error = (await client.until("error"))[-1]["error"]
        assert error["code"] == "conversation_already_has_active_response"
        assert error["event_id"] == "dup"


# --- bad input ----------------------------------------------------------------------------


async def test_unknown_event_malformed_json_and_binary_frames_get_errors() -> None:
    async with Simulator() as sim, raw_client(sim) as client:
        await client.send("session.fly_to_moon", event_id="x1")
        error = (await client.until("error"))[-1]["error"]
        assert (error["type"], error["param"], error["event_id"]) == (
            "invalid_request_error",
            "type",
            "x1",
        )
        assert "session.fly_to_moon" in error["message"]
        await client.ws.send("{not json")
        assert (await client.until("error"))[-1]["error"]["code"] == "invalid_json"
        await client.ws.send(b"\x00\x01")
        assert (await client.until("error"))[-1]["error"]["code"] == "invalid_frame"
        await client.send("input_audio_buffer.append", audio="***")
        assert (await client.until("error"))[-1]["error"]["param"] == "audio"
        # The session is still alive after all that.
        await client.send("session.update", session={})
        await client.until("session.updated")


async def test_all_server_ids_are_unique() -> None:
    async with Simulator(FAST) as sim:
        async with raw_client(sim) as a, raw_client(sim) as b:
            for client in (a, b):
                await _spoken_turn(client, utterance(speech_s=0.5))
            events = a.events + b.events
        event_ids = [e["event_id"] for e in events]
        assert len(set(event_ids)) == len(event_ids)
        responses = {e["response"]["id"] for e in events if e["type"] == "response.created"}
        assert len(responses) == 2 and all(r.startswith("resp_") for r in responses)
        items = {e["item"]["id"] for e in events if e["type"] == "conversation.item.created"}
        assert len(items) == 4 and all(i.startswith("item_") for i in items)
        sessions = {e["session"]["id"] for e in events if e["type"] == "session.created"}
        assert len(sessions) == 2


# --- observation, recording, serve --------------------------------------------------------


async def test_wait_for_event_sees_past_and_future_events() -> None:
    async with Simulator() as sim, raw_client(sim) as client:
        await client.send("session.update", session={"instructions": "a"})
        past = await sim.wait_for_event("session.update")
        assert past["session"] == {"instructions": "a"}
        waiter = asyncio.create_task(
            sim.wait_for_event(
                "session.update", predicate=lambda e: e["session"].get("instructions") == "b"
            )
        )
        await client.send("session.update", session={"instructions": "b"})
        assert (await asyncio.wait_for(waiter, 5))["session"]["instructions"] == "b"
        with pytest.raises(TimeoutError):
            await sim.wait_for_event("response.cancel", timeout=0.05)


async def test_received_events_and_record_elide_audio(tmp_path: Path) -> None:
    record = tmp_path / "rec" / "frames.jsonl"
    async with Simulator(SimulatorOptions(speedup=50.0, record_path=record)) as sim:
        async with raw_client(sim, headers={"api-key": "never-in-record"}) as client:
            await _spoken_turn(client, utterance(speech_s=0.5))
        append = await sim.wait_for_event("input_audio_buffer.append")
        assert append["audio"] == {"audio_bytes": 960}
    text = record.read_text()
    assert "never-in-record" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert {line["dir"] for line in lines} == {"in", "out"}
    assert all(set(line) == {"t", "dir", "event"} for line in lines)
    times = [line["t"] for line in lines]
    assert times == sorted(times)
    deltas = [line["event"] for line in lines if line["event"]["type"] == "response.audio.delta"]
    assert deltas and all(set(d["delta"]) == {"audio_bytes"} for d in deltas)
    assert max(len(line) for line in text.splitlines()) < 2000  # no base64 blobs anywhere
    first_out = next(line for line in lines if line["dir"] == "out")
    assert first_out["event"]["type"] == "session.created"


async def test_close_is_idempotent_and_closes_clients_with_going_away() -> None:
    sim = Simulator()
    await sim.start()
    async with connect(url(sim), additional_headers={"api-key": "k"}) as ws:
        await asyncio.wait_for(ws.recv(), 5)
        await sim.close()
        await sim.close()
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 1001


async def test_serve_prints_endpoint_and_stops_on_cancel(
    capsys: pytest.CaptureFixture[str],
) -> None:
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve("127.0.0.1", 0, SimulatorOptions(), listening))
    endpoint = await asyncio.wait_for(listening, 5)  # set right after the line is printed
    line = capsys.readouterr().out
    assert line.startswith(f"Voice Live simulator listening on {endpoint} ")
    assert endpoint.startswith("ws://127.0.0.1:")
    async with connect(
        f"{endpoint}/voice-live/realtime?api-version=2025-10-01&model=m",
        additional_headers={"api-key": "k"},
    ) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "session.created"
        task.cancel()
        await asyncio.wait({task})
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert task.cancelled()
