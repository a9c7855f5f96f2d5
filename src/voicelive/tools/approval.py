"""Who may run what: the approval policy and the queue of questions for the user. Pure.

Nothing is approved by default. ``--approve PATTERN`` pre-approves tools whose ``server.tool``
name (the one the prompt shows) matches the shell-style, case-sensitive PATTERN (``codes.*``,
``*.lookup_code``); answering ``a`` approves that tool for the rest of the session. Every other
call is asked at the terminal, one question at a time, in the order the calls completed::

    tool codes.lookup_code {"word": "lighthouse"}: allow? y / n / a (always this tool)

The same questions answer the service's ``mcp_approval_request`` items (``server_label.name``).
A question left unanswered for ``timeout_s`` (default 60 s) is a denial; the I/O shell owns the
clock and reports the expiry with the question's ``ask_id``. Not thread-safe: the loop owns it.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

DEFAULT_TIMEOUT_S = 60.0
_MAX_SHOWN_ARGUMENTS = 160


@dataclass(frozen=True)
class Ask:
    """One question. ``subject`` is the caller's key for what it is about (a call, an MCP
    approval request); ``ask_id`` tells a late answer or expiry from a current one."""

    ask_id: int
    subject: str
    display: str
    arguments: str
    timeout_s: float

    @property
    def prompt(self) -> str:
        shown = shown_arguments(self.arguments)
        return f"tool {self.display} {shown}: allow? y / n / a (always this tool)"


def shown_arguments(arguments: str) -> str:
    """The arguments as compact one-line JSON (raw text if not JSON), cut to fit a status line."""
    try:
        text = json.dumps(json.loads(arguments), ensure_ascii=False) if arguments else "{}"
    except ValueError:
        text = " ".join(arguments.split())
    if len(text) > _MAX_SHOWN_ARGUMENTS:
        text = text[: _MAX_SHOWN_ARGUMENTS - 1] + "…"
    return text


class ApprovalPolicy:
    """Pre-approved patterns plus the tools answered ``a`` this session."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self._patterns = tuple(patterns)
        self._always: set[str] = set()

    def approved(self, display: str) -> bool:
        return display in self._always or any(fnmatchcase(display, p) for p in self._patterns)

    def always(self, display: str) -> None:
        self._always.add(display)


@dataclass(frozen=True)
class Decision:
    subject: str
    approved: bool


class ApprovalQueue:
    """The questions waiting for the user; only :attr:`current` is on screen."""

    def __init__(self, policy: ApprovalPolicy, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.policy = policy
        self._timeout_s = timeout_s
        self._queue: deque[Ask] = deque()
        self._next_id = 1

    @property
    def current(self) -> Ask | None:
        return self._queue[0] if self._queue else None

    def __len__(self) -> int:
        return len(self._queue)

    def submit(self, subject: str, display: str, arguments: str) -> bool:
        """True if already approved (nothing asked); else the question is queued."""
        if self.policy.approved(display):
            return True
        self._queue.append(Ask(self._next_id, subject, display, arguments, self._timeout_s))
        self._next_id += 1
        return False

    def answer(self, ask_id: int, key: str) -> list[Decision] | None:
        """The decisions an answer to question ``ask_id`` makes; None if it decides nothing
        (another key than y/n/a, or a question no longer current).

        ``a`` also approves every queued question about the same tool.
        """
        ask = self.current
        letter = key.strip().lower()
        if ask is None or ask.ask_id != ask_id or letter not in ("y", "n", "a"):
            return None
        self._queue.popleft()
        decisions = [Decision(ask.subject, letter != "n")]
        if letter == "a":
            self.policy.always(ask.display)
            for other in [q for q in self._queue if q.display == ask.display]:
                self._queue.remove(other)
                decisions.append(Decision(other.subject, True))
        return decisions

    def expire(self, ask_id: int) -> list[Decision]:
        """Question ``ask_id`` timed out: a denial (nothing if it is no longer current)."""
        ask = self.current
        if ask is None or ask.ask_id != ask_id:
            return []
        self._queue.popleft()
        return [Decision(ask.subject, False)]

    def withdraw(self, subject: str) -> bool:
        """Drop the question about ``subject`` (its call was cancelled); True if there was one."""
        for ask in self._queue:
            if ask.subject == subject:
                self._queue.remove(ask)
                return True
        return False

    def subjects(self) -> list[str]:
        return [ask.subject for ask in self._queue]
