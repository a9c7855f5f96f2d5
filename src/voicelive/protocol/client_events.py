"""Voice Live client events: builders of the dicts the client sends. Pure; no I/O.

Every builder returns a plain dict ready for ``json.dumps`` and sets a unique ``event_id``
(``cli_<n>``), so an ``error`` event can be traced back to what caused it.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any, Literal


class EventIds:
    """Hands out unique client ``event_id`` values. Not thread-safe: use from the event loop."""

    def __init__(self, prefix: str = "cli") -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}_{next(self._counter):05d}"


def session_update(ids: EventIds, session: dict[str, Any]) -> dict[str, Any]:
    return {"type": "session.update", "event_id": ids.next(), "session": session}


def audio_append(pcm16: bytes) -> dict[str, Any]:
    """``input_audio_buffer.append``; no event_id: it has no reply and is sent 50 times a second."""
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm16).decode("ascii")}


def audio_commit(ids: EventIds) -> dict[str, Any]:
    return {"type": "input_audio_buffer.commit", "event_id": ids.next()}


def audio_clear(ids: EventIds) -> dict[str, Any]:
    return {"type": "input_audio_buffer.clear", "event_id": ids.next()}


def response_create(ids: EventIds, response: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "response.create", "event_id": ids.next()}
    if response:
        event["response"] = response
    return event


def response_cancel(ids: EventIds, response_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "response.cancel", "event_id": ids.next()}
    if response_id:
        event["response_id"] = response_id
    return event


def item_truncate(ids: EventIds, item_id: str, audio_end_ms: int) -> dict[str, Any]:
    return {
        "type": "conversation.item.truncate",
        "event_id": ids.next(),
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": audio_end_ms,
    }


def item_create_text(
    ids: EventIds, text: str, role: Literal["user", "assistant"] = "user"
) -> dict[str, Any]:
    """A text message item: ``input_text`` for the user, ``text`` for the assistant (§2.4)."""
    part = "input_text" if role == "user" else "text"
    return {
        "type": "conversation.item.create",
        "event_id": ids.next(),
        "item": {
            "type": "message",
            "role": role,
            "content": [{"type": part, "text": text}],
        },
    }


def item_delete(ids: EventIds, item_id: str) -> dict[str, Any]:
    return {"type": "conversation.item.delete", "event_id": ids.next(), "item_id": item_id}
