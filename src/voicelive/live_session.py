"""One live conversation over an open, set-up connection: its tasks and action dispatch.

:class:`LiveSession` owns the per-session pieces (conversation state machine, jitter buffer,
capture queue, control queue) and runs the concurrent tasks until quit or failure:

- ``send_audio``: capture queue → ``input_audio_buffer.append``;
- ``send_control``: client events decided by the conversation (cancel, truncate, commit…);
- ``receive``: server events → :class:`~voicelive.protocol.conversation.Conversation` →
  actions, performed at once (play, flush, show…);
- ``watch_devices`` / ``watch_input_end``: a device that stops, the end of a headless run;
- the keyboard reader, when there is one.

Everything here runs on the event loop thread; the audio callbacks reach it only through
``call_soon_threadsafe`` (see :mod:`voicelive.audio.devices`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from voicelive.audio.jitter import JitterBuffer
from voicelive.connection import VoiceLiveConnection
from voicelive.errors import EXIT_OK, AudioDeviceError, VoiceLiveError
from voicelive.keyboard import QUIT_WORDS, read_lines
from voicelive.protocol import conversation as cv
from voicelive.protocol import events as ev
from voicelive.settings import BYTES_PER_SAMPLE, SAMPLE_RATE, Settings
from voicelive.view import View

log = logging.getLogger("voicelive.chat")  # one logger name for the whole chat flow

HEADLESS_PATIENCE_S = 20.0
EXPIRY_WARNING_S = 60.0
CAPTURE_QUEUE_BLOCKS = 50  # 1 s of 20 ms blocks: beyond that the network is hopelessly behind


class AudioIO(Protocol):
    """Opens the two audio ends. Real: PortAudio (devices.py); headless: WAV files (wavio.py).

    ``microphone(sink)`` delivers PCM16 mono 24 kHz blocks to ``sink`` on the loop thread;
    ``speaker(jitter, notify)`` plays from ``jitter``. Both return context managers with a
    ``failed`` asyncio.Event. ``input_finished`` (may be None) is set when a finite input
    (a WAV file) has been sent completely.
    """

    input_finished: asyncio.Event | None

    def check(self) -> None: ...
    def microphone(self, sink: Callable[[bytes], None]) -> Any: ...
    def speaker(self, jitter: JitterBuffer, notify: Callable[[tuple[str, str]], None]) -> Any: ...


class Quit:
    """The quit request: set once, by a key, a signal or the end of a headless run."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.code = EXIT_OK
        self.reason = ""

    def set(self, code: int, reason: str) -> None:
        if not self.event.is_set():
            self.code, self.reason = code, reason
            log.info("quit requested: %s (exit %d)", reason, code)
            self.event.set()


