"""``run_chat``: the orchestrator, the only place that knows all the parts.

::

    mic ─► outbound queue ◄─ dispatcher ◄─ core     (one order: audio and client events)
             └─► supervisor's sender (current connection) ─► websocket ─► Voice Live
    speaker ◄─ jitter buffer ◄─ dispatcher ◄─ core ◄─ supervisor (frames) ◄───┘
                                  └─► view (transcript, status)
    keyboard / signals / end of a headless input ─► quit ─► orderly shutdown

Sequence: (start the simulator when asked) → check the audio devices → connect and set up the
first session (supervisor) → open the audio pipeline → run until quit: the supervisor (which
reconnects and rolls over by itself), the device watch, the keyboard and, for a WAV input, the
end-of-input watch → close the connection with 1000, the streams, the credential, the view.
One quit path: :func:`_until_quit` races every step against the quit request. Errors leave as
:class:`VoiceLiveError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from voicelive.audio.interfaces import AudioIO
from voicelive.audio.pipeline import AudioPipeline
from voicelive.auth import Auth, make_auth
from voicelive.config.settings import Secret, Settings, TurnDetectionSettings
from voicelive.connection.outbound import Outbound
from voicelive.connection.supervisor import DEFAULT_TIMING, Supervisor, Timing
from voicelive.dispatcher import Dispatcher
from voicelive.errors import EXIT_OK, VoiceLiveError
from voicelive.protocol import actions as act
from voicelive.protocol import client_events as ce
from voicelive.protocol.conversation import Conversation
from voicelive.quit import Quit
from voicelive.quit_signals import install_quit_signals
from voicelive.stats import ChatStats
from voicelive.terminal import live_status
from voicelive.terminal.keyboard import read_lines
from voicelive.terminal.typed_commands import (
    HELP,
    CancelTools,
    Help,
    Mute,
    QuitCommand,
    UnknownCommand,
    parse_line,
)
from voicelive.terminal.view import TerminalView, View
from voicelive.transcript_file import TranscriptFile

if TYPE_CHECKING:
    from voicelive.audio.echo_reference import EchoLink
    from voicelive.tools.driver import ToolDriver

log = logging.getLogger(__name__)
T = TypeVar("T")

HEADLESS_PATIENCE_S = 20.0
"""A headless run gives up after this long without any server event once its input was sent."""


async def _until_quit(quit: Quit, *steps: Awaitable[Any]) -> Any:
    """Run ``steps`` together until quit or until one ends; return the first one's result.

    The first step to finish (or raise) ends them all; the others are cancelled and awaited.
    Returns None when quit came first.
    """
    tasks = [asyncio.ensure_future(step) for step in steps]
    waiter = asyncio.ensure_future(quit.event.wait())
    try:
        done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task in done:
                return task.result()  # raises the step's error
        return None
    finally:
        for task in [*tasks, waiter]:
            task.cancel()
        await asyncio.gather(*tasks, waiter, return_exceptions=True)


@contextlib.asynccontextmanager
async def _endpoint(settings: Settings, view: View) -> AsyncIterator[Settings]:
    """Start the bundled simulator when ``--simulate`` and point the settings at it."""
    if not settings.simulate:
        yield settings
        return
    from voicelive.simulator import Simulator

    simulator = Simulator()
    await simulator.start()
    echo = (
        "It cancels its own voice with the echo reference."
        if settings.session.echo_reference
        else "Use headphones, or --echo-reference, or it will hear itself."
    )
    view.notice(
        "info",
        f"Offline simulator on {simulator.endpoint} (no Azure): it answers by repeating "
        f"what you say. {echo}",
    )
    try:
        connection = dataclasses.replace(
            settings.connection, endpoint=simulator.endpoint, api_key=Secret("simulator")
        )
        yield dataclasses.replace(settings, connection=connection)
    finally:
        await simulator.close()


def default_audio(settings: Settings, echo: EchoLink | None = None) -> AudioIO:
    """WAV files when --input-file/--output-file are given, else PortAudio devices.

    ``echo`` links the microphone to what the speaker played (``--echo-reference``,
    ``--record``).
    """
    if settings.audio.input_file is not None or settings.audio.output_file is not None:
        from voicelive.audio.wavio import WavAudio

        return WavAudio(settings.audio, echo=echo)
    from voicelive.audio.devices import PortAudioIO

    return PortAudioIO(settings.audio, echo, quiet_after_ms(settings.session.turn_detection))


QUIET_AFTER_MS = 2000
"""The least time after a sound before quiet microphone blocks may be batched."""
SEMANTIC_VAD_WAIT_MS = 8000
"""The longest ``semantic_vad`` waits for a hesitant speaker (its ``low`` eagerness); it has
no silence setting to read."""


def quiet_after_ms(turn_detection: TurnDetectionSettings) -> int:
    """How long after the last sound the microphone keeps sending block by block: a second
    past the service's end-of-turn waits, so batching never delays the end of a turn. 0 (no
    batching) with manual turns: a commit must find every block already sent."""
    if turn_detection.vad_type is None:
        return 0
    waits = [turn_detection.silence_duration_ms or 0, turn_detection.eou_timeout_ms or 0]
    if turn_detection.vad_type == "semantic_vad":
        waits.append(SEMANTIC_VAD_WAIT_MS)
    return max(QUIET_AFTER_MS, max(waits) + 1000)


def _echo_link(settings: Settings) -> EchoLink | None:
    """The microphone-to-speaker link, when the echo reference or the recording needs it."""
    if not (settings.session.echo_reference or settings.record is not None):
        return None
    from voicelive.audio.echo_reference import EchoLink

    return EchoLink(stereo=settings.session.echo_reference)


def _audio_ends(settings: Settings) -> tuple[EchoLink | None, AudioIO]:
    """The echo link (when needed) and the audio ends it joins; imports numpy, soxr, PortAudio."""
    echo = _echo_link(settings)
    return echo, default_audio(settings, echo)


def _recording(pipeline: AudioPipeline, write: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """--record's left channel is what the microphone *sent*: silence while muted or between
    sessions, so the file's time line stays continuous and honest."""

    def record(stereo: bytes) -> None:
        if pipeline.capturing and not pipeline.muted:
            write(stereo)
            return
        import numpy as np

        frames = np.frombuffer(stereo, "<i2").copy()
        frames[0::2] = 0
        write(frames.tobytes())

    return record


