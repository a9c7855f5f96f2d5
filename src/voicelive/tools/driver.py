"""The tools at run time: the call loop's actions carried out on the event loop. I/O shell.

:func:`start_tools` reads nothing itself; given a parsed :class:`~voicelive.tools.config.McpConfig`
it imports the SDK (in a worker thread, so the event loop keeps serving the connection), starts
the local servers and returns a :class:`ToolDriver` plus the ``session.tools`` list and the
sentences for servers left out. The chat then needs these seams:

- ``session.tools``: :attr:`ToolDriver.session_tools` goes into ``session.update``;
- every server frame: :meth:`ToolDriver.on_frame` (tool events are picked out, others ignored);
- every typed line: :meth:`ToolDriver.on_line` first; True means it answered the question;
- ``/cancel``: :meth:`ToolDriver.cancel`; a user turn (speech started, text sent):
  :meth:`ToolDriver.user_turn`; a ``response.create`` the chat sends itself:
  :meth:`ToolDriver.response_requested`;
- a reconnect: send :meth:`ToolDriver.replay_events` on the new session with the history,
  then call :meth:`ToolDriver.reconnected`;
- every exit: ``await`` :meth:`ToolDriver.aclose` (stops the servers; idempotent).

Everything runs on the event loop's thread; callbacks (``send``, ``on_prompt``, ``on_notice``,
``on_record``) are called there and must not block. ``send`` takes a client event dict; the
chat's outbound path serialises it.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from voicelive.config.settings import DEFAULT_TOOL_TIMEOUT_S
from voicelive.protocol import tool_events as wire
from voicelive.tools.approval import DEFAULT_TIMEOUT_S, ApprovalPolicy, ApprovalQueue
from voicelive.tools.call_loop import DEFAULT_MAX_CALLS_PER_TURN, CallLoop
from voicelive.tools.catalog import DeclaredTool, ToolCatalog
from voicelive.tools.config import DEFAULT_START_TIMEOUT_S, McpConfig
from voicelive.tools.loop_events import (
    Action,
    ApprovalAnswered,
    ApprovalExpired,
    CancelRequested,
    CancelTool,
    LocalEvent,
    Notice,
    PromptChanged,
    Reconnected,
    Recorded,
    ResponseRequested,
    RunTool,
    SendFunctionOutput,
    SendMcpApproval,
    SendResponseCreate,
    ToolCallRecord,
    ToolFinished,
    ToolOutcome,
    UserTurnStarted,
)
from voicelive.tools.results import DEFAULT_MAX_CHARS

logger = logging.getLogger(__name__)

ANSWERS = frozenset({"y", "n", "a"})


class ToolServers(Protocol):
    """What the driver needs of :class:`voicelive.tools.manager.McpServers`."""

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> ToolOutcome: ...

    async def aclose(self) -> None: ...


@dataclass
class ToolSettings:
    """The user's choices (flags / variables), with the documented defaults."""

    approve: Sequence[str] = ()
    call_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S
    approval_timeout_s: float = DEFAULT_TIMEOUT_S
    max_calls_per_turn: int = DEFAULT_MAX_CALLS_PER_TURN
    max_result_chars: int = DEFAULT_MAX_CHARS
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S


@dataclass
class Callbacks:
    send: Callable[[dict[str, Any]], None]
    on_prompt: Callable[[str | None], None] = lambda _text: None
    on_notice: Callable[[str], None] = lambda _text: None
    on_record: Callable[[ToolCallRecord], None] = lambda _record: None


