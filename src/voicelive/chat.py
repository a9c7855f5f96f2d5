"""``run_chat``: the orchestrator, the only place that knows all the parts.

::

    mic ─► capture queue ─► sender ─────────────► websocket ─► Voice Live
    speaker ◄─ jitter buffer ◄─ actions ◄─ Conversation ◄─ receiver ◄─┘
                                   └─► view (transcript, status)
    keyboard / SIGINT / SIGTERM ─► quit ─► orderly shutdown

Sequence: (start the simulator when asked) → resolve devices → connect → wait for
``session.created`` → send ``session.update`` → wait for ``session.updated`` → open the audio
streams → run the live session (live_session.py: sender, receiver, control sender, keyboard,
device watchdog) until quit or failure → close the socket with 1000, the streams, the
credential, the view. Quit is honoured at every step, including while connecting. Errors
leave as :class:`VoiceLiveError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from voicelive.auth import Auth, make_auth
from voicelive.connection import VoiceLiveConnection
from voicelive.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    ConnectError,
    ProtocolError,
    ServerError,
)
from voicelive.live_session import AudioIO, LiveSession, Quit
from voicelive.protocol import events as ev
from voicelive.protocol.session import build_session
from voicelive.settings import Secret, Settings
from voicelive.view import TerminalView, View

log = logging.getLogger(__name__)
T = TypeVar("T")


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
) -> dict[str, Any]:
    """session.created → session.update → session.updated, or a clear error.

    Returns the session object of ``session.created`` (its ``id``, ``expires_at``…).
    """

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
    return session


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
                created = await _until_quit(quit, _setup_session(conn, settings, ids, wait_s))
                if created is None:
                    return quit.code
                expires_at = created.get("expires_at")
                session = LiveSession(conn, settings, view, audio, quit, ids)
                if isinstance(expires_at, int | float) and not isinstance(expires_at, bool):
                    session.expires_at = float(expires_at)
                await session.run(stdin_fd)
                return quit.code
    finally:
        view.close()
