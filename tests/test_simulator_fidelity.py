"""Simulator fidelity (issue 3): validation errors, text replies, non-audio turns, formats."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from tests.simulator_helpers import RawClient, best_correlation, raw_client, types, utterance
from voicelive.simulator import Simulator, SimulatorOptions
from voicelive.simulator import audio as sim_audio

FAST = SimulatorOptions(speedup=50.0)


async def _update_error(
    client: RawClient, session: Any, api_version_note: str = ""
) -> dict[str, Any]:
    await client.send("session.update", event_id="upd", session=session)
    event = (await client.until("error"))[-1]
    assert event["error"]["event_id"] == "upd", api_version_note
    return event["error"]


@pytest.mark.parametrize(
    ("session", "param", "code"),
    [
        ({"voice_name": "x"}, "session.voice_name", "unknown_parameter"),
        ({"temperature": 2.0}, "session.temperature", "invalid_value"),
        ({"temperature": 0.1}, "session.temperature", "invalid_value"),
        (
            {"max_response_output_tokens": 5000},
            "session.max_response_output_tokens",
            "invalid_value",
        ),
        ({"modalities": ["audio"]}, "session.modalities", "invalid_value"),
        (
            {"input_audio_sampling_rate": 12000},
            "session.input_audio_sampling_rate",
            "invalid_value",
        ),
        ({"output_audio_format": "mp3"}, "session.output_audio_format", "invalid_value"),
        (
            {"voice": {"type": "azure-standard", "name": "en-US-AvaNeural", "temperature": 1.5}},
            "session.voice.temperature",
            "invalid_value",
        ),
        (
            {"voice": {"type": "azure-standard", "nam": "x"}},
            "session.voice.nam",
            "unknown_parameter",
        ),
        (
            {"turn_detection": {"type": "server_vad", "threshold": 1.5}},
            "session.turn_detection.threshold",
            "invalid_value",
        ),
        (
            {"turn_detection": {"type": "server_vad", "silence_duration_ms": -1}},
            "session.turn_detection.silence_duration_ms",
            "invalid_value",
        ),
        (
            {"turn_detection": {"type": "server_vad", "silence_ms": 500}},
            "session.turn_detection.silence_ms",
            "unknown_parameter",
        ),
        ({"turn_detection": {"type": "magic_vad"}}, "session.turn_detection.type", "invalid_value"),
        (
            {"turn_detection": {"type": "semantic_vad", "threshold": 0.5}},
            "session.turn_detection.threshold",
            "unknown_parameter",
        ),
        # GA versions spell EOU threshold_level/timeout_ms; the preview-era names are refused.
        (
            {
                "turn_detection": {
                    "type": "azure_semantic_vad",
                    "end_of_utterance_detection": {
                        "model": "semantic_detection_v1",
                        "threshold": 0.01,
                        "timeout": 2,
                    },
                }
            },
            "session.turn_detection.end_of_utterance_detection.threshold",
            "unknown_parameter",
        ),
        (
            {"input_audio_transcription": {"model": "whisper-9"}},
            "session.input_audio_transcription.model",
            "invalid_value",
        ),
        (
            {"input_audio_noise_reduction": {"type": "azure_deep_noise_suppresion"}},
            "session.input_audio_noise_reduction.type",
            "invalid_value",
        ),
        ({"model": "gpt-5"}, "session.model", "invalid_value"),
    ],
)
async def test_bad_session_update_names_the_param_and_changes_nothing(
    session: dict[str, Any], param: str, code: str
) -> None:
    async with Simulator() as sim, raw_client(sim) as client:
        error = await _update_error(client, session)
        assert (error["param"], error["code"]) == (param, code)
        assert error["type"] == "invalid_request_error"
        # Rejected whole: a valid update afterwards shows the defaults untouched.
        await client.send("session.update", session={})
        effective = (await client.until("session.updated"))[-1]["session"]
        assert effective == {**client.events[0]["session"]}


async def test_legacy_eou_fields_accepted_on_2025_05_01_preview_only() -> None:
    td = {
        "type": "azure_semantic_vad",
        "end_of_utterance_detection": {
            "model": "semantic_detection_v1",
            "threshold": 0.01,
            "timeout": 2,
        },
    }
    async with Simulator() as sim, raw_client(sim, api_version="2025-05-01-preview") as client:
        await client.send("session.update", session={"turn_detection": td})
        updated = (await client.until("session.updated"))[-1]["session"]
        assert updated["turn_detection"]["end_of_utterance_detection"]["timeout"] == 2
        ga = {
            **td,
            "end_of_utterance_detection": {"model": "semantic_detection_v1", "timeout_ms": 900},
        }
        error = await _update_error(client, {"turn_detection": ga})
        assert error["param"].endswith("end_of_utterance_detection.timeout_ms")


async def test_a_full_valid_session_update_is_accepted() -> None:
    session = {
        "modalities": ["text", "audio"],
        "instructions": "You are a concise voice assistant.",
        "voice": {
            "type": "azure-standard",
            "name": "en-US-Ava:DragonHDLatestNeural",
            "temperature": 0.8,
        },
        "input_audio_format": "pcm16",
        "input_audio_sampling_rate": 24000,
        "output_audio_format": "pcm16",
        "turn_detection": {
            "type": "azure_semantic_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
            "remove_filler_words": True,
            "interrupt_response": True,
            "auto_truncate": False,
            "end_of_utterance_detection": {
                "model": "semantic_detection_v1",
                "threshold_level": "default",
                "timeout_ms": 1000,
            },
        },
        "input_audio_noise_reduction": {"type": "azure_deep_noise_suppression"},
        "input_audio_echo_cancellation": {"type": "server_echo_cancellation"},
        "input_audio_transcription": {"model": "azure-speech", "language": "en-US"},
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }
    async with Simulator() as sim, raw_client(sim) as client:
        await client.send("session.update", session=session)
        effective = (await client.until("session.updated"))[-1]["session"]
        for key, value in session.items():
            if key != "turn_detection":
                assert effective[key] == value
        assert effective["turn_detection"] == {
            **effective["turn_detection"],
            **session["turn_detection"],
        }
        assert "expires_at" in effective


async def test_text_only_modalities_reply_with_text_events() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await client.send("session.update", session={"modalities": ["text"]})
        await client.until("session.updated")
        await client.append(utterance(speech_s=0.6))
        events = await client.until("response.done")
        names = types(events)
        assert (
            "response.audio.delta" not in names and "response.audio_transcript.delta" not in names
        )
        deltas = [e["delta"] for e in events if e["type"] == "response.text.delta"]
        done = next(e for e in events if e["type"] == "response.text.done")
        assert deltas and "".join(deltas) == done["text"]
        part = next(e for e in events if e["type"] == "response.content_part.done")["part"]
        assert part == {"type": "text", "text": done["text"]}
        assert names.index("response.text.done") < names.index("response.content_part.done")
        assert events[-1]["response"]["status"] == "completed"
        assert events[-1]["response"]["modalities"] == ["text"]


async def test_input_text_item_then_response_create_is_answered() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "What time is it?"}],
        }
        await client.send("conversation.item.create", item=item)
        created = (await client.until("conversation.item.created"))[-1]
        assert created["item"]["content"] == [{"type": "input_text", "text": "What time is it?"}]
        assert created["item"]["role"] == "user" and created["previous_item_id"] is None
        await client.send("response.create")
        events = await client.until("response.done")
        transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")[
            "transcript"
        ]
        assert transcript == 'You wrote: "What time is it?"'
        chunks = [
            base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"
        ]
        pcm = np.frombuffer(b"".join(chunks), dtype="<i2")
        assert pcm.size > 24000 // 2  # a real spoken (synthetic) reply, not an empty one
        assert np.sqrt(np.mean(pcm.astype(float) ** 2)) > 1000


async def test_response_create_with_instructions_is_answered_with_them() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await client.send("response.create", response={"instructions": "Greet the user briefly."})
        events = await client.until("response.done")
        transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")[
            "transcript"
        ]
        assert "Greet the user briefly." in transcript
        assert events[-1]["response"]["status"] == "completed"


async def test_response_create_overrides_are_validated() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await client.send("response.create", event_id="r1", response={"temprature": 0.7})
        error = (await client.until("error"))[-1]["error"]
        assert (error["param"], error["event_id"]) == ("response.temprature", "r1")
        await client.send("response.create", response={"modalities": ["text"]})
        events = await client.until("response.done")
        assert "response.text.done" in types(events)


async def test_pre_generated_assistant_message_is_spoken_verbatim() -> None:
    message = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "One moment, please."}],
    }
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await client.send("response.create", response={"pre_generated_assistant_message": message})
        events = await client.until("response.done")
        done = next(e for e in events if e["type"] == "response.audio_transcript.done")
        assert done["transcript"] == "One moment, please."


async def test_item_create_delete_retrieve_round_trip() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        first = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "a"}],
            "id": "item_mine",
        }
        await client.send("conversation.item.create", item=first)
        await client.until("conversation.item.created")
        # A client may replay a call it made earlier (history after a reconnect); its output
        # must name a call the conversation holds.
        call = {"type": "function_call", "name": "f", "call_id": "call_1", "arguments": "{}"}
        await client.send("conversation.item.create", item=call)
        await client.until("conversation.item.created")
        second = {"type": "function_call_output", "call_id": "call_1", "output": "{}"}
        await client.send("conversation.item.create", previous_item_id="root", item=second)
        created = (await client.until("conversation.item.created"))[-1]
        assert created["previous_item_id"] is None
        assert (
            created["item"]["type"] == "function_call_output"
            and created["item"]["call_id"] == "call_1"
        )
        await client.send("conversation.item.create", item=first)
        assert (await client.until("error"))[-1]["error"]["param"] == "item.id"
        await client.send(
            "conversation.item.create", previous_item_id="item_nope", item={**first, "id": "x2"}
        )
        assert (await client.until("error"))[-1]["error"]["param"] == "previous_item_id"
        bad = {"type": "message", "role": "user", "content": [{"type": "text", "text": "a"}]}
        await client.send("conversation.item.create", item=bad)
        assert (await client.until("error"))[-1]["error"]["param"] == "item.content[0].type"
        await client.send("conversation.item.retrieve", item_id="item_mine")
        retrieved = (await client.until("conversation.item.retrieved"))[-1]["item"]
        assert retrieved["content"][0]["text"] == "a"
        await client.send("conversation.item.delete", item_id="item_mine")
        assert (await client.until("conversation.item.deleted"))[-1]["item_id"] == "item_mine"
        await client.send("conversation.item.delete", item_id="item_mine")
        assert (await client.until("error"))[-1]["error"]["code"] == "item_not_found"


async def test_input_audio_item_is_parroted() -> None:
    pcm = utterance(speech_s=0.5, lead_s=0.0, tail_s=0.0)
    audio = base64.b64encode(pcm.astype("<i2").tobytes()).decode()
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": audio}],
        }
        await client.send("conversation.item.create", item=item)
        await client.until("conversation.item.created")
        await client.send("response.create")
        events = await client.until("response.done")
        chunks = [
            base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"
        ]
        returned = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.int16)
        assert best_correlation(pcm, returned) > 0.99


@pytest.mark.parametrize("fmt", ["g711_ulaw", "g711_alaw"])
async def test_g711_input_and_output_formats(fmt: str) -> None:
    pcm24 = utterance(speech_s=0.8, lead_s=0.3, tail_s=0.8)
    pcm8 = sim_audio.resample(pcm24, 24000, 8000)
    encoded = sim_audio.ulaw_encode(pcm8) if fmt == "g711_ulaw" else sim_audio.alaw_encode(pcm8)
    decode = sim_audio.ulaw_decode if fmt == "g711_ulaw" else sim_audio.alaw_decode
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await client.send(
            "session.update", session={"input_audio_format": fmt, "output_audio_format": fmt}
        )
        updated = (await client.until("session.updated"))[-1]["session"]
        assert updated["input_audio_sampling_rate"] == 8000
        for i in range(0, len(encoded), 160):  # 20 ms at 8 kHz, one byte per sample
            await client.send(
                "input_audio_buffer.append", audio=base64.b64encode(encoded[i : i + 160]).decode()
            )
        events = await client.until("response.done")
        wire = b"".join(
            base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"
        )
        returned = decode(wire)
        assert returned.size == pytest.approx(
            8000 * (0.8 + 0.3), abs=80
        )  # one byte per 8 kHz sample
        assert best_correlation(pcm8, returned) > 0.95


async def test_pcm16_16k_input_rate_is_honoured() -> None:
    pcm24 = utterance(speech_s=0.8, lead_s=0.3, tail_s=0.8)
    pcm16 = sim_audio.resample(pcm24, 24000, 16000)
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await client.send("session.update", session={"input_audio_sampling_rate": 16000})
        await client.until("session.updated")
        await client.append(pcm16, chunk_bytes=640)
        events = await client.until("response.done")
        stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
        # 300 ms lead + 800 ms speech + 500 ms silence, on the session's ms clock.
        assert stopped["audio_end_ms"] == pytest.approx(1600, abs=30)
