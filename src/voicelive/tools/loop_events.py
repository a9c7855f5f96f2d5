"""What the call loop is told besides the wire events, and what it asks the shell to do. Pure.

Inputs (with the wire records of :mod:`voicelive.protocol.tool_events`): a tool finished, the
user answered or ignored a question, ``/cancel``, a new user turn, a new session after a
reconnect. Actions: show a question, run or cancel a tool, send a client event, say one line,
record a finished call for the transcript and ``--stats-json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from voicelive.tools.approval import Ask, shown_arguments
from voicelive.tools.catalog import DeclaredTool

# --------------------------------------------------------------------------- inputs

OutcomeKind = Literal["ok", "error", "timeout"]


@dataclass(frozen=True)
class ToolOutcome:
    """How a run ended, as the manager reports it. ``text``: the result (``ok``), the tool's
    error (``error``), unused for ``timeout``; ``timeout_s`` is the bound that ran out."""

    kind: OutcomeKind
    text: str = ""
    timeout_s: float = 0.0


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    outcome: ToolOutcome


@dataclass(frozen=True)
class ApprovalAnswered:
    """The user typed ``key`` + Enter while question ``ask_id`` was on screen."""

    ask_id: int
    key: str


@dataclass(frozen=True)
class ApprovalExpired:
    ask_id: int


@dataclass(frozen=True)
class CancelRequested:
    """``/cancel``: running tools and waiting questions end as "cancelled by the user"."""


@dataclass(frozen=True)
class UserTurnStarted:
    """The user spoke or typed: the per-turn call cap starts again."""


@dataclass(frozen=True)
class ResponseRequested:
    """The chat sent a ``response.create`` of its own (a typed message): a response is coming,
    so the loop's own ``response.create`` waits for it to finish."""


@dataclass(frozen=True)
class Reconnected:
    """A new session replaced the old one, after the history (with :meth:`CallLoop.history`)
    was replayed on it: nothing is active any more, and pending outputs go to the new one."""


LocalEvent = (
    ToolFinished
    | ApprovalAnswered
    | ApprovalExpired
    | CancelRequested
    | UserTurnStarted
    | ResponseRequested
    | Reconnected
)

# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class PromptChanged:
    """Show ``ask.prompt`` in the status line (start its ``timeout_s`` timer), or clear it."""

    ask: Ask | None


@dataclass(frozen=True)
class RunTool:
    """Start the tool; report :class:`ToolFinished` with this ``call_id`` (at most once)."""

    call_id: str
    tool: DeclaredTool
    arguments: dict[str, Any]


@dataclass(frozen=True)
class CancelTool:
    """Cancel the run of ``call_id``; its output is already decided ("cancelled by the user")."""

    call_id: str


@dataclass(frozen=True)
class SendFunctionOutput:
    call_id: str
    output: str
    previous_item_id: str | None


@dataclass(frozen=True)
class SendMcpApproval:
    approval_request_id: str
    approve: bool


@dataclass(frozen=True)
class SendResponseCreate:
    """The one ``response.create`` after the outputs (never while a response is active)."""


@dataclass(frozen=True)
class Notice:
    """One line for the user (and the log)."""

    text: str


TRANSCRIPT_OUTPUT_CHARS = 500
"""How much of a tool's output the transcript keeps (the service got all of it, up to the cap)."""

Outcome = Literal["ok", "error", "timeout", "denied", "cancelled", "unknown", "limit"]


@dataclass(frozen=True)
class ToolCallRecord:
    """A finished call, for ``--transcript`` and ``--stats-json``. ``source`` is ``local``
    (a function call voicelive ran) or ``service`` (an MCP call the service ran)."""

    call_id: str
    name: str
    arguments: str
    outcome: Outcome
    duration_s: float
    source: Literal["local", "service"] = "local"
    output: str = ""
    """The output the service got (for a service call: the ``mcp_call`` item's output/error)."""

    def as_json(self) -> dict[str, Any]:
        """The ``--stats-json`` entry: name, outcome, duration (no arguments or output)."""
        return {
            "call_id": self.call_id,
            "name": self.name,
            "outcome": self.outcome,
            "duration_s": round(self.duration_s, 3),
            "source": self.source,
        }

    def transcript_entry(self) -> dict[str, Any]:
        """The ``--transcript`` ``.jsonl`` entry (the writer adds ``time``)."""
        return {
            "role": "tool",
            "name": self.name,
            "arguments": self.arguments,
            "outcome": self.outcome,
            "output": self.output[:TRANSCRIPT_OUTPUT_CHARS],
            "duration_ms": round(self.duration_s * 1000),
            "source": self.source,
        }

    def transcript_markdown(self) -> str:
        """The ``--transcript`` ``.md`` line, e.g. ``**Tool** codes.lookup_code
        {"word": "lighthouse"} → LH-42 _(ok, 0.2 s)_`` (the writer adds the time)."""
        output = " ".join(self.output.split())[:TRANSCRIPT_OUTPUT_CHARS]
        shown = shown_arguments(self.arguments)
        return (
            f"**Tool** {self.name} {shown} → {output} _({self.outcome}, {self.duration_s:.1f} s)_"
        )


@dataclass(frozen=True)
class Recorded:
    record: ToolCallRecord


Action = (
    PromptChanged
    | RunTool
    | CancelTool
    | SendFunctionOutput
    | SendMcpApproval
    | SendResponseCreate
    | Notice
    | Recorded
)


@dataclass(frozen=True)
class HistoryCall:
    """A call to replay on a new session: the ``function_call`` item, and its output if it was
    sent (a call still in flight has none; its output goes to the new session once)."""

    call_id: str
    name: str
    arguments: str
    output: str | None = None
