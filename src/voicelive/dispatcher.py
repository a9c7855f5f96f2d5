"""The dispatcher: inputs through the sans-I/O core, and its actions performed in order.

Inputs come from the current connection's receiver (raw frames), the speaker (playback
notices), the keyboard and the supervisor. Each goes through
:meth:`~voicelive.protocol.conversation.Conversation.handle`; the actions go to the audio
pipeline (play, end, flush), to the one ordered outbound queue (client events for the
current connection, behind the microphone audio queued before them) and to the view. A
flush's result is queued as the next input and handled after the current
actions, never by calling back into the core mid-dispatch.

It does not know which connection it serves. Loop thread only; :meth:`feed` never awaits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from voicelive.audio.pipeline import AudioPipeline
from voicelive.connection.outbound import Outbound
from voicelive.errors import EXIT_OK
from voicelive.protocol import actions as act
from voicelive.protocol import server_events as ev
from voicelive.protocol.conversation import Conversation
from voicelive.protocol.pcm import ms_of
from voicelive.protocol.playback import PlaybackEvent, PlaybackNotice
from voicelive.quit import Quit
from voicelive.stats import ChatStats
from voicelive.terminal.view import View
from voicelive.transcript_file import TranscriptFile

log = logging.getLogger(__name__)

Input = ev.ServerEvent | act.LocalInput


class ToolHooks(Protocol):
    """What the dispatcher tells the tools (:class:`voicelive.tools.driver.ToolDriver`)."""

    def on_frame(self, frame: dict[str, Any]) -> None: ...

    def user_turn(self) -> None: ...

    def response_requested(self) -> None: ...


class Dispatcher:
    """See the module docstring. ``outbound`` takes the client events the core asks for.

    ``stats`` gets the turn milestones with the time they happened (``clock``);
    ``transcript``, when given, gets each utterance once it is complete.
    """

    def __init__(
        self,
        core: Conversation,
        pipeline: AudioPipeline,
        outbound: Outbound,
        view: View,
        quit: Quit,
        *,
        stats: ChatStats | None = None,
        transcript: TranscriptFile | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = core
        self.pipeline = pipeline
        self.outbound = outbound
        self.view = view
        self.quit = quit
        self._clock = clock
        self.stats = stats if stats is not None else ChatStats(clock())
        self.transcript = transcript
        # transcript entries in order, written once the inputs have settled (an interrupted
        # reply's heard time is known only after the flush result): (item_id, interrupted,
        # text) for the assistant, (None, typed, text) for the user
        self._entries: list[tuple[str | None, bool, str]] = []
        self._latency_ms: int | None = None
        self._sounding: str | None = None  # the item the speaker started last
        self._silence_ms = 0  # the current session's VAD silence duration (SessionStarted)
        self._pending: deque[Input] = deque()
        self._draining = False
        self._first_audio_logged = False
        self.tools: ToolHooks | None = None
        """Set by the chat when tools are configured: sees every frame after the core."""
        self.changed = asyncio.Event()
        """Set after every handled input: a waiter re-checks the core's state (no polling)."""

    def feed(self, first: Input) -> None:
        """Handle ``first`` and then every input its actions produced, in order."""
        self._pending.append(first)
        if self._draining:
            return  # fed from inside an action: handled in turn, after the current actions
        self._draining = True
        try:
            while self._pending:
                item = self._pending.popleft()
                self._observe(item)
                self._perform(self.core.handle(item))
        finally:
            self._draining = False
            self._pending.clear()
            if self._entries:
                self._write_entries()
            self.changed.set()

    def _observe(self, item: Input) -> None:
        """Turn milestones for the statistics, stamped with the time they happened."""
        match item:
            case act.SessionStarted(silence_ms):
                self._silence_ms = silence_ms
            case ev.SpeechStopped(audio_end_ms):
                # The speech ended before this event: the service waited out its silence
                # duration, and the audio sent since audio_end_ms (a point on the session's
                # input timeline) took time too.
                sent_ms = self.outbound.sent_audio_ms
                lag_ms = max(0, sent_ms - audio_end_ms) + self._silence_ms
                self.stats.speech_stopped(self._clock() - lag_ms / 1000)
            case act.SendText():
                self.stats.typed()
                if self.tools is not None:
                    self.tools.user_turn()
            case ev.SpeechStarted() if self.tools is not None:
                self.tools.user_turn()
            case act.PlaybackChanged(notice) if notice.event is PlaybackEvent.STARTED:
                if self._sounding is not None and self._sounding != notice.item_id:
                    # played to its end, straight into this one
                    self._finished(self._sounding)
                self._sounding = notice.item_id
                self._latency_ms = self.stats.first_heard(notice.item_id, self._clock())
            case act.PlaybackChanged(notice):
                self._finished(notice.item_id)
            case act.PlaybackFlushed(cut):
                for c in cut:
                    received = self.core.received_bytes(c.item_id)
                    was_cut = received and (c.open or c.played_bytes < received)
                    heard = min(c.played_bytes, received) if was_cut else None
                    self.stats.finished(c.item_id, received, heard)
            case _:
                pass

    def _finished(self, item_id: str) -> None:
        self.stats.finished(item_id, self.core.received_bytes(item_id))

    def _write_entries(self, *, all_of_them: bool = False) -> None:
        """Write the transcript entries that are complete, in order.

        An assistant entry waits until its audio has finished playing (drained or cut), since
        its text usually ends long before its audio and only then is it known how much was
        heard; the entries after it wait with it, so the file keeps the conversation's order.
        """
        transcript = self.transcript
        while self._entries:
            item_id, flag, text = self._entries[0]
            if item_id is None:
                if transcript is not None:
                    transcript.user(text, typed=flag)
                self._entries.pop(0)
                continue
            interrupted = flag
            record = self.stats.record(item_id)
            if record is not None and record.heard_ms is None and not all_of_them:
                return  # still playing
            self._entries.pop(0)
            text = text.strip()
            if transcript is None or not text:
                continue
            transcript.assistant(
                text,
                interrupted=interrupted or (record is not None and record.interrupted),
                heard_ms=record.heard_ms if record else None,
                total_ms=record.received_ms if record else None,
                latency_ms=record.latency_ms if record else None,
            )

    def flush_transcript(self) -> None:
        """At exit: write what is still waiting, with what is known of it."""
        self._write_entries(all_of_them=True)

    def on_frame(self, raw: str | bytes) -> None:
        """One raw frame from the service: decode, parse, log, feed."""
        try:
            event = ev.decode_frame(raw)
            parsed = ev.parse_event(event)
        except ev.MalformedEvent as exc:
            log.warning("ignored a malformed message from the service: %s", exc)
            self.view.notice("warning", f"ignored a malformed message from the service ({exc})")
            return
        if log.isEnabledFor(logging.DEBUG):  # describe() costs a few µs per event
            if not isinstance(parsed, ev.AudioDelta):
                log.debug("recv %s", ev.describe(event))
            elif not self._first_audio_logged:
                self._first_audio_logged = True
                log.debug("recv %s (first audio)", ev.describe(event))
        if isinstance(parsed, ev.Unknown):
            log.info("ignored unknown event type %s", parsed.type)
        self.feed(parsed)
        if self.tools is not None:
            self.tools.on_frame(event)

    def on_playback(self, notice: PlaybackNotice) -> None:
        log.debug("playback %s item_id=%s", notice.event.value, notice.item_id)
        self.feed(act.PlaybackChanged(notice))

    def _perform(self, actions: list[act.Action]) -> None:
        for action in actions:
            match action:
                case act.Play(item_id, pcm):
                    self.stats.audio(item_id)
                    if not self.pipeline.play(item_id, pcm):
                        self._pending.append(act.PlaybackOverflow(item_id, len(pcm)))
                case act.EndAudio(item_id):
                    self.pipeline.end_audio(item_id)
                case act.Send(event):
                    self.outbound.event(event)
                    if self.tools is not None and event.get("type") == "response.create":
                        self.tools.response_requested()
                case act.FlushPlayback():
                    cut = self.pipeline.flush()
                    stats = self.pipeline.jitter.stats()
                    log.info(
                        "barge-in: playback flushed; %d ms concealed, %d ms of pauses "
                        "trimmed in all; cut %s",
                        ms_of(stats.concealed_bytes),
                        ms_of(stats.trimmed_bytes),
                        [
                            (
                                c.item_id,
                                ms_of(c.played_bytes),
                                ms_of(self.core.received_bytes(c.item_id)),
                            )
                            for c in cut
                        ],
                    )
                    self._pending.append(act.PlaybackFlushed(cut))
                case act.Status(state):
                    if state is act.State.SPEAKING and self._latency_ms is not None:
                        self.view.status(f"{state} · ⏱ {self._latency_ms} ms")
                    else:
                        self.view.status(state)
                case act.UserLine(_, text, typed):
                    self.view.user(text, typed=typed)
                    if self.transcript is not None:
                        self._entries.append((None, typed, text))
                case act.AssistantText(item_id, delta):
                    self.view.assistant_delta(item_id, delta)
                case act.AssistantEnd(item_id, interrupted, text):
                    self.view.assistant_end(item_id, interrupted, text)
                    if self.transcript is not None:
                        self._entries.append((item_id, interrupted, text))
                case act.Notice(level, text):
                    if level == "debug":
                        log.debug("%s", text)
                        continue
                    log.log(logging.INFO if level == "info" else logging.WARNING, "%s", text)
                    self.view.notice(level, text)
                case act.ResponseFinished(response_id, status, usage):
                    log.info("response %s finished: %s", response_id, status)
                    self.stats.usage(usage)
                case act.Finished():
                    self.quit.set(EXIT_OK, "input file sent and reply finished")
