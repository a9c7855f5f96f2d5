"""The service's own MCP calls, as the call loop sees them: approvals, completions, records. Pure.

The service runs these tools itself (service-side servers, an agent's tools); the client only
answers ``mcp_approval_request`` items and must send ``response.create`` after each
``response.mcp_call.completed``/``.failed`` (addendum A3.2, C12). This book-keeping remembers
what was asked (so a duplicate request is asked once), which completions were seen (the service
may repeat them: deduplicated by ``item_id``), and when each ``mcp_call`` item appeared, for the
record's duration. Not thread-safe: the call loop owns it.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicelive.protocol import tool_events as wire
from voicelive.tools.loop_events import ToolCallRecord


@dataclass(frozen=True)
class _Request:
    server_label: str
    name: str
    arguments: str


class ServiceCalls:
    def __init__(self) -> None:
        self._requests: dict[str, _Request] = {}
        self._finished: set[str] = set()
        self._started: dict[str, float] = {}
        self._recorded: set[str] = set()

    def new_request(self, event: wire.McpApprovalRequested) -> bool:
        """True the first time this approval request is seen."""
        if event.approval_request_id in self._requests:
            return False
        self._requests[event.approval_request_id] = _Request(
            event.server_label, event.name, event.arguments
        )
        return True

    def denied(self, request_id: str) -> ToolCallRecord:
        """The record of a denied request (the service will not run it)."""
        request = self._requests.get(request_id)
        if request is None:
            return ToolCallRecord(request_id, request_id, "", "denied", 0.0, "service")
        name = f"{request.server_label}.{request.name}"
        return ToolCallRecord(request_id, name, request.arguments, "denied", 0.0, "service")

    def seen(self, event: wire.McpCallSeen, now: float) -> None:
        self._started.setdefault(event.item_id, now)

    def finished(self, event: wire.McpCallFinished) -> bool:
        """True the first time this call's completion (or failure) is seen."""
        if event.item_id in self._finished:
            return False
        self._finished.add(event.item_id)
        return True

    def item_done(self, event: wire.McpCallItemDone, now: float) -> ToolCallRecord | None:
        """The record of a finished call, once per item."""
        if event.item_id in self._recorded:
            return None
        self._recorded.add(event.item_id)
        started = self._started.pop(event.item_id, now)
        return ToolCallRecord(
            event.item_id,
            f"{event.server_label}.{event.name}",
            event.arguments,
            "error" if event.error else "ok",
            max(0.0, now - started),
            "service",
            event.error or event.output,
        )