class ToolDriver:
    """See the module docstring."""

    def __init__(
        self,
        catalog: ToolCatalog,
        servers: ToolServers,
        callbacks: Callbacks,
        ids: wire.EventIdSource,
        settings: ToolSettings | None = None,
        session_tools: list[dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or ToolSettings()
        queue = ApprovalQueue(
            ApprovalPolicy(self.settings.approve), self.settings.approval_timeout_s
        )
        self._loop = CallLoop(catalog, queue, self.settings.max_calls_per_turn)
        self.tool_names = [tool.display for tool in catalog]
        """``server.tool`` of every declared function tool (what ``--approve`` matches)."""
        self._servers = servers
        self._cb = callbacks
        self._ids = ids
        self._clock = clock
        self.session_tools = session_tools if session_tools is not None else catalog.session_tools()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._prompt_timer: asyncio.TimerHandle | None = None
        self._prompt_id: int | None = None
        self._closed = False

    # ----------------------------------------------------------------- seams

    @property
    def asking(self) -> bool:
        """A question is on screen (a typed y/n/a answers it)."""
        return self._prompt_id is not None

    def status(self) -> str | None:
        """The status line text: the question, or ``running codes.lookup_code · 2.4 s``."""
        return self._loop.status(self._clock())

    def on_frame(self, frame: dict[str, Any]) -> None:
        """Every decoded server frame; a malformed tool event is logged and skipped."""
        try:
            event = wire.parse_tool_event(frame)
        except wire.MalformedToolEvent as exc:
            logger.warning("ignored a malformed tool event: %s", exc)
            return
        if event is not None:
            self._feed(event)

    def on_line(self, line: str) -> bool:
        """A typed line; True if it was y/n/a while a question is on screen (consumed)."""
        key = line.strip().lower()
        if self._prompt_id is None or key not in ANSWERS:
            return False
        self._feed(ApprovalAnswered(self._prompt_id, key))
        return True

    def cancel(self) -> bool:
        """``/cancel``; True if a tool was running or waiting for an answer."""
        busy = bool(self._tasks) or self._prompt_id is not None
        self._feed(CancelRequested())
        return busy

    def user_turn(self) -> None:
        """The user spoke or typed (speech started, a message sent)."""
        self._feed(UserTurnStarted())

    def response_requested(self) -> None:
        """The chat itself sent a ``response.create`` (after a typed message)."""
        self._feed(ResponseRequested())

    def replay_events(self) -> list[dict[str, Any]]:
        """Client events replaying the calls on a new session (function_call [+ output])."""
        events: list[dict[str, Any]] = []
        for call in self._loop.history():
            events.append(
                wire.function_call_item(self._ids, call.call_id, call.name, call.arguments)
            )
            if call.output is not None:
                events.append(wire.function_call_output(self._ids, call.call_id, call.output))
        return events

    def reconnected(self) -> None:
        """After :meth:`replay_events` went out on the new session."""
        self._feed(Reconnected())

    async def aclose(self) -> None:
        """Cancel running tools, drop the question, stop every server. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._clear_prompt_timer()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._servers.aclose()

    # ----------------------------------------------------------------- actions

    def _feed(self, event: wire.ToolServerEvent | LocalEvent) -> None:
        if self._closed:
            return
        for action in self._loop.feed(event, self._clock()):
            self._do(action)

    def _do(self, action: Action) -> None:
        match action:
            case SendFunctionOutput(call_id=call_id, output=output, previous_item_id=previous):
                self._cb.send(wire.function_call_output(self._ids, call_id, output, previous))
            case SendResponseCreate():
                self._cb.send(wire.response_create(self._ids))
            case SendMcpApproval(approval_request_id=request_id, approve=approve):
                self._cb.send(wire.mcp_approval_response(self._ids, request_id, approve))
            case RunTool(call_id=call_id, tool=tool, arguments=arguments):
                self._tasks[call_id] = asyncio.create_task(
                    self._run(call_id, tool, arguments), name=f"tool-{tool.display}"
                )
            case CancelTool(call_id=call_id):
                task = self._tasks.pop(call_id, None)
                if task is not None:
                    task.cancel()
            case PromptChanged(ask=ask):
                self._clear_prompt_timer()
                if ask is None:
                    self._prompt_id = None
                    self._cb.on_prompt(None)
                else:
                    self._prompt_id = ask.ask_id
                    self._prompt_timer = asyncio.get_running_loop().call_later(
                        ask.timeout_s, self._feed, ApprovalExpired(ask.ask_id)
                    )
                    self._cb.on_prompt(ask.prompt)
            case Notice(text=text):
                logger.info("%s", text)
                self._cb.on_notice(text)
            case Recorded(record=record):
                logger.info("tool %s: %s in %.3f s", record.name, record.outcome, record.duration_s)
                self._cb.on_record(record)

    async def _run(self, call_id: str, tool: DeclaredTool, arguments: dict[str, Any]) -> None:
        try:
            outcome = await self._servers.call(tool.server, tool.tool, arguments)
        except asyncio.CancelledError:
            raise  # /cancel or exit: the loop has already decided this call's output
        except Exception as exc:  # the manager reports trouble as outcomes; this is a bug guard
            logger.exception("tool %s failed unexpectedly", tool.display)
            outcome = ToolOutcome("error", f"{type(exc).__name__} in voicelive")
        finally:
            self._tasks.pop(call_id, None)
        self._feed(ToolFinished(call_id, outcome))

    def _clear_prompt_timer(self) -> None:
        if self._prompt_timer is not None:
            self._prompt_timer.cancel()
            self._prompt_timer = None


@dataclass
class StartedTools:
    driver: ToolDriver
    failures: list[str] = field(default_factory=list)
    """One sentence per server left out (show each, then go on)."""
    seconds: Mapping[str, float] = field(default_factory=dict)


async def start_tools(
    config: McpConfig,
    callbacks: Callbacks,
    ids: wire.EventIdSource,
    settings: ToolSettings | None = None,
    environ: Mapping[str, str] | None = None,
) -> StartedTools:
    """Import the SDK off the loop, start the local servers, build the catalog and the driver.

    Raises nothing for a server's trouble (see :attr:`StartedTools.failures`). Cancel-safe: a
    cancellation while starting stops the servers already started.
    """
    settings = settings or ToolSettings()
    manager = await asyncio.to_thread(importlib.import_module, "voicelive.tools.manager")
    servers = manager.McpServers(
        config.local,
        start_timeout_s=settings.start_timeout_s,
        call_timeout_s=settings.call_timeout_s,
        max_result_chars=settings.max_result_chars,
        environ=environ,
    )
    try:
        report = await servers.start()
    except BaseException:
        await servers.aclose()
        raise
    catalog = ToolCatalog(report.tools, {s.name: s.allowed_tools for s in config.local})
    if catalog.hidden:
        logger.info("not exposed (allowedTools): %s", ", ".join(catalog.hidden))
    driver = ToolDriver(
        catalog, servers, callbacks, ids, settings, catalog.session_tools(config.service)
    )
    return StartedTools(driver, report.failures, report.seconds)
