"""Client event builders and server event parsing (no I/O)."""

from __future__ import annotations

import base64
import json

import pytest

from voicelive.protocol import client_events as ce
from voicelive.protocol import server_events as ev


def test_event_ids_are_unique_and_prefixed() -> None:
    ids = ce.EventIds()
    got = {ids.next() for _ in range(100)}
    assert len(got) == 100 and all(i.startswith("cli_") for i in got)


def test_builders_match_the_wire_shapes() -> None:
    ids = ce.EventIds()
    append = ce.audio_append(b"\x01\x00\xff\xff")
    assert append == {"type": "input_audio_buffer.append", "audio": "AQD//w=="}
    truncate = ce.item_truncate(ids, "item_B7", 1840)
    assert truncate["type"] == "conversation.item.truncate"
    assert (truncate["item_id"], truncate["content_index"], truncate["audio_end_ms"]) == (
        "item_B7",
        0,
        1840,
    )
    assert ce.response_cancel(ids, "resp_1")["response_id"] == "resp_1"
    assert "response_id" not in ce.response_cancel(ids)
    assert ce.session_update(ids, {"voice": "alloy"})["session"] == {"voice": "alloy"}
    text = ce.item_create_text(ids, "hi")
    assert text["item"]["content"] == [{"type": "input_text", "text": "hi"}]
    for event in (truncate, text, ce.audio_commit(ids), ce.response_create(ids)):
        json.dumps(event)  # serialisable
        assert event["event_id"]


def parse(obj: dict[str, object]) -> ev.ServerEvent:
    return ev.parse_event(ev.decode_frame(json.dumps(obj)))


def test_audio_delta_is_decoded() -> None:
    pcm = b"\x01\x02\x03\x04"
    event = parse(
        {
            "type": "response.audio.delta",
            "response_id": "r",
            "item_id": "i",
            "output_index": 0,
            "content_index": 0,
            "delta": base64.b64encode(pcm).decode(),
        }
    )
    assert event == ev.AudioDelta("r", "i", pcm)


def test_error_event_fields() -> None:
    event = parse(
        {
            "type": "error",
            "event_id": "e1",
            "error": {
                "type": "invalid_request_error",
                "code": "response_cancel_not_active",
                "message": "Cancellation failed",
                "param": None,
                "event_id": "cli_00042",
            },
        }
    )
    assert event == ev.ServerErrorEvent(
        "response_cancel_not_active",
        "Cancellation failed",
        None,
        "invalid_request_error",
        "cli_00042",
    )


def test_response_done_reason() -> None:
    event = parse(
        {
            "type": "response.done",
            "response": {
                "id": "resp_9",
                "status": "cancelled",
                "status_details": {"type": "cancelled", "reason": "turn_detected"},
                "output": [],
            },
        }
    )
    assert event == ev.ResponseDone("resp_9", "cancelled", "turn_detected", None)


def test_known_but_ignored_and_unknown_types() -> None:
    assert parse({"type": "rate_limits.updated", "event_id": "e"}) == ev.Ignored(
        "rate_limits.updated", "e"
    )
    assert parse({"type": "brand.new.event"}) == ev.Unknown("brand.new.event", None)


@pytest.mark.parametrize(
    "frame",
    [b"\x00\x01", "not json", "[1,2]", '{"no_type": 1}', '{"type": 5}'],
)
def test_malformed_frames_raise(frame: str | bytes) -> None:
    with pytest.raises(ev.MalformedEvent):
        ev.decode_frame(frame)


DEPTH = 200_000


@pytest.mark.parametrize(
    "frame",
    [
        "[" * DEPTH + "]" * DEPTH,
        '{"type": "response.done", "response": ' + '{"a": ' * DEPTH + "1" + "}" * DEPTH + "}",
    ],
    ids=["array", "object"],
)
def test_a_frame_nested_too_deeply_is_malformed_not_a_crash(frame: str) -> None:
    """Issue 18: 200,000 levels gave RecursionError, which ended the chat (exit 1)."""
    with pytest.raises(ev.MalformedEvent, match="nested too deeply"):
        ev.decode_frame(frame)


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "response.audio.delta", "response_id": "r", "item_id": "i", "delta": "%%%"},
        {"type": "response.audio.delta", "response_id": "r", "delta": "AAAA"},
        {"type": "response.created", "response": "nope"},
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": "soon"},
    ],
)
def test_wrong_field_shapes_raise(obj: dict[str, object]) -> None:
    with pytest.raises(ev.MalformedEvent):
        parse(obj)


def test_every_inventory_type_is_handled_or_ignored() -> None:
    # Reference §3.1 inventory, spelled out here independently of the client's tables.
    inventory = [
        "session.created",
        "session.updated",
        "error",
        "warning",
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
        "conversation.item.input_audio_transcription.failed",
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
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "rate_limits.updated",
        "response.audio_timestamp.delta",
        "response.audio_timestamp.done",
        "response.animation_viseme.delta",
        "response.animation_viseme.done",
        "response.animation_blendshapes.delta",
        "response.animation_blendshapes.done",
        "session.avatar.connecting",
        "session.avatar.switch_to_speaking",
        "session.avatar.switch_to_idle",
        "response.video.delta",
        "output_audio_buffer.cleared",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "response.web_search_call.searching",
        "response.web_search_call.in_progress",
        "response.web_search_call.completed",
        "response.file_search_call.searching",
        "response.file_search_call.in_progress",
        "response.file_search_call.completed",
        "response.audio_transcript.annotation.added",
        "response.invocation.delta",
    ]
    missing = [t for t in inventory if t not in ev.HANDLED_TYPES | ev.IGNORED_TYPES]
    assert missing == []
    assert not ev.HANDLED_TYPES & ev.IGNORED_TYPES


def test_describe_never_contains_audio() -> None:
    b64 = base64.b64encode(b"\x05" * 960).decode()
    line = ev.describe({"type": "input_audio_buffer.append", "audio": b64})
    assert b64 not in line and "960 bytes" in line
