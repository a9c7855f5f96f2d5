"""The conversation state machine: server events in, actions out. Pure; no I/O, no clock.

It knows which response is active, which assistant items have audio, which responses were
interrupted (their late deltas are dropped), and it decides barge-in. The orchestrator performs
the returned actions in order. One action needs a reply: after :class:`FlushPlayback` the
orchestrator flushes the jitter buffer and passes what was cut to :meth:`playback_flushed`,
which answers with ``response.cancel`` / ``conversation.item.truncate`` as needed. Playback
progress comes back through :meth:`playback_started` / :meth:`playback_drained`.

Not thread-safe: call from the event loop only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from voicelive.audio.jitter import ItemPlayback
from voicelive.protocol import events as ev

log = logging.getLogger(__name__)

BYTES_PER_MS: Final = 48  # PCM16 mono at 24 kHz: 24 samples/ms x 2 bytes

BENIGN_ERROR_CODES: Final = frozenset(
    {
        "response_cancel_not_active",
        "conversation_already_has_active_response",
        "item_already_truncated",
    }
)
"""Errors that are expected races of barge-in (the server cancelled first): logged, not shown."""


# ------------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Send:
    """Send this client event."""

    event: dict[str, Any]


@dataclass(frozen=True)
class Play:
    """Queue assistant audio for playback."""

    item_id: str
    pcm16: bytes


@dataclass(frozen=True)
class EndAudio:
    """No more audio for this item: let playback run out even below the prefill."""

    item_id: str


@dataclass(frozen=True)
class FlushPlayback:
    """Drop queued playback now, then call :meth:`Conversation.playback_flushed`."""


@dataclass(frozen=True)
class Status:
    """The short status: listening, hearing you, thinking, speaking, interrupted."""

    state: str


@dataclass(frozen=True)
class UserLine:
    """The user's transcribed words for one turn."""

    item_id: str
    text: str


@dataclass(frozen=True)
class AssistantText:
    """More assistant words (streamed)."""

    item_id: str
    delta: str


@dataclass(frozen=True)
class AssistantEnd:
    """The assistant's transcript for this item is over; ``interrupted`` if the user cut it."""

    item_id: str
    interrupted: bool


@dataclass(frozen=True)
class Notice:
    """A line for the user (level ``error``/``warning``) or only for the log (``debug``)."""

    level: str
    text: str


@dataclass(frozen=True)
class ResponseFinished:
    """``response.done`` arrived (any status); headless runs wait for this and the drain."""

    response_id: str
    status: str


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
)


