"""The conversation's text history, kept across connections so a new session can be told it.

The core records each turn in the order the service created it: the user's turns hold their
transcripts; the assistant's hold their transcript and how much of their audio the user really
heard. :meth:`History.replay` returns what to tell a fresh session — user turns as typed text,
assistant turns cut to what was heard (in proportion to the audio played, at a word boundary,
since the service sends no word timings by default) — bounded by turns and characters.

Pure and not thread-safe: the event loop's core owns it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "assistant"]


@dataclass
class Turn:
    """One item of the conversation, as far as the client knows it."""

    role: Role
    text: str = ""
    received_bytes: int = 0
    heard_bytes: int | None = None
    """Assistant audio heard when the turn was cut short; None means all of it was heard."""

    def heard_text(self) -> str:
        """The words the user took in: all of them, or the share of the audio played."""
        text = self.text.strip()
        if self.heard_bytes is None or self.received_bytes <= 0:
            return text
        share = min(1.0, self.heard_bytes / self.received_bytes)
        cut = round(len(text) * share)
        if cut >= len(text):
            return text
        # back to the last whole word: a half word is worse than one word less
        head = text[:cut]
        if not text[cut].isspace():
            head = head.rsplit(maxsplit=1)[0] if " " in head else ""
        return head.strip()


@dataclass(frozen=True)
class Replay:
    """What to replay: ``(role, text)`` in order, and how many turns were left out and why."""

    turns: list[tuple[Role, str]]
    without_text: int
    beyond_bounds: int


class History:
    """See the module docstring. Keeps at most ``max_turns`` turns (oldest forgotten)."""

    def __init__(self, max_turns: int = 500) -> None:
        self._turns: OrderedDict[str, Turn] = OrderedDict()
        self._max = max_turns

    def __len__(self) -> int:
        return len(self._turns)

    def turn(self, item_id: str, role: Role) -> Turn:
        """The turn of ``item_id``, created (at the end) when first seen."""
        turn = self._turns.get(item_id)
        if turn is None:
            turn = self._turns[item_id] = Turn(role)
            while len(self._turns) > self._max:
                self._turns.popitem(last=False)
        return turn

    def get(self, item_id: str) -> Turn | None:
        """The turn of ``item_id``, if it is remembered."""
        return self._turns.get(item_id)

    def cut(self, item_id: str, heard_bytes: int) -> None:
        """The user heard only ``heard_bytes`` of this assistant item's audio."""
        turn = self._turns.get(item_id)
        if turn is not None:
            turn.heard_bytes = heard_bytes

    def replay(self, max_turns: int, max_chars: int) -> Replay:
        """The most recent turns with text, at most ``max_turns`` and ``max_chars`` in all."""
        with_text = [(t.role, t.heard_text()) for t in self._turns.values()]
        kept = [(role, text) for role, text in with_text if text]
        without_text = len(with_text) - len(kept)
        chosen: list[tuple[Role, str]] = []
        chars = 0
        for role, text in reversed(kept[-max_turns:] if max_turns > 0 else []):
            if chars + len(text) > max_chars:
                if not chosen and max_chars > 0:  # the latest turn alone is too long: its end
                    chosen.append((role, text[-max_chars:]))
                break
            chosen.append((role, text))
            chars += len(text)
        chosen.reverse()
        return Replay(chosen, without_text, len(kept) - len(chosen))
