"""What a line typed at the keyboard means. Pure.

``q``/``quit``/``exit`` quit; an empty line interrupts the assistant, or, with manual turns
(``--vad none``), ends the user's turn. Anything else is not a command yet (it is logged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from voicelive.protocol.actions import CommitTurn, LocalInterrupt

QUIT_WORDS: Final = frozenset({"q", "quit", "exit"})


@dataclass(frozen=True)
class QuitCommand:
    """The user asked to quit."""


def parse_line(
    line: str, *, manual_turns: bool
) -> QuitCommand | LocalInterrupt | CommitTurn | None:
    """The command a typed line stands for, or None when it is not one."""
    text = line.strip()
    if text.lower() in QUIT_WORDS:
        return QuitCommand()
    if text == "":
        return CommitTurn() if manual_turns else LocalInterrupt()
    return None
