"""What a line typed at the keyboard means. Pure.

- ``q``/``quit``/``exit``: quit;
- an empty line: interrupt the assistant or, with manual turns (``--vad none``), end your turn;
- ``/mute``, ``/unmute``, ``/cancel`` (running tools), ``/help``: commands (anything else
  starting with ``/`` is unknown);
- any other line: a message to the assistant, sent as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from voicelive.protocol.actions import CommitTurn, LocalInterrupt, SendText

QUIT_WORDS: Final = frozenset({"q", "quit", "exit"})

HELP: Final = (
    "type a message and press Enter to send it (it interrupts the assistant); "
    "Enter alone interrupts (with --vad none: ends your turn); "
    "/mute and /unmute the microphone; /cancel stops running tools; /help; "
    "q + Enter or Ctrl+C quits"
)


@dataclass(frozen=True)
class QuitCommand:
    """The user asked to quit."""


@dataclass(frozen=True)
class Mute:
    """Stop (``on``) or resume sending the microphone."""

    on: bool


@dataclass(frozen=True)
class Help:
    """Show the commands."""


@dataclass(frozen=True)
class CancelTools:
    """``/cancel``: stop the running tool calls (and drop the questions about them)."""


@dataclass(frozen=True)
class UnknownCommand:
    """A ``/word`` that is not a command."""

    name: str


Command = (
    QuitCommand
    | LocalInterrupt
    | CommitTurn
    | SendText
    | Mute
    | Help
    | CancelTools
    | UnknownCommand
)


def parse_line(line: str, *, manual_turns: bool) -> Command:
    """The command a typed line stands for."""
    text = line.strip()
    if text.lower() in QUIT_WORDS:
        return QuitCommand()
    if text == "":
        return CommitTurn() if manual_turns else LocalInterrupt()
    if text.startswith("/"):
        name = text.split()[0].lower()
        if name in ("/mute", "/unmute"):
            return Mute(on=name == "/mute")
        if name in ("/help", "/?"):
            return Help()
        if name == "/cancel":
            return CancelTools()
        return UnknownCommand(name)
    return SendText(text)
