"""What the conversation core asks the shells to do, and the local inputs it consumes.

The core (:mod:`voicelive.protocol.conversation`) takes one input at a time — a parsed server
event or one of the local inputs below — and returns a list of actions, which the dispatcher
performs in order. A result of an action (what a flush cut) comes back as a new input, never
as a call into the core in the middle of its own dispatch. Everything here is immutable data.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from voicelive.protocol.playback import ItemPlayback, PlaybackNotice


class State(enum.StrEnum):
    """The one-line status the user sees."""

    CONNECTING = "connecting"
    STARTING = "starting session"
    LISTENING = "listening"
    HEARING = "hearing you"
    THINKING = "thinking"
    SPEAKING = "speaking"
    INTERRUPTED = "interrupted"
    RECONNECTING = "reconnecting"


NoticeLevel = Literal["debug", "info", "warning", "error"]
"""``debug`` goes only to the log; the others are shown (with a prefix for the last two)."""


# ------------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Send:
    """Send this client event on the current connection."""

    event: dict[str, Any]


@dataclass(frozen=True)
class Play:
    """Queue assistant audio for playback."""

    item_id: str
    pcm16: bytes = field(repr=False)


@dataclass(frozen=True)
class EndAudio:
    """No more audio for this item: let playback run out even below the prefill."""

    item_id: str


@dataclass(frozen=True)
class FlushPlayback:
    """Drop queued playback now; report what was cut as a :class:`PlaybackFlushed` input."""


@dataclass(frozen=True)
class Status:
    """Show this status."""

    state: State


@dataclass(frozen=True)
class UserLine:
    """The user's words for one turn: transcribed speech, or a typed message."""

    item_id: str
    text: str
    typed: bool = False


@dataclass(frozen=True)
class AssistantText:
    """More assistant words (streamed)."""

    item_id: str
    delta: str


@dataclass(frozen=True)
class AssistantEnd:
    """The assistant's transcript for this item is over; ``interrupted`` if it was cut.

    ``text`` is the whole line as shown (the core accumulates it, once, in its history)."""

    item_id: str
    interrupted: bool
    text: str = field(default="", compare=False)


@dataclass(frozen=True)
class Notice:
    """A line for the user or, at ``debug``, only for the log."""

    level: NoticeLevel
    text: str


@dataclass(frozen=True)
class ResponseFinished:
    """``response.done`` arrived (any status); for the log and the statistics."""

    response_id: str
    status: str
    usage: dict[str, Any] | None = None


@dataclass(frozen=True)
class Finished:
    """A headless run is over: its input was sent and the reply has been heard."""


Action = (
    Send
    | Play
    | EndAudio
    | FlushPlayback
    | Status
    | UserLine
    | AssistantText
    | AssistantEnd
    | Notice
    | ResponseFinished
    | Finished
)


# ------------------------------------------------------------------------------- local inputs


@dataclass(frozen=True)
class PlaybackChanged:
    """The speaker started or drained an item (from the jitter buffer, via the loop)."""

    notice: PlaybackNotice


@dataclass(frozen=True)
class PlaybackFlushed:
    """The result of a :class:`FlushPlayback`: the items it cut, with what was heard."""

    cut: Sequence[ItemPlayback]


@dataclass(frozen=True)
class LocalInterrupt:
    """The user interrupted from the keyboard (Enter)."""


@dataclass(frozen=True)
class CommitTurn:
    """Manual turns (no VAD): the user's turn is over, ask for a reply."""


@dataclass(frozen=True)
class SendText:
    """The user typed a message: interrupt whatever plays, send it, ask for the reply."""

    text: str


@dataclass(frozen=True)
class Greet:
    """Ask the assistant to speak first (``--greet``), optionally with instructions."""

    instructions: str | None = None


@dataclass(frozen=True)
class InputEnded:
    """A finite input (a WAV file) has been sent completely."""


@dataclass(frozen=True)
class ConnectionDropped:
    """The connection broke; the service forgot any response in flight."""


@dataclass(frozen=True)
class SessionStarted:
    """A session is set up and current (the first, or one after a reconnect or rollover)."""

    silence_ms: int
    """Its VAD's silence duration: ``speech_stopped`` comes this long after the speech."""


@dataclass(frozen=True)
class PlaybackOverflow:
    """The jitter buffer refused audio for an item (its memory bound was reached)."""

    item_id: str
    dropped_bytes: int


LocalInput = (
    PlaybackChanged
    | PlaybackFlushed
    | PlaybackOverflow
    | SessionStarted
    | LocalInterrupt
    | CommitTurn
    | SendText
    | Greet
    | InputEnded
    | ConnectionDropped
)
