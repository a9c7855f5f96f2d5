"""Every server event the simulator emits must deserialize into the official SDK's model.

The reference is ``azure-ai-voicelive`` (a test-only dependency, never imported by voicelive
itself). For each event: the SDK picks the subclass for its ``type`` (not the generic fallback),
every field the SDK marks required is present (recursively, through nested models such as
``response``, ``item``, ``session``, ``usage``), every present field deserializes, and we send no
field the SDK does not know, except the documented extras listed in ``_KNOWN_EXTRAS``.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from tests.simulator_helpers import RawClient, raw_client, types, utterance
from voicelive.simulator import Simulator, SimulatorOptions

models = pytest.importorskip(
    "azure.ai.voicelive.models", reason="azure-ai-voicelive (test-only dependency) is not installed"
)
from tests.sdk_models import walk_model  # noqa: E402

EMITTED = {
    "session.created",
    "session.updated",
    "error",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "input_audio_buffer.cleared",
    "conversation.item.created",
    "conversation.item.retrieved",
    "conversation.item.truncated",
    "conversation.item.deleted",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    "response.created",
    "response.done",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.text.delta",
    "response.text.done",
    "response.audio_transcript.delta",
    "response.audio_transcript.done",
    "response.audio.delta",
    "response.audio.done",
    "output_audio_buffer.cleared",
}
"""Every server event type the simulator can produce in normal operation."""

# Fields we send that the SDK's models do not declare, and why.
_KNOWN_EXTRAS = {
    # protocol notes §3.3 / §4.1: the response-side session carries object "realtime.session".
    ("ResponseSession", "object"),
    # protocol notes §3.3: conversation.item.retrieved returns the assistant's audio as base64
    # in its audio part; the SDK's ResponseAudioContentPart only models the transcript.
    ("ResponseAudioContentPart", "audio"),
}

# Fields the SDK marks required that the service leaves out, and why (docs win over the SDK).
_KNOWN_OMISSIONS = {
    # The SDK reuses its request part model for user audio items in server events, so it
    # demands ``audio``; the documented service events (protocol notes §3.3, and the OpenAI
    # shape it follows) echo only ``{"type": "input_audio", "transcript": …}`` and return the
    # audio on ``conversation.item.retrieve`` alone.
    ("RequestAudioContentPart", "audio"),
}

# Fields a real server sends even where the SDK calls them optional (protocol notes §3.3).
_SERVER_ALWAYS_SENDS = {
    "Response": {"id", "object", "status", "status_details", "output", "usage"},
    "ResponseSession": {
        "id",
        "model",
        "modalities",
        "voice",
        "turn_detection",
        "input_audio_format",
        "output_audio_format",
        "input_audio_sampling_rate",
    },
    "ResponseMessageItem": {"id", "object", "status", "role", "content"},
    "ServerEventErrorDetails": {"type", "code", "message", "param", "event_id"},
}


def check_event(raw: dict[str, Any]) -> Any:
    model = models.ServerEvent._deserialize(raw, [])
    assert type(model) is not models.ServerEvent, f"{raw['type']}: the SDK has no model for it"
    assert model.type == raw["type"]
    walk_model(
        model,
        raw,
        raw["type"],
        extras=_KNOWN_EXTRAS,
        required=True,
        omissions=_KNOWN_OMISSIONS,
        always_sends=_SERVER_ALWAYS_SENDS,
    )
    return model


async def _conversation(client: RawClient) -> None:
    """Drive a session through every event type the simulator emits."""
    transcription = {"model": "azure-speech", "language": "en-US"}
    await client.send("session.update", session={"input_audio_transcription": transcription})
    await client.until("session.updated")
    await client.append(utterance(speech_s=0.8))
    turn = await client.until("response.done")
    user_id = next(e for e in turn if e["type"] == "input_audio_buffer.committed")["item_id"]
    assistant_id = turn[-1]["response"]["output"][0]["id"]
    await client.send("conversation.item.retrieve", item_id=assistant_id)
    await client.until("conversation.item.retrieved")
    await client.send(
        "conversation.item.truncate", item_id=assistant_id, content_index=0, audio_end_ms=200
    )
    await client.until("conversation.item.truncated")
    await client.send("conversation.item.delete", item_id=user_id)
    await client.until("conversation.item.deleted")
    await client.send("input_audio_buffer.clear")
    await client.until("input_audio_buffer.cleared")
    await client.send("output_audio_buffer.clear")
    await client.until("output_audio_buffer.cleared")
    await client.send("response.cancel", event_id="cancel-1")
    await client.until("error")
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    await client.send("conversation.item.create", item=item)
    await client.until("conversation.item.created")
    await client.send("response.create", response={"modalities": ["text"]})
    await client.until("response.done")
    await client.send("response.create")
    await client.until("response.audio.delta")
    await client.send("response.cancel")
    cancelled = (await client.until("response.done"))[-1]
    assert cancelled["response"]["status"] == "cancelled"


@pytest.mark.parametrize("api_version", ["2025-10-01", "2026-07-15"])
async def test_every_emitted_server_event_matches_the_sdk_model(api_version: str) -> None:
    async with (
        Simulator(SimulatorOptions(speedup=8.0)) as sim,
        raw_client(sim, api_version=api_version) as client,
    ):
        await _conversation(client)
        events = list(client.events)
    assert set(types(events)) == EMITTED
    for raw in events:
        check_event(raw)


async def test_typed_values_survive_sdk_deserialization() -> None:
    async with Simulator(SimulatorOptions(speedup=50.0)) as sim, raw_client(sim) as client:
        await client.append(utterance(speech_s=0.5))
        events = client.events + await client.until("response.done")
    created = check_event(events[0])
    assert isinstance(created.session.expires_at, datetime.datetime)  # unix seconds on the wire
    assert isinstance(created.session.turn_detection, models.ServerVad)
    started = check_event(
        next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    )
    assert isinstance(started.audio_start_ms, int)
    delta = check_event(next(e for e in events if e["type"] == "response.audio.delta"))
    assert isinstance(delta.delta, bytes) and len(delta.delta) % 2 == 0  # SDK decodes base64
    done = check_event(events[-1])
    assert done.response.status == "completed"
    assert isinstance(done.response.output[0], models.ResponseMessageItem)
    assert done.response.usage.total_tokens == events[-1]["response"]["usage"]["total_tokens"]


async def test_cancelled_and_error_details_use_sdk_shapes() -> None:
    async with Simulator(SimulatorOptions(speedup=1.0)) as sim, raw_client(sim) as client:
        await client.send("response.cancel", event_id="c1")
        error = check_event((await client.until("error"))[-1])
        assert (error.error.code, error.error.event_id) == ("response_cancel_not_active", "c1")
        await client.send("response.create")
        await client.until("response.audio.delta")
        await client.send("response.cancel")
        done = check_event((await client.until("response.done"))[-1])
        assert isinstance(done.response.status_details, models.ResponseCancelledDetails)
        assert done.response.status_details.reason == "client_cancelled"


_EOU = {"model": "semantic_detection_v1", "threshold_level": "default", "timeout_ms": 1000}


@pytest.mark.parametrize(
    "session",
    [
        {"turn_detection": {"type": "server_vad", "threshold": 0.6, "auto_truncate": True}},
        {"turn_detection": {"type": "azure_semantic_vad", "end_of_utterance_detection": _EOU}},
        {"turn_detection": {"type": "azure_semantic_vad_multilingual", "languages": ["en", "de"]}},
        {"turn_detection": {"type": "azure_semantic_vad_en", "remove_filler_words": True}},
        {"voice": {"type": "azure-standard", "name": "en-US-AvaNeural", "rate": "1.1"}},
        {"voice": {"type": "openai", "name": "alloy"}},
        {
            "input_audio_noise_reduction": {"type": "azure_deep_noise_suppression"},
            "input_audio_echo_cancellation": {"type": "server_echo_cancellation"},
        },
        {"modalities": ["text"], "output_audio_format": "pcm16_16000hz", "temperature": 0.7},
    ],
)
async def test_session_updated_matches_the_sdk_model(session: dict[str, Any]) -> None:
    # semantic_vad (OpenAI's type) is accepted by the simulator but not modelled by the SDK,
    # so it is left out here.
    async with Simulator() as sim, raw_client(sim) as client:
        await client.send("session.update", session=session)
        updated = check_event((await client.until("session.updated"))[-1])
        for key in session:
            assert updated.session[key] is not None


def test_the_server_side_walk_fails_on_a_missing_required_field() -> None:
    event = {"type": "response.audio.done", "event_id": "e1", "response_id": "r1"}
    with pytest.raises(AssertionError, match="required by the SDK model"):
        check_event(event)  # item_id, output_index, content_index are missing
