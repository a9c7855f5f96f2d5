"""Small wire helpers shared by the simulator modules: ids, audio elision, errors, redaction.

Pure functions and one id factory; no I/O, no asyncio.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import secrets
from collections.abc import Mapping
from typing import Any

JsonDict = dict[str, Any]

# Fields whose value is base64 audio, by event type, at the top level of the event.
_TOP_LEVEL_AUDIO = {"input_audio_buffer.append": "audio", "response.audio.delta": "delta"}
# Event types carrying a conversation item whose content parts may hold base64 audio.
_ITEM_EVENTS = frozenset(
    {"conversation.item.create", "conversation.item.created", "conversation.item.retrieved"}
)

SECRET_HEADERS = frozenset(
    {"api-key", "authorization", "ocp-apim-subscription-key", "cookie", "agent-access-token"}
)
"""Header and query parameter names (lower case) whose values are never kept in clear."""


class IdFactory:
    """Unique ids with the service's prefixes (``event_``, ``item_``, ``resp_``, ``sess_``…).

    A random salt per factory plus a counter: unique within a simulator by construction.
    """

    def __init__(self) -> None:
        self._salt = secrets.token_hex(4).upper()
        self._counter = itertools.count(1)

    def new(self, prefix: str) -> str:
        return f"{prefix}_{self._salt}{next(self._counter):06X}"


def b64_size(text: str) -> int:
    """Decoded length of a base64 string without decoding it (padding aware)."""
    stripped = text.rstrip()
    if not stripped:
        return 0
    padding = len(stripped) - len(stripped.rstrip("="))
    return max(0, len(stripped) * 3 // 4 - padding)


def decode_b64(text: object) -> bytes | None:
    """Strict base64 decode; None if ``text`` is not a valid base64 string."""
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def encode_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _elide_item(item: Any) -> Any:
    if not isinstance(item, Mapping):
        return item
    content = item.get("content")
    if not isinstance(content, list):
        return dict(item)
    parts = []
    for part in content:
        if isinstance(part, Mapping) and isinstance(part.get("audio"), str):
            part = {**part, "audio": {"audio_bytes": b64_size(part["audio"])}}
        parts.append(part)
    return {**item, "content": parts}


def elide_audio(event: Mapping[str, Any]) -> JsonDict:
    """A shallow copy of ``event`` with base64 audio replaced by ``{"audio_bytes": N}``.

    Used for recordings and ``received_events`` so logs stay small and readable.
    """
    copy = dict(event)
    type_ = copy.get("type")
    key = _TOP_LEVEL_AUDIO.get(type_) if isinstance(type_, str) else None
    if key is not None and isinstance(copy.get(key), str):
        copy[key] = {"audio_bytes": b64_size(copy[key])}
    if type_ in _ITEM_EVENTS and "item" in copy:
        copy["item"] = _elide_item(copy["item"])
    return copy


def error_event(
    message: str,
    *,
    code: str | None,
    param: str | None = None,
    client_event_id: str | None = None,
    error_type: str = "invalid_request_error",
) -> JsonDict:
    """An ``error`` server event (without ``event_id``; the sender adds it)."""
    return {
        "type": "error",
        "error": {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    }


def redact(value: str) -> str:
    return f"<redacted {len(value)} chars>"


def redact_mapping(pairs: Mapping[str, str]) -> dict[str, str]:
    """Copy of header or query pairs with secret values replaced by ``<redacted N chars>``."""
    return {k: redact(v) if k.lower() in SECRET_HEADERS else v for k, v in pairs.items()}
