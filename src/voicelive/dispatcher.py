"""The dispatcher: inputs through the sans-I/O core, and its actions performed in order.

Inputs come from the current connection's receiver (raw frames), the speaker (playback
notices), the keyboard and the supervisor. Each goes through
:meth:`~voicelive.protocol.conversation.Conversation.handle`; the actions go to the audio
pipeline (play, end, flush), to the outbox (client events for whichever connection is current)
and to the view. A flush's result is queued as the next input and handled after the current
actions, never by calling back into the core mid-dispatch.

It does not know which connection it serves. Loop thread only; :meth:`feed` never awaits.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from voicelive.audio.pipeline import AudioPipeline
from voicelive.errors import EXIT_OK
from voicelive.protocol import actions as act
from voicelive.protocol import events as ev
from voicelive.protocol.conversation import Conversation
from voicelive.protocol.pcm import ms_of
from voicelive.protocol.playback import PlaybackNotice
from voicelive.quit import Quit
from voicelive.view import View

log = logging.getLogger("voicelive.chat")

Input = ev.ServerEvent | act.LocalInput


class Dispatcher:
    """See the module docstring. ``outbox`` holds client events for the current connection."""

    def __init__(self, core: Conversation, pipeline: AudioPipeline, view: View, quit: Quit) -> None:
        self.core = core
        self.pipeline = pipeline
        self.view = view
        self.quit = quit
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pending: deque[Input] = deque()
        self._draining = False
        self._first_audio_logged = False
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
                self._perform(self.core.handle(self._pending.popleft()))
        finally:
            self._draining = False
            self._pending.clear()
            self.changed.set()

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

    def on_playback(self, notice: PlaybackNotice) -> None:
        log.debug("playback %s item_id=%s", notice.event.value, notice.item_id)
        self.feed(act.PlaybackChanged(notice))

    def _perform(self, actions: list[act.Action]) -> None:
        for action in actions:
            match action:
                case act.Play(item_id, pcm):
                    if not self.pipeline.jitter.push(item_id, pcm):
                        log.warning("playback buffer full: dropped %d bytes", len(pcm))
                case act.EndAudio(item_id):
                    self.pipeline.jitter.end_item(item_id)
                case act.Send(event):
                    self.outbox.put_nowait(event)
                case act.FlushPlayback():
                    cut = self.pipeline.jitter.flush()
                    log.info(
                        "barge-in: playback flushed; cut %s",
                        [(c.item_id, ms_of(c.played_bytes), ms_of(c.received_bytes)) for c in cut],
                    )
                    self._pending.append(act.PlaybackFlushed(cut))
                case act.Status(state):
                    self.view.status(state)
                case act.UserLine(_, text):
                    self.view.user(text)
                case act.AssistantText(item_id, delta):
                    self.view.assistant_delta(item_id, delta)
                case act.AssistantEnd(item_id, interrupted):
                    self.view.assistant_end(item_id, interrupted)
                case act.Notice(level, text):
                    if level == "debug":
                        log.debug("%s", text)
                        continue
                    log.log(logging.INFO if level == "info" else logging.WARNING, "%s", text)
                    self.view.notice(level, text)
                case act.ResponseFinished(response_id, status):
                    log.info("response %s finished: %s", response_id, status)
                case act.Finished():
                    self.quit.set(EXIT_OK, "input file sent and reply finished")
