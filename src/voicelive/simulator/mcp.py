"""Service-side MCP: the ``{type: "mcp"}`` tools of a session, served by the simulator itself.

The service dials the MCP servers a session declares (protocol notes A3). The simulator dials
nothing: every declared server offers the tools of :data:`BUILTIN_TOOLS`, filtered by its
``allowed_tools``, and runs them itself (:func:`run_tool`). A ``server_url`` whose host ends in
``.invalid`` stands for a server that cannot be reached: its listing fails
(``mcp_list_tools.failed``) and its tools are never called. ``require_approval`` follows the
reference: ``"always"`` (the default), ``"never"``, or ``{"never": [...], "always": [...]}``
where unlisted tools need approval. API versions before :data:`FIRST_MCP_VERSION` ignore MCP
tools silently, as the service does. Pure functions.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from .constants import API_VERSIONS
from .wire import JsonDict

FIRST_MCP_VERSION = "2026-01-01-preview"

BUILTIN_TOOLS: dict[str, JsonDict] = {
    "echo": {
        "description": "Returns the text it is given.",
        "input_schema": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    },
    "add": {
        "description": "Adds two numbers.",
        "input_schema": {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
    },
    "lookup_code": {
        "description": "The code word for a word: the word reversed, in capitals.",
        "input_schema": {
            "type": "object",
            "properties": {"word": {"type": "string"}},
            "required": ["word"],
        },
    },
}
"""What every simulated MCP server offers (name → description and input schema)."""


def mcp_enabled(api_version: str) -> bool:
    return API_VERSIONS.index(api_version) >= API_VERSIONS.index(FIRST_MCP_VERSION)


def mcp_servers(session: JsonDict, api_version: str) -> list[JsonDict]:
    """The session's MCP tools the service acts on (none before 2026-01-01-preview)."""
    if not mcp_enabled(api_version):
        return []
    tools = session.get("tools") or []
    return [t for t in tools if isinstance(t, dict) and t.get("type") == "mcp"]


def reachable(server: JsonDict) -> bool:
    host = urlsplit(str(server.get("server_url", ""))).hostname or ""
    return bool(host) and not host.endswith(".invalid")


def server_tools(server: JsonDict) -> list[JsonDict]:
    """The tools a server lists (``MCPTool`` shape), after its ``allowed_tools``."""
    allowed = server.get("allowed_tools")
    return [
        {"name": name, **spec}
        for name, spec in BUILTIN_TOOLS.items()
        if not isinstance(allowed, list) or name in allowed
    ]


def needs_approval(server: JsonDict, tool: str) -> bool:
    rule = server.get("require_approval", "always")
    if rule == "never":
        return False
    if isinstance(rule, dict):
        never = rule.get("never") or []
        return tool not in never
    return True


def run_tool(name: str, arguments: str) -> tuple[str | None, str | None]:
    """``(output, error)`` of a built-in tool; exactly one is None."""
    try:
        args: Any = json.loads(arguments or "{}")
    except ValueError:
        return None, "arguments are not JSON"
    if not isinstance(args, dict):
        return None, "arguments are not an object"
    try:
        if name == "echo":
            return str(args["text"]), None
        if name == "add":
            return f"{float(args['a']) + float(args['b']):g}", None
        if name == "lookup_code":
            return str(args["word"])[::-1].upper(), None
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"bad arguments for {name}: {exc}"
    return None, f"unknown tool {name!r}"
