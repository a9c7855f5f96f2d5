"""Conversation items and the input audio buffer of one simulated session.

Pure state, no I/O: the connection handler mutates it from its single task, so no locking.
Audio is held as PCM16 mono 24 kHz bytes whatever the session's wire formats are.

Memory stays bounded in long sessions: only the :data:`KEEP_AUDIO_ITEMS` most recent items
with audio (plus the last user and the last assistant item, which the parrot and auto-truncation
read) keep their PCM; older items keep their transcript, text and audio length but release the
samples, so ``conversation.item.retrieve`` shows them without ``audio`` (an approximation: the
service keeps it) while truncation still checks against their length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .constants import BYTES_PER_MS
from .wire import JsonDict, encode_b64

KEEP_AUDIO_ITEMS = 4
"""How many of the most recent items with audio keep their PCM samples."""


def bytes_to_ms(n: int) -> int:
    return n // BYTES_PER_MS


def ms_to_bytes(ms: int) -> int:
    return ms * BYTES_PER_MS


@dataclass
class Item:
    """One conversation item. ``wire_content`` holds the parts as the service shows them,
    without audio; ``audio`` is the item's PCM (user input or assistant output so far)."""

    id: str
    type: str
    role: str | None
    status: str = "completed"
    wire_content: list[JsonDict] = field(default_factory=list)
    extra: JsonDict = field(default_factory=dict)  # call_id, name, arguments, output…
    audio: bytearray = field(default_factory=bytearray)
    speech_ms: int | None = None  # user audio: length of the speech itself (parrot source)
    first_delta_at: float | None = None  # assistant audio: loop time of the first delta sent
    truncated: bool = False
    released_ms: int | None = None  # audio length when its samples were released (memory)
    response_id: str | None = None  # output items: the response that made them (not on the wire)

    @property
    def audio_ms(self) -> int:
        if self.released_ms is not None:
            return self.released_ms
        return bytes_to_ms(len(self.audio))

    def release_audio(self) -> None:
        """Drop the PCM samples, remembering their length."""
        if self.audio:
            self.released_ms = self.audio_ms
            self.audio.clear()

    def cut_audio(self, end_ms: int) -> None:
        """Keep only the first ``end_ms`` of the audio (released audio: only its length)."""
        del self.audio[ms_to_bytes(end_ms) :]
        if self.released_ms is not None:
            self.released_ms = min(self.released_ms, end_ms)

    def wire(self, include_audio: bool = False) -> JsonDict:
        """The item as a server event shows it; audio parts carry base64 only on request."""
        out: JsonDict = {"id": self.id, "object": "realtime.item", "type": self.type}
        if self.type == "message":
            out["status"] = self.status
            out["role"] = self.role
            parts = []
            for part in self.wire_content:
                part = dict(part)
                if include_audio and part.get("type") in ("input_audio", "audio") and self.audio:
                    part["audio"] = encode_b64(bytes(self.audio))
                parts.append(part)
            out["content"] = parts
        else:
            out.update(self.extra)
            if self.type == "function_call":
                out["status"] = self.status
        return out


class Conversation:
    """Ordered items with lookup by id."""

    def __init__(self) -> None:
        self._items: list[Item] = []

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(list(self._items))

    def get(self, item_id: str) -> Item | None:
        return next((it for it in self._items if it.id == item_id), None)

    def last_id(self) -> str | None:
        return self._items[-1].id if self._items else None

    def append(self, item: Item) -> str | None:
        """Add at the end; returns the previous item's id (``previous_item_id``)."""
        previous = self.last_id()
        self._items.append(item)
        self._release_old_audio()
        return previous

    def _release_old_audio(self) -> None:
        keep: set[int] = set()
        for role in ("user", "assistant"):
            last = next((it for it in reversed(self._items) if it.role == role), None)
            if last is not None:
                keep.add(id(last))
        kept = 0
        for item in reversed(self._items):
            if not item.audio and item.status != "in_progress":  # a reply about to get audio
                continue
            if kept < KEEP_AUDIO_ITEMS:
                kept += 1
            elif id(item) not in keep:
                item.release_audio()

    def release_all_audio(self) -> None:
        for item in self._items:
            item.release_audio()

    def retained_audio_bytes(self) -> int:
        """PCM bytes currently held by the items (for tests of the memory bound)."""
        return sum(len(item.audio) for item in self._items)

    def insert_after(self, item: Item, previous_item_id: str | None) -> str | None:
        """Insert after ``previous_item_id`` (``"root"`` = first, None = last).

        Returns the actual previous id; raises ``KeyError`` for an unknown id.
        """
        if previous_item_id is None:
            return self.append(item)
        if previous_item_id == "root":
            self._items.insert(0, item)
            self._release_old_audio()
            return None
        for index, existing in enumerate(self._items):
            if existing.id == previous_item_id:
                self._items.insert(index + 1, item)
                self._release_old_audio()
                return previous_item_id
        raise KeyError(previous_item_id)

    def delete(self, item_id: str) -> bool:
        item = self.get(item_id)
        if item is None:
            return False
        self._items.remove(item)
        return True

    def last_item(self) -> Item | None:
        return self._items[-1] if self._items else None

    def last_user_item(self) -> Item | None:
        return next((it for it in reversed(self._items) if it.role == "user"), None)

    def last_assistant_audio_item(self) -> Item | None:
        for item in reversed(self._items):
            if item.role == "assistant" and item.type == "message":
                return item if item.audio else None
        return None


class InputBuffer:
    """Uncommitted input audio, addressed by ms since the session's first sample.

    ``start_ms`` is where the held audio begins; older audio has been committed, cleared or
    trimmed away.
    """

    def __init__(self) -> None:
        self._data = bytearray()
        self._start_bytes = 0

    @property
    def start_ms(self) -> int:
        return bytes_to_ms(self._start_bytes)

    @property
    def end_ms(self) -> int:
        return bytes_to_ms(self._start_bytes + len(self._data))

    @property
    def end_samples(self) -> int:
        return (self._start_bytes + len(self._data)) // 2

    @property
    def duration_ms(self) -> int:
        return bytes_to_ms(len(self._data))

    def append(self, pcm: bytes) -> None:
        self._data += pcm

    def slice(self, start_ms: int, end_ms: int) -> bytes:
        lo = max(0, ms_to_bytes(start_ms) - self._start_bytes)
        hi = max(lo, ms_to_bytes(end_ms) - self._start_bytes)
        return bytes(self._data[lo:hi])

    def drop_before(self, ms: int) -> None:
        cut = min(len(self._data), max(0, ms_to_bytes(ms) - self._start_bytes))
        if cut:
            del self._data[:cut]
            self._start_bytes += cut

    def take_all(self) -> bytes:
        data = bytes(self._data)
        self.clear()
        return data

    def clear(self) -> None:
        self._start_bytes += len(self._data)
        self._data.clear()


def transcript_prefix(transcript: str, fraction: float) -> str:
    """The words of ``transcript`` spoken in its first ``fraction`` (for truncation)."""
    words = transcript.split(" ")
    keep = int(len(words) * max(0.0, min(1.0, fraction)) + 1e-9)
    return " ".join(words[:keep])


def extra_fields(item: dict[str, Any], names: tuple[str, ...]) -> JsonDict:
    return {name: item[name] for name in names if name in item}
