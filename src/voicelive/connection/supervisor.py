"""The connection supervisor: connect → set up → replay → serve → reconnect or roll over.

A connection is one attempt; the audio pipeline and the conversation core outlive it. The
supervisor owns the attempts and nothing else:

- **serve**: one sender empties the ordered :class:`~voicelive.connection.outbound.Outbound` queue
  (microphone audio and client events, in their order) into the current connection, and
  every frame received goes to the dispatcher;
- **reconnect** on any close the user did not ask for (a TCP reset, a keepalive timeout, any
  close code, even a clean one): exponential backoff with jitter
  (:mod:`~voicelive.connection.backoff`), a fresh handshake each time (new credential
  headers and request id), ``session.update`` again, the history replayed, and only then the
  microphone resumed. Refusals (400, 401, 403, 404, a rejected ``session.update``) end the
  chat with their own error; 429 is retried, honouring ``Retry-After``;
- **roll over** before ``expires_at``, or before Microsoft's 60-minute cap on a connection
  (:attr:`Timing.session_cap_s`) when that comes first or the service sends no ``expires_at``
  (API versions before 2026-07-15): the next session is opened and set up while the old one
  still serves, and the switch happens at a quiet moment (the core says when: nobody
  speaking, nothing playing), or, failing one before a safety margin, once the current
  reply's audio has all arrived. A block whose send the switch interrupted goes to the new
  session.

It asks the core only questions (:class:`CoreQuestions`) and tells the dispatcher only
inputs (frames, :class:`~voicelive.protocol.actions.SessionStarted`,
:class:`~voicelive.protocol.actions.ConnectionDropped`).

Cancel it to stop (quit); :meth:`close` then closes the current connection with 1000.
Loop thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from voicelive.audio.pipeline import AudioPipeline
from voicelive.auth import Auth
from voicelive.config.settings import Settings
from voicelive.connection.backoff import Backoff
from voicelive.connection.client import VoiceLiveConnection
from voicelive.connection.outbound import Outbound
from voicelive.connection.session_setup import SessionInfo, replay_events, set_up
from voicelive.dispatcher import Dispatcher
from voicelive.errors import ConnectError, ConnectionLost
from voicelive.protocol import actions as act
from voicelive.protocol import client_events as ce
from voicelive.protocol.history import History
from voicelive.terminal.view import View

log = logging.getLogger(__name__)


class CoreQuestions(Protocol):
    """What the supervisor asks the conversation core (read-only)."""

    @property
    def idle(self) -> bool:
        """A quiet moment: nobody speaking, no reply due or running, nothing playing."""

    @property
    def active_response(self) -> str | None:
        """The response in progress, if any."""

    @property
    def history(self) -> History:
        """What was said and heard, for a new session's replay."""


class ToolsOnReconnect(Protocol):
    """What the supervisor needs of the tools (:class:`voicelive.tools.driver.ToolDriver`)."""

    session_tools: list[dict[str, Any]]

    def replay_events(self) -> list[dict[str, Any]]:
        """The calls so far, for a new session (function_call items and their outputs)."""

    def reconnected(self) -> None:
        """The new session is current and has the replay: pending outputs may go to it."""


@dataclass(frozen=True)
class Live:
    """An open connection whose session is set up."""

    conn: VoiceLiveConnection
    info: SessionInfo
    opened_at: float = 0.0
    """The clock when its connect began; the session cap counts from here."""

    def ends_at(self, cap_s: float) -> float:
        """When the service ends it: ``expires_at``, or the cap from connect if sooner."""
        capped = self.opened_at + cap_s
        return capped if self.info.expires_at is None else min(self.info.expires_at, capped)


@dataclass(frozen=True)
class Timing:
    """Lead times, as parameters so tests can shrink them (seconds)."""

    rollover_lead_s: float = 120.0
    """Open the next session this long before ``expires_at`` (at most half the lifetime)."""
    rollover_safety_s: float = 15.0
    """Switch by this long before ``expires_at`` even without a quiet moment."""
    expiry_warning_s: float = 60.0
    """Without reconnects: warn this long before the service ends the session."""
    session_cap_s: float = 60 * 60.0
    """Voice Live's quota: a connection lasts at most 60 minutes (protocol.md C1), whatever
    the API version says about ``expires_at``."""


DEFAULT_TIMING = Timing()


