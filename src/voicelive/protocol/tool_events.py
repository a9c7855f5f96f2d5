"""Wire events of function calling and MCP (protocol addendum A2, A3). Pure; no I/O.

:func:`parse_tool_event` turns a decoded server frame into one of the small frozen records below,
or None when the frame is not about tools (the main parser handles those). Every field except the
ids is optional, as addendum A6.3 asks: ``name`` on ``…arguments.done``, ``tools`` on
``mcp_list_tools`` items, ``status`` on ``response.done``. Both ``cancelled`` and ``canceled``
are read as cancelled. A frame of a known type with a missing id raises :class:`MalformedToolEvent`.

The builders return plain dicts ready for ``json.dumps``; each takes the session's event-id
source (anything with ``next() -> str``) so an ``error`` can be traced to what caused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class MalformedToolEvent(ValueError):
    """A tool event without the id it must carry."""


class EventIdSource(Protocol):
    def next(self) -> str: ...


# --------------------------------------------------------------------------- server events


@dataclass(frozen=True)
class ResponseStarted:
    """``response.created``."""

    response_id: str


@dataclass(frozen=True)
class FunctionCallSeen:
    """A ``function_call`` item: from ``response.output_item.added`` (with ``response_id``) or
    ``conversation.item.created`` (without). The name is taken from here, not from ``.done``."""

    call_id: str
    item_id: str
    name: str
    response_id: str | None


@dataclass(frozen=True)
class FunctionArgumentsDone:
    """``response.function_call_arguments.done``: the call is complete and may be run."""

    call_id: str
    item_id: str
    arguments: str
    response_id: str | None
    name: str | None


@dataclass(frozen=True)
class ResponseFinished:
    """``response.done``. ``calls``: its completed ``function_call`` output items, a fallback
    for a call whose ``.done`` never came."""

    response_id: str
    status: str
    calls: tuple[FunctionArgumentsDone, ...] = ()

    @property
    def completed(self) -> bool:
        return self.status == "completed"


@dataclass(frozen=True)
class McpApprovalRequested:
    """An ``mcp_approval_request`` item (it only ever arrives in ``conversation.item.created``)."""

    approval_request_id: str
    server_label: str
    name: str
    arguments: str


@dataclass(frozen=True)
class McpCallSeen:
    """An ``mcp_call`` item appeared: the service is about to run (or ask about) its tool."""

    item_id: str
    server_label: str
    name: str


@dataclass(frozen=True)
class McpCallFinished:
    """``response.mcp_call.completed`` or ``.failed`` (the service ran its MCP tool)."""

    item_id: str
    failed: bool


@dataclass(frozen=True)
class McpCallItemDone:
    """``response.output_item.done`` of an ``mcp_call`` item: what it ran and how it ended."""

    item_id: str
    server_label: str
    name: str
    arguments: str
    error: str | None
    output: str = ""


@dataclass(frozen=True)
class McpToolsListing:
    """An ``mcp_list_tools`` item: the service is asking ``server_label`` for its tools."""

    item_id: str
    server_label: str
    tool_names: tuple[str, ...]


@dataclass(frozen=True)
class McpListToolsFailed:
    """``mcp_list_tools.failed``: the service could not reach a service-side server."""

    item_id: str


@dataclass(frozen=True)
class ResponseCreateRefused:
    """An ``error`` saying a response is already active: a ``response.create`` was refused
    (the samples match the substring "active response"; A2.1)."""

    message: str


ToolServerEvent = (
    ResponseStarted
    | FunctionCallSeen
    | FunctionArgumentsDone
    | ResponseFinished
    | McpApprovalRequested
    | McpCallSeen
    | McpCallFinished
    | McpCallItemDone
    | McpToolsListing
    | McpListToolsFailed
    | ResponseCreateRefused
)


def parse_tool_event(frame: dict[str, Any]) -> ToolServerEvent | None:
    """The tool record of ``frame``, or None if ``frame`` is not about tools."""
    kind = frame.get("type")
    if kind == "response.created":
        return ResponseStarted(_id(_dict(frame.get("response")), "id", kind))
    if kind == "response.done":
        return _response_done(frame)
    if kind in ("response.output_item.added", "conversation.item.created"):
        item = _dict(frame.get("item"))
        response_id = _opt(frame, "response_id") if kind == "response.output_item.added" else None
        return _item_created(item, response_id)
    if kind == "response.output_item.done":
        item = _dict(frame.get("item"))
        if item.get("type") == "mcp_call":
            return McpCallItemDone(
                item_id=_id(item, "id", kind),
                server_label=_opt(item, "server_label") or "",
                name=_opt(item, "name") or "",
                arguments=_opt(item, "arguments") or "",
                error=_error_text(item.get("error")),
                output=_opt(item, "output") or "",
            )
        return None
    if kind == "response.function_call_arguments.done":
        return FunctionArgumentsDone(
            call_id=_id(frame, "call_id", kind),
            item_id=_opt(frame, "item_id") or "",
            arguments=_opt(frame, "arguments") or "",
            response_id=_opt(frame, "response_id"),
            name=_opt(frame, "name"),
        )
    if kind in ("response.mcp_call.completed", "response.mcp_call.failed"):
        return McpCallFinished(_id(frame, "item_id", kind), failed=kind.endswith("failed"))
    if kind == "mcp_list_tools.failed":
        return McpListToolsFailed(_id(frame, "item_id", kind))
    if kind == "error":
        error = _dict(frame.get("error"))
        text = f"{_opt(error, 'code') or ''} {_opt(error, 'message') or ''}".lower()
        if "active response" in text or "active_response" in text:
            return ResponseCreateRefused(_opt(error, "message") or "")
    return None


def _item_created(item: dict[str, Any], response_id: str | None) -> ToolServerEvent | None:
    kind = item.get("type")
    if kind == "function_call":
        return FunctionCallSeen(
            call_id=_id(item, "call_id", "function_call item"),
            item_id=_opt(item, "id") or "",
            name=_opt(item, "name") or "",
            response_id=response_id,
        )
    if kind == "mcp_call":
        return McpCallSeen(
            _id(item, "id", "mcp_call item"),
            _opt(item, "server_label") or "",
            _opt(item, "name") or "",
        )
    if kind == "mcp_approval_request":
        return McpApprovalRequested(
            approval_request_id=_id(item, "id", "mcp_approval_request item"),
            server_label=_opt(item, "server_label") or "",
            name=_opt(item, "name") or "",
            arguments=_opt(item, "arguments") or "",
        )
    if kind == "mcp_list_tools":
        tools = item.get("tools")
        names = tuple(
            t["name"]
            for t in (tools if isinstance(tools, list) else [])
            if isinstance(t, dict) and isinstance(t.get("name"), str)
        )
        return McpToolsListing(
            _id(item, "id", "mcp_list_tools item"), _opt(item, "server_label") or "", names
        )
    return None


def _response_done(frame: dict[str, Any]) -> ResponseFinished:
    response = _dict(frame.get("response"))
    status = _opt(response, "status") or "completed"
    output = response.get("output")
    calls = []
    for item in output if isinstance(output, list) else []:
        if (
            isinstance(item, dict)
            and item.get("type") == "function_call"
            and item.get("status", "completed") == "completed"
            and isinstance(item.get("call_id"), str)
        ):
            calls.append(
                FunctionArgumentsDone(
                    call_id=item["call_id"],
                    item_id=_opt(item, "id") or "",
                    arguments=_opt(item, "arguments") or "",
                    response_id=_opt(response, "id"),
                    name=_opt(item, "name"),
                )
            )
    return ResponseFinished(
        response_id=_id(response, "id", "response.done"),
        status="cancelled" if status == "canceled" else status,
        calls=tuple(calls),
    )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _opt(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _id(obj: dict[str, Any], key: str, where: object) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedToolEvent(f"{where} without a string {key!r}")
    return value


def _error_text(error: object) -> str | None:
    if error is None:
        return None
    if isinstance(error, dict):
        message = error.get("message")
        return message if isinstance(message, str) else str(error)
    return str(error)


# --------------------------------------------------------------------------- client events


def function_call_output(
    ids: EventIdSource, call_id: str, output: str, previous_item_id: str | None = None
) -> dict[str, Any]:
    """The one ``function_call_output`` of ``call_id``; ``output`` is always a string (A2.1)."""
    event: dict[str, Any] = {
        "type": "conversation.item.create",
        "event_id": ids.next(),
        "item": {"type": "function_call_output", "call_id": call_id, "output": output},
    }
    if previous_item_id:
        event["previous_item_id"] = previous_item_id
    return event


def function_call_item(
    ids: EventIdSource, call_id: str, name: str, arguments: str
) -> dict[str, Any]:
    """A client-created ``function_call`` item: replays a call on a new session (A2.1)."""
    return {
        "type": "conversation.item.create",
        "event_id": ids.next(),
        "item": {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments},
    }


def mcp_approval_response(
    ids: EventIdSource, approval_request_id: str, approve: bool
) -> dict[str, Any]:
    """The answer to an ``mcp_approval_request``, as a conversation item (A0 C4)."""
    return {
        "type": "conversation.item.create",
        "event_id": ids.next(),
        "item": {
            "type": "mcp_approval_response",
            "approval_request_id": approval_request_id,
            "approve": approve,
        },
    }


def response_create(ids: EventIdSource) -> dict[str, Any]:
    """The ``response.create`` after tool outputs: the model speaks the results only then."""
    return {"type": "response.create", "event_id": ids.next()}