class Conversation:
    """See the module docstring.

    ``interrupt``: barge-in on the server's ``speech_started`` (``--interrupt``).
    ``auto_truncate``: the server truncates itself, so the client must not.
    """

    def __init__(self, ids: ev.EventIds, *, interrupt: bool = True, auto_truncate: bool = False):
        self._ids = ids
        self._interrupt = interrupt
        self._auto_truncate = auto_truncate
        self.active_response: str | None = None
        self._cancel_sent_for: str | None = None
        self._interrupted: set[str] = set()
        self._item_response: dict[str, str] = {}
        self._open_text: set[str] = set()
        self._last_audio_item: str | None = None
        self._audio_pending = False
        self.dropped_deltas = 0
        self.responses_done = 0
        self.user_speaking = False
        self.awaiting_reply = False
        self._local_interrupt = False
        self._create_after_done = False

    @property
    def bookkeeping_size(self) -> int:
        """How many items and interrupted responses are remembered (stays bounded)."""
        return len(self._item_response) + len(self._interrupted)

    @property
    def idle(self) -> bool:
        """Nobody is talking and no reply is due or running (audio playback aside)."""
        return not (self.user_speaking or self.awaiting_reply or self.active_response)

    @property
    def playing(self) -> bool:
        """Assistant audio is queued or sounding (as far as playback notifications tell)."""
        return self._audio_pending

    # ------------------------------------------------------------------ server events

    def handle(self, event: ev.ServerEvent) -> list[Action]:
        """Consume one parsed server event; return what to do, in order."""
        match event:
            case ev.AudioDelta(response_id, item_id, pcm):
                if response_id in self._interrupted:
                    self.dropped_deltas += 1
                    return []
                self._item_response[item_id] = response_id
                self._last_audio_item = item_id
                self._audio_pending = True
                return [Play(item_id, pcm)]
            case ev.AudioDone(response_id, item_id):
                return [EndAudio(item_id)]
            case ev.TranscriptDelta(response_id, item_id, delta):
                if response_id in self._interrupted:
                    return []
                self._open_text.add(item_id)
                return [AssistantText(item_id, delta)]
            case ev.TranscriptDone(response_id, item_id, _):
                if item_id in self._open_text:
                    self._open_text.discard(item_id)
                    return [AssistantEnd(item_id, interrupted=response_id in self._interrupted)]
                return []
            case ev.SpeechStarted():
                self.user_speaking = True
                return self._speech_started()
            case ev.SpeechStopped():
                self.user_speaking = False
                self.awaiting_reply = True
                return [Status("thinking")]
            case ev.ResponseCreated(response_id):
                self.awaiting_reply = False
                self.active_response = response_id
                self._cancel_sent_for = None
                return []
            case ev.ResponseDone(response_id, status, reason, _):
                return self._response_done(response_id, status, reason)
            case ev.UserTranscript(item_id, text):
                return [UserLine(item_id, text.strip())] if text.strip() else []
            case ev.UserTranscriptFailed(item_id, message):
                return [Notice("warning", f"could not transcribe your speech: {message}")]
            case ev.ServerErrorEvent():
                return [self._error_notice(event)]
            case ev.ServerWarning(message, code):
                return [
                    Notice(
                        "warning", f"service warning: {message}" + (f" ({code})" if code else "")
                    )
                ]
            case ev.ItemTruncated(item_id, audio_end_ms):
                return [Notice("debug", f"item {item_id} truncated at {audio_end_ms} ms")]
            case _:
                return []

    def _speech_started(self) -> list[Action]:
        if not self._interrupt or not (self._audio_pending or self.active_response):
            return [Status("hearing you")]
        return self._begin_interrupt()

    def _begin_interrupt(self, local: bool = False) -> list[Action]:
        # The service auto-truncates only interruptions it detects itself (its own VAD), so a
        # keyboard interrupt is truncated by the client even with auto_truncate on.
        self._local_interrupt = local
        actions: list[Action] = [FlushPlayback(), Status("interrupted")]
        if self.active_response:
            self._interrupted.add(self.active_response)
        if self._last_audio_item and self._last_audio_item in self._item_response:
            self._interrupted.add(self._item_response[self._last_audio_item])
        for item_id in sorted(self._open_text):
            if self._item_response.get(item_id) in self._interrupted:
                actions.append(AssistantEnd(item_id, interrupted=True))
        self._open_text = {
            i for i in self._open_text if self._item_response.get(i) not in self._interrupted
        }
        return actions

    def _response_done(self, response_id: str, status: str, reason: str | None) -> list[Action]:
        # No more audio can come for this response's items, even if a `response.audio.done`
        # went missing: let playback run out instead of waiting for it.
        actions: list[Action] = [
            EndAudio(item_id) for item_id, rid in self._item_response.items() if rid == response_id
        ]
        self._forget_old_items()
        if self.active_response == response_id:
            self.active_response = None
            if self._create_after_done:
                self._create_after_done = False
                actions.append(Send(ev.response_create(self._ids)))
        self.responses_done += 1
        if status == "failed":
            actions.append(
                Notice("error", "the service could not finish its reply (response failed)")
            )
        elif status == "incomplete":
            actions.append(Notice("warning", f"the reply was cut short ({reason or 'incomplete'})"))
        if not self._audio_pending and response_id not in self._interrupted:
            actions.append(Status("listening"))
        actions.append(ResponseFinished(response_id, status))
        return actions

    def _forget_old_items(self, keep: int = 64) -> None:
        """Keep the bookkeeping of a long session small: only recent items matter for playback."""
        if len(self._item_response) > 2 * keep:
            for item_id in list(self._item_response)[:-keep]:  # dicts keep insertion order
                del self._item_response[item_id]
            live = set(self._item_response.values())
            self._interrupted &= live | {self.active_response}

    def _error_notice(self, error: ev.ServerErrorEvent) -> Notice:
        if error.code in BENIGN_ERROR_CODES:
            return Notice("debug", f"benign server error {error.code}: {error.message}")
        param = f" (parameter: {error.param})" if error.param else ""
        return Notice("error", f"service error: {error.message}{param}")

    # ------------------------------------------------------------------ playback feedback

    def playback_flushed(self, cut: Sequence[ItemPlayback]) -> list[Action]:
        """After a flush: cancel the active response and truncate what was cut short."""
        actions: list[Action] = []
        if self.active_response and self._cancel_sent_for != self.active_response:
            self._cancel_sent_for = self.active_response
            actions.append(Send(ev.response_cancel(self._ids, self.active_response)))
        if not self._auto_truncate or self._local_interrupt:
            for item in cut:
                # Nothing to cut if nothing was received, or if the item was complete and
                # fully played. An item still open (more audio due) is cut even when all it
                # sent so far was played: the rest was never heard.
                if item.received_bytes == 0 or (
                    not item.open and item.played_bytes >= item.received_bytes
                ):
                    continue
                # Clamp to what was received: truncating past the item's audio is an error
                # that can leave the session stuck.
                end_ms = min(item.played_bytes, item.received_bytes) // BYTES_PER_MS
                actions.append(Send(ev.item_truncate(self._ids, item.item_id, end_ms)))
                actions.append(self._cut_notice(item))
        else:
            actions += [self._cut_notice(i) for i in cut if i.played_bytes < i.received_bytes]
        self._local_interrupt = False
        self._audio_pending = False
        return actions

    @staticmethod
    def _cut_notice(item: ItemPlayback) -> Notice:
        heard = item.played_bytes / BYTES_PER_MS / 1000
        total = item.received_bytes / BYTES_PER_MS / 1000
        return Notice("info", f"(interrupted: you heard {heard:.1f} s of {total:.1f} s)")

    def playback_started(self, item_id: str) -> list[Action]:
        if self._item_response.get(item_id) in self._interrupted:
            return []
        return [Status("speaking")]

    def playback_drained(self, item_id: str) -> list[Action]:
        if item_id == self._last_audio_item:
            self._audio_pending = False
            if self.active_response is None:
                return [Status("listening")]
        return []

    # ------------------------------------------------------------------ local turn control

    def interrupt_locally(self) -> list[Action]:
        """The user interrupted from the keyboard: same as a barge-in, if anything is playing."""
        if not (self._audio_pending or self.active_response):
            return []
        return [*self._begin_interrupt(local=True), Status("listening")]

    def commit_turn(self) -> list[Action]:
        """Manual turns (no VAD): end the user's turn and ask for a reply."""
        actions = self.interrupt_locally()
        self.awaiting_reply = True
        actions += [Send(ev.audio_commit(self._ids)), Status("thinking")]
        if self.active_response:
            # A response.create while one is still active is refused by the service
            # (conversation_already_has_active_response): ask once the cancel has landed.
            self._create_after_done = True
        else:
            actions.append(Send(ev.response_create(self._ids)))
        return actions