class Supervisor:
    """See the module docstring."""

    def __init__(
        self,
        settings: Settings,
        auth: Auth,
        ids: ce.EventIds,
        core: CoreQuestions,
        dispatcher: Dispatcher,
        outbound: Outbound,
        pipeline: AudioPipeline,
        view: View,
        *,
        timing: Timing = DEFAULT_TIMING,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        tools: ToolsOnReconnect | None = None,
        tools_ready: Awaitable[ToolsOnReconnect] | None = None,
    ) -> None:
        """``tools_ready``: the tools still starting; the first attempt awaits it after the
        handshake and before ``session.update`` (which declares them), so the servers start
        while the connection is being opened."""
        self.settings = settings
        self.auth = auth
        self.ids = ids
        self.core = core
        self.dispatcher = dispatcher
        self.outbound = outbound
        self.pipeline = pipeline
        self.view = view
        self.timing = timing
        self._rng = rng
        self._clock = clock
        self.tools = tools
        self._tools_ready = tools_ready
        self.current: Live | None = None
        self._prepared: Live | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self.reconnects = 0
        self.rollovers = 0

    # -------------------------------------------------------------- attempts

    async def _open(self, *, first: bool = False) -> Live:
        """One attempt: handshake (fresh headers and request id) and session set-up."""
        opened_at = self._clock()
        conn = await VoiceLiveConnection.open(self.settings.connection, self.auth)
        if first:
            self.view.status(act.State.STARTING)
        try:
            if self._tools_ready is not None:
                self.tools = await self._tools_ready
                self._tools_ready = None
            info = await set_up(
                conn,
                self.settings,
                self.ids,
                self.settings.connection.open_timeout_s,
                self.tools.session_tools if self.tools is not None else None,
            )
        except BaseException:
            await conn.close(1000, "")
            raise
        return Live(conn, info, opened_at)

    async def connect_first(self) -> Live:
        """The first connection. Only throttling (429) is retried: any other failure of the
        very first attempt is most likely the configuration, so it ends with its sentence."""
        # a few tries only: a service that keeps throttling should not hold a starting user
        backoff = Backoff(min(3, self.settings.connection.reconnect_attempts), self._rng)
        while True:
            try:
                live = await self._open(first=True)
            except ConnectError as exc:
                delay = backoff.next_delay(exc.retry_after_s) if exc.status == 429 else None
                if delay is None:
                    raise
                log.info("throttled (429); retrying in %.2f s", delay)
                self.view.status(f"throttled; retrying in {delay:.0f} s")
                await asyncio.sleep(delay)
                continue
            # a first session replays only what --resume put into the history
            self._go_live(live, replay=len(self.core.history) > 0)
            return live

    def _go_live(self, live: Live, *, replay: bool) -> None:
        """Make ``live`` current: drop stale client events, replay, resume the microphone."""
        stale = self.outbound.drop_events()
        if stale:
            log.info("not sent to the new session (meant for the old one): %s", stale)
        if replay:
            events = replay_events(self.core.history, self.settings.replay, self.ids)
            if self.tools is not None:  # tool calls after the text: their order is not kept
                events += self.tools.replay_events()
            self.outbound.events_first(events)  # the history before any new speech
            log.info("replay: %d item(s) queued for the new session", len(events))
        self.current = live
        self.outbound.new_session()  # a new session's input audio timeline starts at 0
        self.dispatcher.feed(act.SessionStarted(live.info.silence_ms))
        if replay and self.tools is not None:
            self.tools.reconnected()  # outputs of calls still in flight go to this session
        self.pipeline.resume_capture()

    # -------------------------------------------------------------- the running loop

    async def run(self, live: Live) -> None:
        """Serve ``live`` and its successors until cancelled; raise when giving up."""
        while True:
            try:
                successor = await self._serve(live)
            except ConnectionLost as lost:
                if not self.settings.connection.reconnect:
                    raise
                live = await self._recover(lost)
            else:
                # switched only now that the old sender has stopped (and put back what it
                # had not finished sending), so the replay goes ahead of it
                self._switch(live, successor)
                live = successor

    async def _serve(self, live: Live) -> Live:
        """Run one connection; return its successor for a rollover, raise ConnectionLost."""
        conn = live.conn
        tasks = [
            asyncio.ensure_future(self._send(conn)),
            asyncio.ensure_future(self._receive(conn)),
        ]
        expiry = live.ends_at(self.timing.session_cap_s)
        planner: asyncio.Future[Live | None] | None = None
        if self.settings.connection.reconnect:
            planner = asyncio.ensure_future(self._plan_rollover(expiry))
        else:
            tasks.append(asyncio.ensure_future(self._warn_before_expiry(expiry)))
        watched: set[asyncio.Future[Any]] = {*tasks, *([planner] if planner else [])}
        try:
            while True:
                done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    watched.discard(task)
                    if task is planner:
                        successor = planner.result()
                        if successor is not None:
                            return successor
                    else:
                        task.result()  # raises ConnectionLost (or a bug)
        finally:
            for task in watched:
                task.cancel()
            await asyncio.gather(*watched, return_exceptions=True)

    async def _send(self, conn: VoiceLiveConnection) -> None:
        """Send the outbound queue in order; a send a switch cut short goes to the next one."""

        async def send(item: bytes | dict[str, Any]) -> None:
            await conn.send(ce.audio_append(item) if isinstance(item, bytes) else item)

        await self.outbound.pump(send)

    async def _receive(self, conn: VoiceLiveConnection) -> None:
        while True:
            self.dispatcher.on_frame(await conn.recv())

    # -------------------------------------------------------------- reconnect

    async def _recover(self, lost: ConnectionLost) -> Live:
        """After a drop: back off, reconnect, set up, replay. Raise when it cannot."""
        started = time.monotonic()
        old = self.current
        self.current = None
        self.pipeline.pause_capture()  # audio from the gap is not sent late
        self.dispatcher.feed(act.ConnectionDropped())
        if old is not None:
            self._close_in_background(old.conn, 1000)
        code = "no close frame" if lost.close_code is None else f"close {lost.close_code}"
        log.warning("connection lost (%s): %s", code, lost)
        self.view.notice("warning", f"connection lost ({code}); reconnecting…")
        if self._prepared is not None:  # a rollover had the next session ready
            live, self._prepared = self._prepared, None
            return self._reconnected(live, started, attempts=0)
        backoff = Backoff(self.settings.connection.reconnect_attempts, self._rng)
        retry_after: float | None = None
        last: Exception = lost
        while (delay := backoff.next_delay(retry_after)) is not None:
            self.view.status(f"reconnecting (attempt {backoff.attempts})…")
            log.info("reconnect attempt %d in %.3f s", backoff.attempts, delay)
            await asyncio.sleep(delay)  # quit cancels this task, so the sleep is cancellable
            try:
                live = await self._open()
            except ConnectError as exc:
                if not exc.retryable:
                    raise
                log.info("reconnect attempt %d failed: %s", backoff.attempts, exc)
                retry_after, last = exc.retry_after_s, exc
                continue
            except ConnectionLost as exc:  # dropped again during the set-up
                log.info("reconnect attempt %d dropped: %s", backoff.attempts, exc)
                retry_after, last = None, exc
                continue
            return self._reconnected(live, started, backoff.attempts)
        raise ConnectionLost(
            f"The connection dropped and {backoff.attempts} attempts to reconnect failed "
            f"({last}); check the network and start voicelive again.",
            close_code=lost.close_code,
        )

    def _reconnected(self, live: Live, started: float, attempts: int) -> Live:
        self._go_live(live, replay=True)
        self.reconnects += 1
        gap = time.monotonic() - started
        log.info("reconnected after %.3f s (attempt %d)", gap, attempts)
        self.view.notice("info", f"reconnected after {gap:.1f} s; the conversation goes on")
        self.view.status(act.State.LISTENING)
        return live

    # -------------------------------------------------------------- rollover

    async def _plan_rollover(self, expires_at: float) -> Live | None:
        """Open the next session ahead of ``expires_at`` and return it at a good moment."""
        remaining = expires_at - self._clock()
        lead = min(self.timing.rollover_lead_s, max(0.0, remaining / 2))
        await asyncio.sleep(max(0.0, remaining - lead))  # a timer to a known moment
        log.info("rollover: opening the next session (%.0f s before expiry)", lead)
        try:
            self._prepared = await self._open()
        except (ConnectError, ConnectionLost) as exc:
            log.warning("rollover: the next session could not be opened (%s)", exc)
            return None  # the old one expires and the reconnect path takes over
        safety = min(self.timing.rollover_safety_s, lead / 4)
        quiet = await self._wait_until(lambda: self.core.idle, expires_at - safety)
        if not quiet:
            log.info("rollover: no quiet moment; switching once the reply's audio is in")
            await self._wait_until(lambda: self.core.active_response is None, expires_at - 1.0)
        prepared, self._prepared = self._prepared, None
        return prepared

    async def _wait_until(self, condition: Callable[[], bool], deadline: float) -> bool:
        """Wait until ``condition()`` holds (re-checked on every handled input) or the deadline."""
        while not condition():
            left = deadline - self._clock()
            if left <= 0:
                return False
            changed = self.dispatcher.changed
            changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await changed.wait()
        return True

    def _switch(self, old: Live, new: Live) -> None:
        self._go_live(new, replay=True)
        self._close_in_background(old.conn, 1000)
        self.rollovers += 1
        log.info("rollover: switched to session %s", new.info.id)

    async def _warn_before_expiry(self, expires_at: float) -> None:
        wait_s = expires_at - self._clock() - self.timing.expiry_warning_s
        if wait_s > 0:
            await asyncio.sleep(wait_s)  # a timer to a known moment, not a wait for an event
        remaining = max(0, round(expires_at - self._clock()))
        self.view.notice(
            "warning",
            f"The service ends this session in {remaining} s (its time limit); "
            "start voicelive again to go on.",
        )

    # -------------------------------------------------------------- closing

    def _close_in_background(self, conn: VoiceLiveConnection, code: int) -> None:
        task = asyncio.ensure_future(conn.close(code, ""))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close the current connection (1000) and any half-open one. Never raises."""
        for live in (self.current, self._prepared):
            if live is not None:
                await live.conn.close(1000, "")
        self.current = self._prepared = None
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
