"""The tool call loop: every call answered exactly once, then one ``response.create``. Pure.

A sans-I/O state machine: :meth:`CallLoop.feed` takes a wire record
(:mod:`voicelive.protocol.tool_events`) or a local event (:mod:`voicelive.tools.loop_events`)
plus the current monotonic time, and returns the actions for the shell, in order. No asyncio,
no clock, no I/O; not thread-safe (the event loop's core owns it).

The rules (issue 16, protocol addendum A2/A3):

- A call is taken from ``response.function_call_arguments.done`` (or, as a fallback, from the
  completed ``function_call`` items of ``response.done``); its name comes from the
  ``function_call`` item. A call whose response ended before its arguments were done is not run
  and gets no output (the service cut it off; the user's new turn follows).
- A complete call is asked about (unless pre-approved), then run at once, even while its
  response is still streaming or after a barge-in cancelled it: the result still goes back.
- Outputs are sent only after that response's ``response.done``; each ``call_id`` gets exactly
  one: the result, ``error: …``, ``timed out after N s``, ``not approved by the user``,
  ``cancelled by the user``, an unknown-name error, or the per-turn cap's refusal.
- When every call of a response has its output, one ``response.create`` is due; it is held
  while any response is active (or requested: after a ``response.create`` until its
  ``response.created``) and sent at the next ``response.done``. Several responses finishing
  together still make one. One refused as "active response" is sent again after the next
  ``response.done``.
- An ``mcp_approval_request`` gets the same question; the answer goes back as
  ``mcp_approval_response``. A denial, and each ``response.mcp_call.completed``/``.failed``
  (deduplicated by ``item_id``), make a ``response.create`` due the same way.
- Past the cap on calls per user turn, calls are refused with an output; one more
  ``response.create`` is allowed so the model can say so, then the loop stops asking for more.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from voicelive.protocol import tool_events as wire
from voicelive.tools.approval import ApprovalQueue, Ask
from voicelive.tools.catalog import DeclaredTool, ToolCatalog
from voicelive.tools.loop_events import (
    Action,
    ApprovalAnswered,
    ApprovalExpired,
    CancelRequested,
    CancelTool,
    HistoryCall,
    LocalEvent,
    Notice,
    Outcome,
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
    UserTurnStarted,
)
from voicelive.tools.service_calls import ServiceCalls

logger = logging.getLogger(__name__)

DEFAULT_MAX_CALLS_PER_TURN = 10
MAX_HISTORY_CALLS = 50
CANCELLED = "cancelled by the user"
DENIED = "not approved by the user"

State = Literal["collecting", "asking", "running", "ready", "sent", "dropped"]


@dataclass
class _Call:
    call_id: str
    item_id: str
    name: str
    response_id: str | None
    arguments: str | None = None
    tool: DeclaredTool | None = None
    state: State = "collecting"
    output: str = ""
    outcome: Outcome = "ok"
    started_at: float | None = None
    duration_s: float = 0.0

    @property
    def display(self) -> str:
        return self.tool.display if self.tool else self.name


class CallLoop:
    """See the module docstring."""

    def __init__(
        self,
        catalog: ToolCatalog,
        approvals: ApprovalQueue,
        max_calls_per_turn: int = DEFAULT_MAX_CALLS_PER_TURN,
    ) -> None:
        self._catalog = catalog
        self._approvals = approvals
        self._cap = max_calls_per_turn
        self._calls: dict[str, _Call] = {}
        self._finished_responses: set[str] = set()
        self._active: str | None = None
        self._requested = False
        """A response.create went out and no response.created has come since."""
        self._ours_unsettled = False
        """Our response.create went out and no response.done has come since: a refusal
        ("active response") in that window is ours, and it is sent again."""
        self._create_due = False
        self._turn_calls = 0
        self._refused_this_turn = False
        self._create_after_refusal_used = False
        self._service = ServiceCalls()
        self._listings: dict[str, str] = {}  # mcp_list_tools item id -> server label
        self._shown: Ask | None = None

    # ----------------------------------------------------------------- queries

    @property
    def active_response(self) -> str | None:
        return self._active

    def running(self, now: float) -> list[tuple[str, float]]:
        """``(server.tool, seconds so far)`` of each running call, oldest first."""
        return [
            (c.display, now - c.started_at)
            for c in self._calls.values()
            if c.state == "running" and c.started_at is not None
        ]

    def status(self, now: float) -> str | None:
        """The status line: the question on screen, else ``running codes.lookup_code · 2.4 s``."""
        if self._approvals.current is not None:
            return self._approvals.current.prompt
        running = self.running(now)
        if not running:
            return None
        name, seconds = running[0]
        more = f" (+{len(running) - 1} more)" if len(running) > 1 else ""
        return f"running {name} · {seconds:.1f} s{more}"

    def history(self) -> list[HistoryCall]:
        """The calls to replay on a new session, oldest first (at most MAX_HISTORY_CALLS)."""
        calls = [
            HistoryCall(
                c.call_id, c.name, c.arguments or "", c.output if c.state == "sent" else None
            )
            for c in self._calls.values()
            if c.arguments is not None and c.state != "dropped"
        ]
        return calls[-MAX_HISTORY_CALLS:]

    # ----------------------------------------------------------------- input

    def feed(self, event: wire.ToolServerEvent | LocalEvent, now: float) -> list[Action]:
        """Apply one event; return the actions, in the order they must be carried out."""
        out: list[Action] = []
        match event:
            case wire.ResponseStarted(response_id=rid):
                self._active = rid
                self._requested = False
            case wire.ResponseCreateRefused():
                self._requested = False
                if self._ours_unsettled:
                    self._ours_unsettled = False
                    self._create_due = True  # again, at the next response.done
            case ResponseRequested():
                self._requested = True
            case wire.FunctionCallSeen():
                self._seen(event)
            case wire.FunctionArgumentsDone():
                self._arguments_done(event, now, out)
            case wire.ResponseFinished():
                self._response_finished(event, now, out)
            case wire.McpApprovalRequested():
                self._mcp_request(event, out)
            case wire.McpCallFinished():
                if self._service.finished(event):
                    self._create_due = True
            case wire.McpCallSeen():
                self._service.seen(event, now)
            case wire.McpCallItemDone():
                record = self._service.item_done(event, now)
                if record is not None:
                    out.append(Recorded(record))
            case wire.McpListToolsFailed(item_id=item_id):
                label = self._listings.get(item_id, item_id)
                out.append(
                    Notice(
                        f"The service could not reach the MCP server {label!r}; its tools "
                        "are not available (check its url, and that Azure can reach it)."
                    )
                )
            case wire.McpToolsListing(item_id=item_id, server_label=label):
                self._listings[item_id] = label or item_id
            case ToolFinished():
                self._tool_finished(event, now)
            case ApprovalAnswered(ask_id=ask_id, key=key):
                decisions = self._approvals.answer(ask_id, key)
                for d in decisions or []:
                    self._decided(d.subject, d.approved, now, out)
            case ApprovalExpired(ask_id=ask_id):
                for d in self._approvals.expire(ask_id):
                    self._decided(d.subject, d.approved, now, out)
            case CancelRequested():
                self._cancel(now, out)
            case UserTurnStarted():
                self._turn_calls = 0
                self._refused_this_turn = False
                self._create_after_refusal_used = False
            case Reconnected():
                self._reconnected(now, out)
        self._flush(now, out)
        return out

    # ----------------------------------------------------------------- calls

    def _seen(self, event: wire.FunctionCallSeen) -> None:
        call = self._calls.get(event.call_id)
        if call is None:
            self._calls[event.call_id] = _Call(
                event.call_id, event.item_id, event.name, event.response_id or self._active
            )
        elif call.response_id is None and event.response_id:
            call.response_id = event.response_id

    def _arguments_done(
        self, event: wire.FunctionArgumentsDone, now: float, out: list[Action]
    ) -> None:
        call = self._calls.get(event.call_id)
        if call is None:
            call = self._calls[event.call_id] = _Call(
                event.call_id,
                event.item_id,
                event.name or "",
                event.response_id or self._active,
            )
        if call.state != "collecting":
            return  # a second .done, or the response.done fallback for a call already taken
        if call.response_id is None:
            call.response_id = event.response_id or self._active
        if not call.name and event.name:
            call.name = event.name
        call.arguments = event.arguments
        call.tool = self._catalog.lookup(call.name)
        self._turn_calls += 1
        if self._turn_calls > self._cap:
            self._refused_this_turn = True
            self._settle(
                call,
                "limit",
                f"not run: the limit of {self._cap} tool calls per turn was reached",
                now,
            )
            return
        if call.tool is None:
            self._settle(call, "unknown", f"error: there is no tool named {call.name!r}", now)
            return
        try:
            parsed = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            self._settle(call, "error", "error: the arguments are not a JSON object", now)
            return
        if self._approvals.submit(f"call:{call.call_id}", call.tool.display, call.arguments):
            self._run(call, parsed, now, out)
        else:
            call.state = "asking"

    def _run(self, call: _Call, arguments: dict[str, Any], now: float, out: list[Action]) -> None:
        assert call.tool is not None
        call.state = "running"
        call.started_at = now
        out.append(RunTool(call.call_id, call.tool, arguments))

    def _tool_finished(self, event: ToolFinished, now: float) -> None:
        call = self._calls.get(event.call_id)
        if call is None or call.state != "running":
            return  # cancelled or already answered: exactly one output per call
        outcome = event.outcome
        if outcome.kind == "ok":
            self._settle(call, "ok", outcome.text, now)
        elif outcome.kind == "timeout":
            self._settle(call, "timeout", f"timed out after {outcome.timeout_s:g} s", now)
        else:
            self._settle(call, "error", f"error: {outcome.text}", now)

    def _settle(self, call: _Call, outcome: Outcome, output: str, now: float) -> None:
        call.state = "ready"
        call.outcome = outcome
        call.output = output
        if call.started_at is not None:
            call.duration_s = max(0.0, now - call.started_at)

    def _response_finished(
        self, event: wire.ResponseFinished, now: float, out: list[Action]
    ) -> None:
        if event.completed:
            for done in event.calls:  # fallback for a call whose .done never came
                self._seen(
                    wire.FunctionCallSeen(
                        done.call_id, done.item_id, done.name or "", event.response_id
                    )
                )
                self._arguments_done(done, now, out)
        self._finished_responses.add(event.response_id)
        self._ours_unsettled = False
        if self._active == event.response_id:
            self._active = None
        for call in self._calls.values():
            if call.response_id == event.response_id and call.state == "collecting":
                call.state = "dropped"
                logger.info(
                    "call %s (%s) cut off before its arguments: not run", call.call_id, call.name
                )

    def _decided(self, subject: str, approved: bool, now: float, out: list[Action]) -> None:
        kind, _, key = subject.partition(":")
        if kind == "mcp":
            self._mcp_decided(key, approved, out)
            return
        call = self._calls.get(key)
        if call is None or call.state != "asking":
            return
        if not approved:
            self._settle(call, "denied", DENIED, now)
            return
        self._run(call, json.loads(call.arguments or "{}"), now, out)

    def _cancel(self, now: float, out: list[Action]) -> None:
        for call in self._calls.values():
            if call.state == "running":
                out.append(CancelTool(call.call_id))
                self._settle(call, "cancelled", CANCELLED, now)
            elif call.state == "asking":
                self._approvals.withdraw(f"call:{call.call_id}")
                self._settle(call, "cancelled", CANCELLED, now)
        for request_id in [
            s.partition(":")[2] for s in self._approvals.subjects() if s.startswith("mcp:")
        ]:
            self._approvals.withdraw(f"mcp:{request_id}")
            self._mcp_decided(request_id, False, out)

    def _reconnected(self, now: float, out: list[Action]) -> None:
        # The old socket took its responses with it: nothing is active, every group is over.
        # A response.create of ours that had not led to a finished response is asked again
        # (it may have been dropped unsent, or its response died with the socket).
        self._active = None
        self._create_due = self._create_due or self._ours_unsettled
        self._requested = self._ours_unsettled = False
        for call in self._calls.values():
            if call.response_id is not None:
                self._finished_responses.add(call.response_id)
            if call.state == "collecting":
                call.state = "dropped"
            elif call.state != "sent":
                # its item was the old session's: the new one knows the call only as the
                # replayed function_call item, so its output names no previous item
                call.item_id = ""

    # ----------------------------------------------------------------- service-side MCP

    def _mcp_request(self, event: wire.McpApprovalRequested, out: list[Action]) -> None:
        if not self._service.new_request(event):
            return
        display = f"{event.server_label}.{event.name}"
        subject = f"mcp:{event.approval_request_id}"
        if self._approvals.submit(subject, display, event.arguments):
            self._mcp_decided(event.approval_request_id, True, out)

    def _mcp_decided(self, request_id: str, approved: bool, out: list[Action]) -> None:
        out.append(SendMcpApproval(request_id, approved))
        if not approved:
            out.append(Recorded(self._service.denied(request_id)))
            self._create_due = True  # so the model can say it was not allowed

    # ----------------------------------------------------------------- output

    def _flush(self, now: float, out: list[Action]) -> None:
        """Send the outputs that may go, then the response.create if one is due and allowed."""
        for call in self._calls.values():
            if call.state == "ready" and call.response_id in self._finished_responses:
                call.state = "sent"
                out.append(SendFunctionOutput(call.call_id, call.output, call.item_id or None))
                out.append(
                    Recorded(
                        ToolCallRecord(
                            call.call_id,
                            call.display,
                            call.arguments or "",
                            call.outcome,
                            call.duration_s,
                            output=call.output,
                        )
                    )
                )
                if self._response_answered(call.response_id):
                    self._create_due = True
        if (
            self._create_due
            and self._active is None
            and not self._requested
            and not self._waiting_calls()
        ):
            self._create_due = False
            if self._refused_this_turn:
                if self._create_after_refusal_used:
                    out.append(Notice(f"Stopped: more than {self._cap} tool calls in one turn."))
                    self._show_prompt(out)
                    return
                self._create_after_refusal_used = True
            self._requested = self._ours_unsettled = True
            out.append(SendResponseCreate())
        self._show_prompt(out)

    def _response_answered(self, response_id: str | None) -> bool:
        return all(
            c.state in ("sent", "dropped")
            for c in self._calls.values()
            if c.response_id == response_id
        )

    def _waiting_calls(self) -> bool:
        """A call of a finished response still waits for its output: hold the response.create."""
        return any(
            c.state in ("asking", "running", "ready") and c.response_id in self._finished_responses
            for c in self._calls.values()
        )

    def _show_prompt(self, out: list[Action]) -> None:
        current = self._approvals.current
        if current != self._shown:
            self._shown = current
            out.append(PromptChanged(current))
