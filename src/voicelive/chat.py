"""``run_chat``: the orchestrator, the only place that knows all the parts.

::

    mic ─► capture queue ─► sender ─────────────► websocket ─► Voice Live
    speaker ◄─ jitter buffer ◄─ actions ◄─ Conversation ◄─ receiver ◄─┘
                                   └─► view (transcript, status)
    keyboard / SIGINT / SIGTERM ─► quit ─► orderly shutdown

Sequence: (start the simulator when asked) → resolve devices → connect → wait for
``session.created`` → send ``session.update`` → wait for ``session.updated`` → open the audio
streams → run sender, receiver, control sender, keyboard and device watchdog until quit or
failure → close the socket with 1000, the streams, the credential, the view. Quit is honoured
at every step, including while connecting. Errors leave as :class:`VoiceLiveError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from voicelive.audio.jitter import JitterBuffer
from voicelive.auth import Auth, make_auth
from voicelive.connection import VoiceLiveConnection
from voicelive.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    AudioDeviceError,
    ConnectError,
    ProtocolError,
    ServerError,
    VoiceLiveError,
)
from voicelive.keyboard import QUIT_WORDS, read_lines
from voicelive.protocol import conversation as cv
from voicelive.protocol import events as ev
from voicelive.protocol.session import build_session
from voicelive.settings import BYTES_PER_SAMPLE, SAMPLE_RATE, Secret, Settings
from voicelive.view import TerminalView, View

log = logging.getLogger(__name__)
T = TypeVar("T")

HEADLESS_PATIENCE_S = 20.0
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


async def _until_quit(quit: Quit, awaitable: Awaitable[T]) -> T | None:
    """Await ``awaitable`` unless quit comes first (then cancel it and return None)."""
    task = asyncio.ensure_future(awaitable)
    waiter = asyncio.ensure_future(quit.event.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


@contextlib.contextmanager
def _signals(quit: Quit) -> Any:
    loop = asyncio.get_running_loop()
    installed = []
    for sig, code, name in (
        (signal.SIGINT, EXIT_INTERRUPTED, "Ctrl+C"),
        (signal.SIGTERM, EXIT_TERMINATED, "SIGTERM"),
    ):
        try:
            loop.add_signal_handler(sig, quit.set, code, name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@contextlib.asynccontextmanager
async def _endpoint(settings: Settings, view: View) -> AsyncIterator[Settings]:
    """Start the bundled simulator when ``--simulate`` and point the settings at it."""
    if not settings.simulate:
        yield settings
        return
    from voicelive.simulator import Simulator

    simulator = Simulator()
    await simulator.start()
    view.notice(
        "info",
        f"Offline simulator on {simulator.endpoint} (no Azure): it answers by repeating "
        "what you say. Use headphones, or it will hear itself.",
    )
    try:
        connection = dataclasses.replace(
            settings.connection, endpoint=simulator.endpoint, api_key=Secret("simulator")
        )
        yield dataclasses.replace(settings, connection=connection)
    finally:
        await simulator.close()


async def _setup_session(
    conn: VoiceLiveConnection, settings: Settings, ids: ev.EventIds, wait_s: float
) -> bool:
    """session.created → session.update → session.updated, or a clear error."""

    async def next_event() -> dict[str, Any]:
        try:
            async with asyncio.timeout(wait_s):
                raw = await conn.recv()
        except TimeoutError:
            raise ConnectError(
                f"The service accepted the connection but did not start a session within "
                f"{wait_s:g} s; try again."
            ) from None
        try:
            event = ev.decode_frame(raw)
        except ev.MalformedEvent as exc:
            raise ProtocolError(
                f"The service sent something that is not a Voice Live event ({exc}); "
                "check that --endpoint is a Voice Live resource."
            ) from None
        log.debug("recv %s", ev.describe(event))
        return event

    while (event := await next_event())["type"] != "session.created":
        _raise_setup_error(event)
    session = event.get("session") or {}
    log.info(
        "session created: id=%s model=%s expires_at=%s",
        session.get("id"),
        session.get("model"),
        session.get("expires_at"),
    )
    update = ev.session_update(
        ids, build_session(settings.session, settings.connection.api_version)
    )
    await conn.send(update)
    while (event := await next_event())["type"] != "session.updated":
        _raise_setup_error(event)
    log.info("session updated; streaming the microphone")
    return True


def _raise_setup_error(event: dict[str, Any]) -> None:
    if event["type"] != "error":
        log.debug("ignored during session setup: %s", event["type"])
        return
    try:
        parsed = ev.parse_event(event)
    except ev.MalformedEvent as exc:
        raise ProtocolError(
            f"The service answered the session set-up with a malformed error ({exc})."
        ) from None
    assert isinstance(parsed, ev.ServerErrorEvent)
    param = f" (parameter: {parsed.param})" if parsed.param else ""
    raise ServerError(
        f"The service rejected the session settings: {parsed.message}{param}; "
        "check the matching flag or variable."
    )


class _Session:
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
        self.first_delta_at: float | None = None
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
            if not isinstance(parsed, ev.AudioDelta):
                log.debug("recv %s", ev.describe(event))
            elif self.first_delta_at is None:
                self.first_delta_at = time.monotonic()
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


def default_audio(settings: Settings) -> AudioIO:
    """WAV files when --input-file/--output-file are given, else PortAudio devices."""
    if settings.audio.input_file is not None or settings.audio.output_file is not None:
        from voicelive.audio.wavio import WavAudio

        wav: AudioIO = WavAudio(settings.audio)
        return wav
    from voicelive.audio.devices import PortAudioIO

    real: AudioIO = PortAudioIO(settings.audio)
    return real


async def run_chat(
    settings: Settings,
    *,
    view: View | None = None,
    audio: AudioIO | None = None,
    auth: Auth | None = None,
    stdin_fd: int | None = 0,
) -> int:
    """Run one chat session until quit. Returns the exit code (0, 130 or 143).

    Raises a :class:`~voicelive.errors.VoiceLiveError` subclass for every failure. Always
    closes what it opened: socket (1000), audio streams, credential, simulator, view.
    ``stdin_fd`` None disables the keyboard (tests, headless use).
    """
    quit = Quit()
    view = view if view is not None else TerminalView()
    audio = audio if audio is not None else default_audio(settings)
    ids = ev.EventIds()
    try:
        with _signals(quit):
            audio.check()  # device choices and PortAudio, before any network
            async with contextlib.AsyncExitStack() as stack:
                settings = await stack.enter_async_context(_endpoint(settings, view))
                if auth is None:
                    auth = make_auth(settings.connection.api_key, settings.connection.token_scope)
                stack.push_async_callback(auth.close)
                view.status("connecting")
                conn = await _until_quit(quit, VoiceLiveConnection.open(settings.connection, auth))
                if conn is None:
                    return quit.code
                stack.push_async_callback(conn.close, 1000, "")
                view.status("starting session")
                wait_s = settings.connection.open_timeout_s
                if not await _until_quit(quit, _setup_session(conn, settings, ids, wait_s)):
                    return quit.code
                session = _Session(conn, settings, view, audio, quit, ids)
                await session.run(stdin_fd)
                return quit.code
    finally:
        view.close()
