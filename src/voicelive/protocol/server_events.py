"""Voice Live server events: frames decoded and parsed into small typed records. Pure; no I/O.

Server events are parsed into small frozen records for the types the client acts on; every
other type in the protocol reference (§3.1) becomes :class:`Ignored` (known, deliberately not
acted on) and anything else :class:`Unknown` (logged and ignored, so new service features do
not break the client). Malformed frames raise :class:`MalformedEvent`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Final


class MalformedEvent(ValueError):
    """A frame that is not a JSON object with a string ``type``, or a field of the wrong shape."""


@dataclass(frozen=True)
class SessionCreated:
    session: dict[str, Any]


@dataclass(frozen=True)
class SessionUpdated:
    session: dict[str, Any]


@dataclass(frozen=True)
class ServerErrorEvent:
    code: str | None
    message: str
    param: str | None
    error_type: str | None
    caused_by: str | None
    """The client ``event_id`` this error answers, when the service echoes it."""


@dataclass(frozen=True)
class ServerWarning:
    message: str
    code: str | None


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int
    item_id: str | None


@dataclass(frozen=True)
class SpeechStopped:
    audio_end_ms: int
    item_id: str | None


@dataclass(frozen=True)
class ResponseCreated:
    response_id: str


@dataclass(frozen=True)
class ResponseDone:
    response_id: str
    status: str
    reason: str | None
    usage: dict[str, Any] | None


@dataclass(frozen=True)
class AudioDelta:
    response_id: str
    item_id: str
    pcm16: bytes = field(repr=False)


@dataclass(frozen=True)
class AudioDone:
    response_id: str
    item_id: str


@dataclass(frozen=True)
class TranscriptDelta:
    """``response.audio_transcript.delta`` or ``response.text.delta`` (assistant words)."""

    response_id: str
    item_id: str
    delta: str


@dataclass(frozen=True)
class TranscriptDone:
    """``response.audio_transcript.done`` or ``response.text.done``."""

    response_id: str
    item_id: str
    text: str


@dataclass(frozen=True)
class UserTranscript:
    """``conversation.item.input_audio_transcription.completed``."""

    item_id: str
    transcript: str


@dataclass(frozen=True)
class UserTranscriptFailed:
    item_id: str
    message: str


@dataclass(frozen=True)
class ItemTruncated:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True)
class Ignored:
    """A documented event type the client deliberately does not act on."""

    type: str
    event_id: str | None


@dataclass(frozen=True)
class Unknown:
    """An event type the protocol reference does not list; logged and ignored."""

    type: str
    event_id: str | None


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | ServerErrorEvent
    | ServerWarning
    | SpeechStarted
    | SpeechStopped
    | ResponseCreated
    | ResponseDone
    | AudioDelta
    | AudioDone
    | TranscriptDelta
    | TranscriptDone
    | UserTranscript
    | UserTranscriptFailed
    | ItemTruncated
    | Ignored
    | Unknown
)

IGNORED_TYPES: Final = frozenset(
    {
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "conversation.item.created",
        "conversation.item.retrieved",
        "conversation.item.deleted",
        "conversation.item.input_audio_transcription.delta",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
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
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
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
        "rtc.call.sdp.created",
        "rtc.call.error",
    }
)
"""Documented server event types (reference §3.1) the client receives but need not act on."""

HANDLED_TYPES: Final = frozenset(
    {
        "session.created",
        "session.updated",
        "error",
        "warning",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "response.created",
        "response.done",
        "response.audio.delta",
        "response.audio.done",
        "response.audio_transcript.delta",
        "response.audio_transcript.done",
        "response.text.delta",
        "response.text.done",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
        "conversation.item.truncated",
    }
)


def _str(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str):
        raise MalformedEvent(f"{event.get('type')}: field {key!r} is not a string")
    return value


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _int(event: dict[str, Any], key: str, default: int = 0) -> int:
    value = event.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedEvent(f"{event.get('type')}: field {key!r} is not a number")
    return int(value)


def _obj(event: dict[str, Any], key: str) -> dict[str, Any]:
    value = event.get(key)
    if not isinstance(value, dict):
        raise MalformedEvent(f"{event.get('type')}: field {key!r} is not an object")
    return value


def decode_frame(text: str | bytes) -> dict[str, Any]:
    """Decode one WebSocket message into a JSON object with a string ``type``.

    Raises :class:`MalformedEvent` for binary frames, invalid or too deeply nested JSON,
    non-objects, missing type.
    """
    if isinstance(text, bytes):
        raise MalformedEvent(f"unexpected binary frame of {len(text)} bytes")
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"frame is not valid JSON ({exc.msg} at {exc.pos})") from None
    except RecursionError:  # the C decoder's guard: unwound, nothing left half-done
        raise MalformedEvent("frame is JSON nested too deeply") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise MalformedEvent("frame is not a JSON object with a string 'type'")
    return event


def parse_event(event: dict[str, Any]) -> ServerEvent:
    """Turn a decoded server event into a typed record. Raises :class:`MalformedEvent`."""
    kind: str = event["type"]
    match kind:
        case "response.audio.delta":
            try:
                pcm = base64.b64decode(_str(event, "delta"), validate=True)
            except binascii.Error:
                raise MalformedEvent("response.audio.delta: 'delta' is not base64") from None
            return AudioDelta(_str(event, "response_id"), _str(event, "item_id"), pcm)
        case "response.audio_transcript.delta" | "response.text.delta":
            return TranscriptDelta(
                _str(event, "response_id"), _str(event, "item_id"), _str(event, "delta")
            )
        case "response.audio_transcript.done" | "response.text.done":
            text_key = "transcript" if kind == "response.audio_transcript.done" else "text"
            return TranscriptDone(
                _str(event, "response_id"), _str(event, "item_id"), _opt_str(event, text_key) or ""
            )
        case "response.audio.done":
            return AudioDone(_str(event, "response_id"), _str(event, "item_id"))
        case "response.created":
            return ResponseCreated(_str(_obj(event, "response"), "id"))
        case "response.done":
            response = _obj(event, "response")
            details = response.get("status_details")
            reason = _opt_str(details, "reason") if isinstance(details, dict) else None
            usage = response.get("usage")
            return ResponseDone(
                _str(response, "id"),
                _opt_str(response, "status") or "completed",
                reason,
                usage if isinstance(usage, dict) else None,
            )
        case "input_audio_buffer.speech_started":
            return SpeechStarted(_int(event, "audio_start_ms"), _opt_str(event, "item_id"))
        case "input_audio_buffer.speech_stopped":
            return SpeechStopped(_int(event, "audio_end_ms"), _opt_str(event, "item_id"))
        case "conversation.item.input_audio_transcription.completed":
            return UserTranscript(_str(event, "item_id"), _opt_str(event, "transcript") or "")
        case "conversation.item.input_audio_transcription.failed":
            error = event.get("error")
            message = _opt_str(error, "message") if isinstance(error, dict) else None
            return UserTranscriptFailed(_str(event, "item_id"), message or "transcription failed")
        case "conversation.item.truncated":
            return ItemTruncated(_str(event, "item_id"), _int(event, "audio_end_ms"))
        case "session.created":
            return SessionCreated(_obj(event, "session"))
        case "session.updated":
            return SessionUpdated(_obj(event, "session"))
        case "error":
            error = _obj(event, "error")
            return ServerErrorEvent(
                code=_opt_str(error, "code"),
                message=_opt_str(error, "message") or "unspecified error",
                param=_opt_str(error, "param"),
                error_type=_opt_str(error, "type"),
                caused_by=_opt_str(error, "event_id"),
            )
        case "warning":
            warning = event.get("warning")
            warning = warning if isinstance(warning, dict) else {}
            return ServerWarning(_opt_str(warning, "message") or "", _opt_str(warning, "code"))
        case _ if kind in IGNORED_TYPES:
            return Ignored(kind, _opt_str(event, "event_id"))
        case _:
            return Unknown(kind, _opt_str(event, "event_id"))


def describe(event: dict[str, Any]) -> str:
    """A one-line log summary of a decoded event: type, ids, sizes; never audio or secrets."""
    parts = [str(event.get("type"))]
    for key in (
        "event_id",
        "response_id",
        "item_id",
        "previous_item_id",
        "audio_start_ms",
        "audio_end_ms",
        "content_index",
    ):
        if key in event and event[key] is not None:
            parts.append(f"{key}={event[key]}")
    for key in ("delta", "audio"):
        value = event.get(key)
        if isinstance(value, str) and event.get("type", "").endswith(("audio.delta", "append")):
            parts.append(f"{key}=<{len(value) * 3 // 4} bytes>")
    for key in ("response", "session", "item"):
        value = event.get(key)
        if isinstance(value, dict):
            for sub in ("id", "status", "role"):
                if sub in value:
                    parts.append(f"{key}.{sub}={value[sub]}")
    error = event.get("error")
    if isinstance(error, dict):
        parts.append(f"code={error.get('code')} param={error.get('param')}")
    return " ".join(parts)