async def _watch_input_end(
    audio: AudioIO, core: Conversation, dispatcher: Dispatcher, patience_s: float
) -> None:
    """A finite input: tell the core when it is sent; give up if the service goes silent."""
    finished = audio.input_finished
    if finished is None:
        await asyncio.Future()  # live microphone: never ends by itself
        return
    await finished.wait()
    dispatcher.feed(act.InputEnded())
    # A reply that never comes (a turn the service chose not to answer) must not hold a
    # script forever: give up after a stretch with no event and nothing left to play.
    while True:
        dispatcher.changed.clear()
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # arrives as the event fires, and the quit then waits out the patience again
            async with asyncio.timeout(patience_s):
                await dispatcher.changed.wait()
        except TimeoutError:
            if not core.playing:
                raise VoiceLiveError(
                    f"The input file was sent but the service sent nothing for "
                    f"{patience_s:g} s and no reply is playing; giving up."
                ) from None


def _keyboard_handler(
    quit: Quit,
    dispatcher: Dispatcher,
    view: View,
    manual_turns: bool,
    tools: ToolDriver | None = None,
) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        view.line_typed(line)
        if tools is not None and tools.on_line(line):
            return  # y / n / a answered the tool question on screen
        command = parse_line(line, manual_turns=manual_turns)
        match command:
            case QuitCommand():
                quit.set(EXIT_OK, "q + Enter")
            case Mute(on):
                dispatcher.pipeline.muted = on
                log.info("microphone %s", "muted" if on else "unmuted")
                view.set_muted(on)
            case Help():
                view.notice("info", HELP)
            case CancelTools():
                if tools is None or not tools.cancel():
                    view.notice("info", "no tool is running")
            case UnknownCommand(name):
                view.notice("warning", f"{name} is not a command; /help lists them")
            case _:
                dispatcher.feed(command)

    return on_line


