"""The conversation state machine: inputs in, actions out. Pure; no I/O, no clock.

Inputs are parsed server events (:mod:`voicelive.protocol.server_events`) and local inputs
(:mod:`voicelive.protocol.actions`: playback changes, what a flush cut, keyboard turns, the end
of a headless input, a dropped connection). :meth:`Conversation.handle` consumes one and returns
the actions to perform, in order. It knows which response is active, which assistant items
are still streaming audio or text, which responses were interrupted (their late deltas are
dropped), decides barge-in, and keeps the :class:`~voicelive.protocol.history.History` that a
new connection replays. It never calls back into the shells: after :class:`FlushPlayback` the
dispatcher feeds the result back as a :class:`PlaybackFlushed` input.

Not thread-safe: call from the event loop only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from voicelive.protocol import client_events as ce
from voicelive.protocol import server_events as ev
from voicelive.protocol.actions import (
    Action,
    AssistantEnd,
    AssistantText,
    CommitTurn,
    ConnectionDropped,
    EndAudio,
    Finished,
    FlushPlayback,
    Greet,
    InputEnded,
    LocalInput,
    LocalInterrupt,
    Notice,
    Play,
    PlaybackChanged,
    PlaybackFlushed,
    PlaybackOverflow,
    ResponseFinished,
    Send,
    SendText,
    SessionStarted,
    State,
    Status,
    UserLine,
)
from voicelive.protocol.history import History
from voicelive.protocol.pcm import BYTES_PER_MS
from voicelive.protocol.playback import RECENT_ITEMS, ItemPlayback, PlaybackEvent

log = logging.getLogger(__name__)

BENIGN_ERROR_CODES: Final = frozenset(
    {
        "response_cancel_not_active",
        "conversation_already_has_active_response",
        "item_already_truncated",
    }
)
"""Errors that are expected races of barge-in (the server cancelled first): logged, not shown."""


class Conversation:
    """See the module docstring.

    ``interrupt``: barge-in on the server's ``speech_started`` (``--interrupt``).
    ``auto_truncate``: the service truncates what its own VAD interrupted, so the client must
    not. ``manual_turns``: no server VAD; the end of a headless input ends the turn.
    """

    def __init__(
        self,
        ids: ce.EventIds,
        *,
        interrupt: bool = True,
        auto_truncate: bool = False,
        manual_turns: bool = False,
    ) -> None:
        self._ids = ids
        self._interrupt = interrupt
        self._auto_truncate = auto_truncate
        self._manual = manual_turns
        self.history = History()
        self.active_response: str | None = None
        self._cancel_sent_for: str | None = None
        self._interrupted: set[str] = set()
        self._item_response: dict[str, str] = {}  # assistant item → its response (audio or text)
        self._open_text: set[str] = set()  # assistant transcript lines still being written
        self._open_audio: set[str] = set()  # items whose audio may still grow
        self._last_audio_item: str | None = None
        self._playing = False
        self._local_interrupt = False
        self._create_after_done = False
        self._input_ended = False
        self._typed = 0
        self._text_after_flush: list[str] = []
        self._overflowed: set[str] = set()  # items whose audio the buffer refused (shown once)
        self.dropped_deltas = 0
        self.user_speaking = False
        self.awaiting_reply = False

    @property
    def bookkeeping_size(self) -> int:
        """How many items and interrupted responses are remembered (stays bounded)."""
        return len(self._item_response) + len(self._interrupted)

    @property
    def idle(self) -> bool:
        """Nobody is talking, no reply is due or running, and nothing is playing."""
        return not (
            self.user_speaking or self.awaiting_reply or self.active_response or self._playing
        )

    def received_bytes(self, item_id: str) -> int:
        """Assistant audio of ``item_id`` accepted for playback: the one count of it."""
        turn = self.history.get(item_id)
        return turn.received_bytes if turn is not None else 0

    def line_text(self, item_id: str) -> str:
        """The assistant's words of ``item_id`` so far (what the view showed)."""
        turn = self.history.get(item_id)
        return turn.text if turn is not None else ""

    @property
    def playing(self) -> bool:
        """Assistant audio is queued or sounding (as far as playback notices tell)."""
        return self._playing

    # ------------------------------------------------------------------ the one entry point

    def handle(self, event: ev.ServerEvent | LocalInput) -> list[Action]:
        """Consume one input; return what to do, in order."""
        match event:
            case ev.AudioDelta(response_id, item_id, pcm):
                if response_id in self._interrupted:
                    self.dropped_deltas += 1
                    return []
                self._note_item(item_id, response_id)
                self._open_audio.add(item_id)
                self.history.turn(item_id, "assistant").received_bytes += len(pcm)
                self._last_audio_item = item_id
                self._playing = True
                return [Play(item_id, pcm)]
            case ev.AudioDone(response_id, item_id):
                self._open_audio.discard(item_id)
                return [EndAudio(item_id)]
            case ev.TranscriptDelta(response_id, item_id, delta):
                if response_id in self._interrupted:
                    return []
                self._note_item(item_id, response_id)
                self._open_text.add(item_id)
                self.history.turn(item_id, "assistant").text += delta
                return [AssistantText(item_id, delta)]
            case ev.TranscriptDone(response_id, item_id, text):
                if response_id not in self._interrupted and text:
                    self.history.turn(item_id, "assistant").text = text
                if item_id in self._open_text:
                    self._open_text.discard(item_id)
                    interrupted = response_id in self._interrupted
                    return [AssistantEnd(item_id, interrupted, self.line_text(item_id))]
                return []
            case ev.SpeechStarted(_, item_id):
                self.user_speaking = True
                if item_id:
                    self.history.turn(item_id, "user")
                return self._speech_started()
            case ev.SpeechStopped():
                self.user_speaking = False
                self.awaiting_reply = True
                return [Status(State.THINKING)]
            case ev.ResponseCreated(response_id):
                self.awaiting_reply = False
                self.active_response = response_id
                self._cancel_sent_for = None
                return []
            case ev.ResponseDone(response_id, status, reason, usage):
                return self._response_done(response_id, status, reason, usage)
            case ev.UserTranscript(item_id, text):
                if not text.strip():
                    return []
                self.history.turn(item_id, "user").text = text.strip()
                return [UserLine(item_id, text.strip())]
            case ev.UserTranscriptFailed(item_id, message):
                return [Notice("warning", f"could not transcribe your speech: {message}")]
            case ev.ServerErrorEvent():
                return [self._error_notice(event)]
            case ev.ServerWarning(message, code):
                suffix = f" ({code})" if code else ""
                return [Notice("warning", f"service warning: {message}{suffix}")]
            case ev.ItemTruncated(item_id, audio_end_ms):
                return [Notice("debug", f"item {item_id} truncated at {audio_end_ms} ms")]
            case PlaybackChanged(notice):
                if notice.event is PlaybackEvent.STARTED:
                    return self._playback_started(notice.item_id)
                return self._playback_drained(notice.item_id)
            case PlaybackFlushed(cut):
                return self._playback_flushed(cut)
            case PlaybackOverflow(item_id, dropped):
                return self._playback_overflow(item_id, dropped)
            case LocalInterrupt():
                return self._interrupt_locally()
            case CommitTurn():
                return self._commit_turn()
            case SendText(text):
                return self._send_text(text)
            case Greet(instructions):
                self.awaiting_reply = True
                response = {"instructions": instructions} if instructions else None
                return [Send(ce.response_create(self._ids, response)), Status(State.THINKING)]
            case InputEnded():
                self._input_ended = True
                return [*(self._commit_turn() if self._manual else []), *self._finished()]
            case ConnectionDropped():
                return self._connection_dropped()
            case SessionStarted():
                # A reply asked for between sessions (a typed message, a manual turn) was
                # asked of the session that had gone: its response.create was dropped as
                # stale, while the message itself reaches the new one in the replay.
                if self.awaiting_reply and self.active_response is None:
                    return [Send(ce.response_create(self._ids))]
                return []
            case _:
                return []

    # ------------------------------------------------------------------ server events

    def _note_item(self, item_id: str, response_id: str) -> None:
        if item_id not in self._item_response:
            self._item_response[item_id] = response_id
            if len(self._item_response) > 2 * RECENT_ITEMS:
                self._forget_old_items()

    def _speech_started(self) -> list[Action]:
        if not self._interrupt or not (self._playing or self.active_response):
            return [Status(State.HEARING)]
        return self._begin_interrupt(local=False)

    def _begin_interrupt(self, *, local: bool) -> list[Action]:
        # The service auto-truncates only interruptions its own VAD detects, so a keyboard
        # interrupt is truncated by the client even with auto_truncate on.
        self._local_interrupt = local
        if self.active_response:
            self._interrupted.add(self.active_response)
        if self._last_audio_item in self._item_response:
            self._interrupted.add(self._item_response[self._last_audio_item])
        actions: list[Action] = [FlushPlayback(), Status(State.INTERRUPTED)]
        actions += self._close_text(self._interrupted, interrupted=True)
        self._open_audio = {
            i for i in self._open_audio if self._item_response.get(i) not in self._interrupted
        }
        return actions

    def _close_text(self, responses: set[str], *, interrupted: bool) -> list[Action]:
        """End the open transcript lines of these responses."""
        closing = sorted(i for i in self._open_text if self._item_response.get(i) in responses)
        self._open_text.difference_update(closing)
        return [AssistantEnd(i, interrupted, self.line_text(i)) for i in closing]

    def _response_done(
        self, response_id: str, status: str, reason: str | None, usage: dict[str, Any] | None
    ) -> list[Action]:
        # No more audio can come for this response's items, even if a `response.audio.done`
        # went missing: let playback run out instead of waiting for it.
        mine = [i for i, r in self._item_response.items() if r == response_id]
        actions: list[Action] = [EndAudio(i) for i in mine if i in self._open_audio]
        self._open_audio.difference_update(mine)
        # A reply that ended without its transcript.done (failed, incomplete) ends its line.
        actions += self._close_text({response_id}, interrupted=response_id in self._interrupted)
        if self.active_response == response_id:
            self.active_response = None
            if self._create_after_done:
                self._create_after_done = False
                self.awaiting_reply = True
                actions.append(Send(ce.response_create(self._ids)))
        if status == "failed":
            actions.append(
                Notice("error", "the service could not finish its reply (response failed)")
            )
        elif status == "incomplete":
            actions.append(Notice("warning", f"the reply was cut short ({reason or 'incomplete'})"))
        if not self._playing and response_id not in self._interrupted:
            actions.append(Status(State.LISTENING))
        actions.append(ResponseFinished(response_id, status, usage))
        return [*actions, *self._finished()]

    def _forget_old_items(self) -> None:
        """Keep the bookkeeping of a long session small: only recent items matter for playback."""
        for item_id in list(self._item_response)[:-RECENT_ITEMS]:  # dicts keep insertion order
            del self._item_response[item_id]
        live = set(self._item_response.values())
        self._interrupted &= live | {self.active_response}
        self._overflowed &= set(self._item_response)

    def _error_notice(self, error: ev.ServerErrorEvent) -> Notice:
        if error.code in BENIGN_ERROR_CODES:
            return Notice("debug", f"benign server error {error.code}: {error.message}")
        param = f" (parameter: {error.param})" if error.param else ""
        return Notice("error", f"service error: {error.message}{param}")

    # ------------------------------------------------------------------ playback feedback

    def _playback_overflow(self, item_id: str, dropped: int) -> list[Action]:
        """The buffer refused audio (a broken service sent far more than any reply): the
        record counts only what can be heard, and the user is told once per item."""
        turn = self.history.get(item_id)
        if turn is not None:
            turn.received_bytes = max(0, turn.received_bytes - dropped)
        if item_id in self._overflowed:
            return []
        self._overflowed.add(item_id)
        return [
            Notice(
                "warning",
                "the reply is longer than the playback memory holds; the rest of its audio "
                "is dropped (its text still shows)",
            )
        ]

    def _playback_flushed(self, cut: Sequence[ItemPlayback]) -> list[Action]:
        """After a flush: cancel the active response and truncate what was cut short."""
        actions: list[Action] = []
        if self.active_response and self._cancel_sent_for != self.active_response:
            self._cancel_sent_for = self.active_response
            actions.append(Send(ce.response_cancel(self._ids, self.active_response)))
        truncate = not self._auto_truncate or self._local_interrupt
        for item in cut:
            received = self.received_bytes(item.item_id)
            # Nothing to cut if nothing was received, or if the item was complete and fully
            # played. An item still open (more audio due) is cut even when all it sent so far
            # was played: the rest was never heard.
            if received == 0 or (not item.open and item.played_bytes >= received):
                continue
            # Clamp to what was received: truncating past the item's audio is an error that
            # can leave the session stuck.
            heard = min(item.played_bytes, received)
            self.history.cut(item.item_id, heard)
            if truncate:
                actions.append(
                    Send(ce.item_truncate(self._ids, item.item_id, heard // BYTES_PER_MS))
                )
            actions.append(_cut_notice(heard, received, item.open))
        self._local_interrupt = False
        self._playing = False
        for text in self._text_after_flush:
            actions += self._send_message(text)
        self._text_after_flush.clear()
        return [*actions, *self._finished()]

    def _playback_started(self, item_id: str) -> list[Action]:
        if self._item_response.get(item_id) in self._interrupted:
            return []
        return [Status(State.SPEAKING)]

    def _playback_drained(self, item_id: str) -> list[Action]:
        if item_id != self._last_audio_item:
            return []
        self._playing = False
        actions: list[Action] = [] if self.active_response else [Status(State.LISTENING)]
        return [*actions, *self._finished()]

    def _finished(self) -> list[Action]:
        """A headless run ends once its input was sent and nothing more is due or playing."""
        return [Finished()] if self._input_ended and self.idle else []

    # ------------------------------------------------------------------ local turn control

    def _interrupt_locally(self) -> list[Action]:
        """The user interrupted from the keyboard: same as a barge-in, if anything is playing."""
        if not (self._playing or self.active_response):
            return []
        return [*self._begin_interrupt(local=True), Status(State.LISTENING)]

    def _send_text(self, text: str) -> list[Action]:
        """A typed message: interrupted like a spoken barge-in, then sent and answered.

        When something was playing, the message goes once the flush result is in, so the
        service sees cancel and truncate before the new item, as for a spoken barge-in.
        """
        actions = self._interrupt_locally()
        if any(isinstance(a, FlushPlayback) for a in actions):
            self._text_after_flush.append(text)
            return actions
        return actions + self._send_message(text)

    def _send_message(self, text: str) -> list[Action]:
        self._typed += 1
        key = f"typed_{self._typed}"  # the service names the item; the history needs a key
        self.history.turn(key, "user").text = text
        return [
            UserLine(key, text, typed=True),
            Send(ce.item_create_text(self._ids, text)),
            *self._ask_for_reply(),
        ]

    def _ask_for_reply(self) -> list[Action]:
        self.awaiting_reply = True
        if self.active_response:
            # A response.create while one is still active is refused by the service
            # (conversation_already_has_active_response): ask once the cancel has landed.
            self._create_after_done = True
            return [Status(State.THINKING)]
        return [Send(ce.response_create(self._ids)), Status(State.THINKING)]

    def _commit_turn(self) -> list[Action]:
        """Manual turns (no VAD): end the user's turn and ask for a reply."""
        actions = self._interrupt_locally()
        actions.append(Send(ce.audio_commit(self._ids)))
        return actions + self._ask_for_reply()

    def end_open_lines(self) -> list[AssistantEnd]:
        """At exit: end the assistant lines still being written, with what they hold."""
        closing = sorted(self._open_text)
        self._open_text.clear()
        return [AssistantEnd(i, False, self.line_text(i)) for i in closing]

    # ------------------------------------------------------------------ connection changes

    def _connection_dropped(self) -> list[Action]:
        """The service forgot the response in flight: end its audio so what came plays out.

        Received audio is not flushed: it finishes playing and counts as heard. The response
        is not asked for again (the user may have moved on); its text line ends as cut.
        """
        actions: list[Action] = [EndAudio(i) for i in sorted(self._open_audio)]
        self._open_audio.clear()
        if self.active_response:
            actions += self._close_text({self.active_response}, interrupted=True)
            self._interrupted.add(self.active_response)  # a late delta must not play
        self.active_response = None
        self._cancel_sent_for = None
        self._create_after_done = False
        self.user_speaking = False
        self.awaiting_reply = False
        return actions


def _cut_notice(heard_bytes: int, received_bytes: int, still_streaming: bool) -> Notice:
    heard = heard_bytes / BYTES_PER_MS / 1000
    total = received_bytes / BYTES_PER_MS / 1000
    of = f"{total:.1f} s so far" if still_streaming else f"{total:.1f} s"
    return Notice("info", f"(interrupted: you heard {heard:.1f} s of {of})")
