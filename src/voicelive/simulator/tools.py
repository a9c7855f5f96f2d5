"""When the simulator calls a declared function tool, with what, and how outputs are checked.

There is no model, so the decision is a documented rule (README, "Tools"), applied when a
response is planned and ``tool_choice`` is not ``"none"``:

* ``tool_choice`` names a declared function (``{"type": "function", "name": N}`` or the bare
  string ``N``) → that function is called;
* ``"required"`` → the function the last user text names, else the first declared one;
* ``"auto"`` (the default) → only when the last user item is *typed text* (``input_text``)
  naming a declared function (its name, or the name with ``_`` read as spaces, any case); the
  first such function in declaration order is called. Spoken turns are never transcribed, so
  they never call a tool under ``auto``.

No call is made when the conversation's last item is a ``function_call_output`` or an
``mcp_call``: the result is answered by speaking it (:func:`output_reply`). MCP tools
(:mod:`.mcp`) are called by the same rule. Arguments: a JSON object written in the
message is used as it is; otherwise each property named as ``name=value`` (or ``name: value``)
in the message gets that value, and every *required* property still missing gets a stand-in
of its schema type (``"simulated"``, 0, false, [], {}). Pure functions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .conversation import Conversation, Item
from .mcp import reachable, server_tools
from .wire import JsonDict

_STAND_INS: dict[str, Any] = {
    "string": "simulated",
    "integer": 0,
    "number": 0,
    "boolean": False,
    "array": [],
    "object": {},
}


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str
    """JSON text, as the service sends it."""
    server: JsonDict | None = None
    """The MCP server (its ``session.tools`` entry) for an MCP tool; None for a function."""


def function_tools(session: JsonDict, overrides: JsonDict) -> list[JsonDict]:
    tools = overrides.get("tools", session.get("tools")) or []
    return [
        t for t in tools if isinstance(t, dict) and t.get("type") == "function" and t.get("name")
    ]


def _last_text(conversation: Conversation) -> str | None:
    user = conversation.last_user_item()
    if user is None:
        return None
    texts = [str(p.get("text", "")) for p in user.wire_content if p.get("type") == "input_text"]
    return " ".join(texts) if texts else None


def _named_in(text: str, tools: list[JsonDict]) -> JsonDict | None:
    lowered = text.lower()
    for tool in tools:
        name = str(tool["name"]).lower()
        # a client's namespaced name (``server__tool``) reads as words too: "codes lookup code"
        for spelling in {name, re.sub(r"_+", " ", name)}:
            if re.search(rf"(?<![\w]){re.escape(spelling)}(?![\w])", lowered):
                return tool
    return None


def _forced(choice: Any, tools: list[JsonDict]) -> JsonDict | None:
    name = choice.get("name") if isinstance(choice, dict) else choice
    return next((t for t in tools if t["name"] == name), None)


def _mcp_tools(servers: list[JsonDict]) -> list[JsonDict]:
    """Each listed MCP tool as a callable entry (``name``, ``parameters``, ``server``)."""
    return [
        {"name": tool["name"], "parameters": tool["input_schema"], "server": server}
        for server in servers
        if reachable(server)
        for tool in server_tools(server)
    ]


def plan_call(
    conversation: Conversation,
    session: JsonDict,
    overrides: JsonDict,
    mcp: list[JsonDict] | None = None,
) -> ToolCall | None:
    """The tool call the next response makes, if the rule (module docstring) says so.

    ``mcp``: the session's MCP servers the service acts on (:func:`.mcp.mcp_servers`); their
    tools are called by the same rule, after the functions (a forced ``tool_choice`` names a
    function only).
    """
    tools = function_tools(session, overrides) + _mcp_tools(mcp or [])
    choice = overrides.get("tool_choice", session.get("tool_choice", "auto"))
    last = conversation.last_item()
    answered = last is not None and last.type in ("function_call_output", "mcp_call")
    if not tools or choice == "none" or answered:
        return None
    text = _last_text(conversation)
    tool: JsonDict | None
    if choice not in ("auto", "required"):
        tool = _forced(choice, [t for t in tools if "server" not in t])
    else:
        tool = _named_in(text, tools) if text else None
        if tool is None and choice == "required":
            tool = tools[0]
    if tool is None:
        return None
    arguments = json.dumps(arguments_for(tool, text or ""))
    return ToolCall(str(tool["name"]), arguments, tool.get("server"))


def arguments_for(tool: JsonDict, text: str) -> JsonDict:
    """Arguments for ``tool`` from the message ``text`` (rule in the module docstring)."""
    start = text.find("{")
    while start != -1:
        try:
            found, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            found = None
        if isinstance(found, dict):
            return found
        start = text.find("{", start + 1)
    raw_schema = tool.get("parameters")
    schema: JsonDict = raw_schema if isinstance(raw_schema, dict) else {}
    raw_properties = schema.get("properties")
    properties: JsonDict = raw_properties if isinstance(raw_properties, dict) else {}
    args: JsonDict = {}
    for name, spec in properties.items():
        match = re.search(rf"\b{re.escape(name)}\s*[=:]\s*(\"[^\"]*\"|[^\s,;]+)", text)
        if match:
            args[name] = _typed(match.group(1).strip('"'), spec)
    for name in schema.get("required") or []:
        if name not in args:
            spec = properties.get(name)
            kind = spec.get("type") if isinstance(spec, dict) else None
            args[name] = _STAND_INS.get(str(kind), "simulated")
    return args


def _typed(value: str, spec: Any) -> Any:
    kind = spec.get("type") if isinstance(spec, dict) else None
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return value.lower() == "true"
    return value


def output_problem(conversation: Conversation, call_id: Any) -> str | None:
    """Why a ``function_call_output`` for ``call_id`` is refused, or None if it fits a call."""
    calls = [
        i for i in conversation if i.type == "function_call" and i.extra.get("call_id") == call_id
    ]
    if not calls:
        return f"No function call with call_id '{call_id}' was found in the conversation."
    if any(
        i.type == "function_call_output" and i.extra.get("call_id") == call_id for i in conversation
    ):
        return f"The function call '{call_id}' already has an output."
    return None


def output_reply(conversation: Conversation) -> str | None:
    """The spoken answer to a ``function_call_output`` that ends the conversation, if any."""
    last = conversation.last_item()
    if last is not None and last.type == "mcp_call" and "output" in last.extra:
        extra = last.extra
        return f"The {extra['server_label']} {extra['name']} tool returned: {extra['output']}"
    if last is None or last.type != "function_call_output":
        return None
    call_id = last.extra.get("call_id")
    call: Item | None = next(
        (
            i
            for i in conversation
            if i.type == "function_call" and i.extra.get("call_id") == call_id
        ),
        None,
    )
    name = call.extra.get("name") if call is not None else "tool"
    return f"The {name} tool returned: {last.extra.get('output')}"