async def _keyboard(stdin_fd: int, on_line: Any) -> None:
    """Read lines until end of input; the chat goes on without a keyboard after that."""
    await read_lines(stdin_fd, on_line)
    log.info("keyboard input ended; Ctrl+C still quits")
    await asyncio.Future()


def _force_exit(view: View) -> Any:
    def force(code: int) -> None:
        with contextlib.suppress(Exception):
            view.close()
        logging.shutdown()  # flush the log: nothing is lost, even now
        os._exit(code)

    return force


async def run_chat(
    settings: Settings,
    *,
    view: View | None = None,
    audio: AudioIO | None = None,
    auth: Auth | None = None,
    stdin_fd: int | None = 0,
    quit: Quit | None = None,
    timing: Timing = DEFAULT_TIMING,
    headless_patience_s: float = HEADLESS_PATIENCE_S,
) -> int:
    """Run one chat until quit. Returns the exit code (0, 130 or 143).

    Raises a :class:`~voicelive.errors.VoiceLiveError` subclass for every failure. Always
    closes what it opened: socket (1000), audio streams, credential, simulator, view.
    ``stdin_fd`` None disables the keyboard (tests, headless use); ``quit`` lets a caller
    (a test) ask for the quit that a key or a signal would.
    """
    quit = quit if quit is not None else Quit()
    view = view if view is not None else TerminalView()
    echo: EchoLink | None = None
    if audio is None:  # its imports (numpy, soxr, PortAudio) take a while: not on the loop
        echo, ends = await asyncio.to_thread(_audio_ends, settings)
        audio = ends
    quit.force = _force_exit(view)
    ids = ce.EventIds()
    td = settings.session.turn_detection
    manual_turns = td.vad_type is None
    core = Conversation(
        ids,
        interrupt=td.interrupt_response,
        auto_truncate=td.auto_truncate,
        manual_turns=manual_turns,
    )
    outbound = Outbound(channels=2 if settings.session.echo_reference else 1)
    pipeline = AudioPipeline(
        audio,
        settings.audio,
        outbound,
        on_warning=lambda text: view.notice("warning", text),
        stereo_input=settings.session.echo_reference,
    )
    stats = ChatStats(time.monotonic())
    dispatcher = Dispatcher(core, pipeline, outbound, view, quit, stats=stats)
    tools_task = _start_tools(settings, ids, outbound, view, stats, dispatcher)
    tools: ToolDriver | None = None
    supervisor: Supervisor | None = None
    outcome = "an unexpected error"
    live = None
    try:
        with install_quit_signals(quit.signal):
            # device choices and PortAudio, before any network; enumeration blocks: a thread
            await asyncio.to_thread(audio.check)
            async with contextlib.AsyncExitStack() as stack:
                if settings.record is not None and echo is not None:
                    # entered first, so it closes after the streams have stopped
                    from voicelive.audio.recorder import ConversationRecorder

                    recorder = stack.enter_context(ConversationRecorder(settings.record))
                    echo.record = _recording(pipeline, recorder.write)
                resumed = 0
                if settings.resume is not None:  # read before --transcript may append to it
                    from voicelive.transcript_resume import load_history

                    resumed = load_history(settings.resume, core.history)
                    told = (
                        "the session is told them before your first turn"
                        if settings.replay.turns > 0
                        else "but --replay-turns 0 tells the session none of them"
                    )
                    view.notice(
                        "info", f"resumed {resumed} turn(s) from {settings.resume.name}: {told}"
                    )
                if settings.transcript is not None:
                    transcript = TranscriptFile(settings.transcript)
                    dispatcher.transcript = stack.enter_context(transcript)
                    stack.callback(dispatcher.flush_transcript)  # runs before the file closes
                settings = await stack.enter_async_context(_endpoint(settings, view))
                if auth is None:
                    c = settings.connection
                    auth = make_auth(c.api_key, c.token_scope, proxy=c.proxy, trust=c.trust)
                stack.push_async_callback(auth.close)
                supervisor = Supervisor(
                    settings,
                    auth,
                    ids,
                    core,
                    dispatcher,
                    outbound,
                    pipeline,
                    view,
                    timing=timing,
                    tools_ready=tools_task,  # started with the audio check
                )
                stack.push_async_callback(supervisor.close)
                live_status.attach(
                    view, stats, supervisor, pipeline, resumed
                )  # a terminal's figures
                view.status(act.State.CONNECTING)
                live = await _until_quit(quit, supervisor.connect_first())
                if tools_task is not None and live is not None:
                    tools = tools_task.result()  # connect_first awaited it
                    dispatcher.tools = tools
                if live is not None:
                    with pipeline.running(dispatcher.on_playback):
                        view.status(act.State.LISTENING)
                        if stdin_fd is not None:
                            view.notice("info", "Speak, or type a message; /help lists commands.")
                        if settings.greet:
                            dispatcher.feed(act.Greet(settings.greet_instructions))
                        steps: list[Awaitable[Any]] = [
                            supervisor.run(live),
                            pipeline.watch(),
                            _watch_input_end(audio, core, dispatcher, headless_patience_s),
                        ]
                        if tools is not None:
                            from voicelive.tools.in_chat import refresh_status

                            steps.append(refresh_status(tools, view))
                        if stdin_fd is not None:
                            on_line = _keyboard_handler(quit, dispatcher, view, manual_turns, tools)
                            steps.append(_keyboard(stdin_fd, on_line))
                        await _until_quit(quit, *steps)
        outcome = f"exit {quit.code} ({quit.reason})"
        return quit.code
    except VoiceLiveError as exc:
        outcome = f"exit {exc.exit_code} ({type(exc).__name__})"
        raise
    finally:
        if tools_task is not None:  # every exit: no MCP server is left running
            from voicelive.tools.in_chat import close_tools

            await close_tools(tools_task)
        if supervisor is not None:
            stats.reconnects, stats.rollovers = supervisor.reconnects, supervisor.rollovers
        stats.underruns = pipeline.jitter.stats().underruns
        stats.mic_dropped_ms = outbound.dropped_late_ms
        if live is not None:
            for line in stats.lines(time.monotonic()):
                log.info("summary: %s", line)
                view.notice("info", line)
        for end in core.end_open_lines():
            view.assistant_end(end.item_id, end.interrupted, end.text)
        view.close()
        log.info("late deltas of interrupted replies dropped: %d", core.dropped_deltas)
        if echo is not None:
            log.info("%s", echo.summary())
        if settings.stats_json is not None:
            _write_stats(settings.stats_json, stats.summary(time.monotonic()))
        log.info("voicelive exiting: %s", outcome)


def _start_tools(
    settings: Settings,
    ids: ce.EventIds,
    outbound: Outbound,
    view: View,
    stats: ChatStats,
    dispatcher: Dispatcher,
) -> asyncio.Future[ToolDriver] | None:
    """With ``--mcp-config``: start the MCP servers now, alongside the audio check and the
    connection set-up (the SDK and the servers take a second or two). None without tools:
    then nothing of :mod:`voicelive.tools` is imported."""
    if settings.tools is None:
        return None
    from voicelive.tools.in_chat import open_tools

    return asyncio.ensure_future(
        open_tools(settings.tools, ids, outbound.event, view, stats, lambda: dispatcher.transcript)
    )


def _write_stats(path: Path, summary: dict[str, Any]) -> None:
    """Write ``--stats-json`` whole or not at all (a temporary file, then a rename), private."""
    from voicelive.private_files import write_atomic_text

    try:
        write_atomic_text(path, json.dumps(summary, indent=2) + "\n")
    except OSError as exc:
        log.warning("could not write --stats-json %s: %s", path, exc)
    else:
        log.info("statistics written to %s", path)