class LiveSession:
    """The running conversation: tasks and action dispatch for one connected session."""

    def __init__(
        self,
        conn: VoiceLiveConnection,
        settings: Settings,
        view: View,
        audio: AudioIO,
        quit: Quit,
        ids: ev.EventIds,
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.view = view
        self.audio = audio
        self.quit = quit
        self.ids = ids
        self.expires_at: float | None = None
        """Unix time the service ends the session (``session.created``, 2026-07-15+)."""
        td = settings.session.turn_detection
        self.manual_turns = td.vad_type is None
        self.conversation = cv.Conversation(
            ids, interrupt=td.interrupt_response, auto_truncate=td.auto_truncate
        )
        bytes_per_ms = SAMPLE_RATE * BYTES_PER_SAMPLE // 1000
        self.jitter = JitterBuffer(
            prefill_bytes=settings.audio.prebuffer_ms * bytes_per_ms,
            max_bytes=settings.audio.max_buffer_ms * bytes_per_ms,
        )
        self.capture: asyncio.Queue[bytes] = asyncio.Queue(maxsize=CAPTURE_QUEUE_BLOCKS)
        self.control: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.captured_dropped = 0
        self.first_audio_logged = False
        self.activity = asyncio.Event()  # set on every received event (headless patience)

    # -------------------------------------------------------------- callbacks (loop thread)

    def on_mic_block(self, block: bytes) -> None:
        if self.capture.full():
            self.capture.get_nowait()  # keep the newest audio: drop the oldest, count it
            self.captured_dropped += 1
        self.capture.put_nowait(block)

    def on_playback(self, notice: tuple[str, str]) -> None:
        kind, item_id = notice
        if kind == "started":
            log.debug("playback started item_id=%s", item_id)
            self.perform(self.conversation.playback_started(item_id))
        else:
            log.debug("playback drained item_id=%s", item_id)
            self.perform(self.conversation.playback_drained(item_id))
            self._check_headless_done()

    def on_key_line(self, line: str) -> None:
        if line.lower() in QUIT_WORDS:
            self.quit.set(EXIT_OK, "q + Enter")
        elif line == "":
            actions = (
                self.conversation.commit_turn()
                if self.manual_turns
                else self.conversation.interrupt_locally()
            )
            self.perform(actions)

    # -------------------------------------------------------------- actions

    def perform(self, actions: list[cv.Action]) -> None:
        for action in actions:
            match action:
                case cv.Play(item_id, pcm):
                    if not self.jitter.push(item_id, pcm):
                        log.warning("playback buffer full: dropped %d bytes", len(pcm))
                case cv.EndAudio(item_id):
                    self.jitter.end_item(item_id)
                case cv.Send(event):
                    self.control.put_nowait(event)
                case cv.FlushPlayback():
                    cut = self.jitter.flush()
                    log.info(
                        "barge-in: playback flushed; cut %s",
                        [(c.item_id, c.played_bytes // 48, c.received_bytes // 48) for c in cut],
                    )
                    self.perform(self.conversation.playback_flushed(cut))
                case cv.Status(state):
                    self.view.status(state)
                case cv.UserLine(_, text):
                    self.view.user(text)
                case cv.AssistantText(item_id, delta):
                    self.view.assistant_delta(item_id, delta)
                case cv.AssistantEnd(item_id, interrupted):
                    self.view.assistant_end(item_id, interrupted)
                case cv.Notice(level, text):
                    if level == "debug":
                        log.debug("%s", text)
                    elif level == "info":
                        log.info("%s", text)
                        self.view.notice(level, text)
                    else:
                        log.warning("%s", text)
                        self.view.notice(level, text)
                case cv.ResponseFinished(response_id, status):
                    log.info("response %s finished: %s", response_id, status)
                    self._check_headless_done()

    def _check_headless_done(self) -> None:
        finished = self.audio.input_finished
        if (
            finished is not None
            and finished.is_set()
            and self.conversation.idle
            and not self.jitter.busy
        ):
            self.quit.set(EXIT_OK, "input file sent and reply finished")

    # -------------------------------------------------------------- tasks

    async def send_audio(self) -> None:
        while True:
            block = await self.capture.get()
            await self.conn.send(ev.audio_append(block))

    async def send_control(self) -> None:
        while True:
            await self.conn.send(await self.control.get())

    async def receive(self) -> None:
        while True:
            raw = await self.conn.recv()
            self.activity.set()
            try:
                event = ev.decode_frame(raw)
                parsed = ev.parse_event(event)
            except ev.MalformedEvent as exc:
                log.warning("ignored a malformed message from the service: %s", exc)
                self.view.notice("warning", f"ignored a malformed message from the service ({exc})")
                continue
            if log.isEnabledFor(logging.DEBUG):  # describe() costs a few µs per event
                if not isinstance(parsed, ev.AudioDelta):
                    log.debug("recv %s", ev.describe(event))
                elif not self.first_audio_logged:
                    self.first_audio_logged = True
                    log.debug("recv %s (first audio)", ev.describe(event))
            if isinstance(parsed, ev.Unknown):
                log.info("ignored unknown event type %s", parsed.type)
            self.perform(self.conversation.handle(parsed))

    async def watch_devices(self, mic: Any, speaker: Any) -> None:
        waiters = [
            asyncio.ensure_future(mic.failed.wait()),
            asyncio.ensure_future(speaker.failed.wait()),
        ]
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        which = "microphone" if waiters[0] in done else "speaker"
        raise AudioDeviceError(
            f"The {which} stopped working (device removed or sound server gone); "
            "check it and start voicelive again."
        )

    async def watch_input_end(self) -> None:
        finished = self.audio.input_finished
        if finished is None:
            await asyncio.Future()  # live microphone: never ends by itself
            return
        await finished.wait()
        if self.manual_turns:  # no VAD: the end of the file ends the turn
            self.perform(self.conversation.commit_turn())
        self._check_headless_done()
        # A reply that never comes (a turn the service chose not to answer) must not hold a
        # script forever: give up after a stretch with no event and nothing left to play.
        while True:
            self.activity.clear()
            try:
                await asyncio.wait_for(self.activity.wait(), HEADLESS_PATIENCE_S)
            except TimeoutError:
                if not self.jitter.busy:
                    raise VoiceLiveError(
                        f"The input file was sent but the service sent nothing for "
                        f"{HEADLESS_PATIENCE_S:g} s and no reply is playing; giving up."
                    ) from None

    async def warn_before_expiry(self) -> None:
        """Say a minute ahead that the service will end the session (``expires_at``)."""
        if self.expires_at is None:
            return
        wait_s = self.expires_at - time.time() - EXPIRY_WARNING_S
        if wait_s > 0:
            await asyncio.sleep(wait_s)  # a timer to a known moment, not a wait for an event
        remaining = max(0, round(self.expires_at - time.time()))
        self.view.notice(
            "warning",
            f"The service ends this session in {remaining} s (its time limit); "
            "start voicelive again to go on.",
        )

    async def run(self, stdin_fd: int | None) -> None:
        with (
            self.audio.speaker(self.jitter, self.on_playback) as speaker,
            self.audio.microphone(self.on_mic_block) as mic,
        ):
            self.view.status("listening")
            coros = [
                self.send_audio(),
                self.send_control(),
                self.receive(),
                self.watch_devices(mic, speaker),
                self.watch_input_end(),
                self.warn_before_expiry(),
            ]
            if stdin_fd is not None:
                coros.append(read_lines(stdin_fd, self.on_key_line))
            tasks: list[asyncio.Future[Any]] = [asyncio.ensure_future(c) for c in coros]
            quit_task: asyncio.Future[Any] = asyncio.ensure_future(self.quit.event.wait())
            try:
                pending = set(tasks) | {quit_task}
                while not quit_task.done():
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        error = None if task is quit_task else task.exception()
                        if error is not None:
                            raise error
            finally:
                for task in [*tasks, quit_task]:
                    task.cancel()
                await asyncio.gather(*tasks, quit_task, return_exceptions=True)
                self._log_stats(mic, speaker)

    def _log_stats(self, mic: Any, speaker: Any) -> None:
        stats = self.jitter.stats()
        log.info(
            "playback: pushed=%d played=%d dropped=%d underruns=%d flushes=%d max_queued=%d; "
            "device underflows=%s overflows=%s; capture dropped=%d; late deltas dropped=%d",
            stats.pushed_bytes,
            stats.played_bytes,
            stats.dropped_bytes,
            stats.underruns,
            stats.flushes,
            stats.max_queued_bytes,
            getattr(speaker, "underflows", "n/a"),
            getattr(mic, "overflows", "n/a"),
            self.captured_dropped,
            self.conversation.dropped_deltas,
        )
