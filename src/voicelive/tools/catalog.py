"""What the service is told about tools: function names, the ``session.tools`` list. Pure.

Each MCP tool of a local server is declared as a ``function`` tool named ``server__tool``.
Function names follow the OpenAI rule ``^[a-zA-Z0-9_-]{1,64}$`` (the Voice Live reference names
no other limit): other characters become ``_``; a name over 64 characters, or one that collides
with a name already given, is cut to 55 and given ``_`` + 8 hex digits of a hash of the original
``(server, tool)`` pair, so the same config always yields the same names whatever the order.
The description and the input JSON schema are passed through (a missing schema becomes an empty
object schema, which the service requires).

Service-side servers become ``{"type": "mcp", ...}`` entries (protocol addendum A3.1); they need
api-version 2026-01-01-preview or later, which :func:`service_mcp_refusal` checks, because older
versions silently ignore them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from voicelive.tools.config import ServiceServer, reveal_all

MAX_NAME = 64
_INVALID = re.compile(r"[^A-Za-z0-9_-]")
_SEPARATOR = "__"
MIN_SERVICE_MCP_VERSION = "2026-01-01-preview"


@dataclass(frozen=True)
class ListedTool:
    """One tool as a local server listed it (the manager's output, SDK-free)."""

    server: str
    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeclaredTool:
    """A listed tool with the function name the service knows it by."""

    function_name: str
    server: str
    tool: str
    description: str
    parameters: Mapping[str, Any]

    @property
    def display(self) -> str:
        """``server.tool``: what the prompt, the status line and ``--approve`` patterns use."""
        return f"{self.server}.{self.tool}"

    def session_tool(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.function_name,
            "description": self.description,
            "parameters": dict(self.parameters),
        }


def function_name(server: str, tool: str, taken: Iterable[str] = ()) -> str:
    """The stable function name of ``server``'s ``tool``, avoiding the names in ``taken``."""
    base = _INVALID.sub("_", f"{server}{_SEPARATOR}{tool}")
    if len(base) <= MAX_NAME and base not in set(taken):
        return base
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]
    return f"{base[: MAX_NAME - 9]}_{digest}"


class ToolCatalog:
    """The declared tools, looked up by function name. Built once per run; read-only after."""

    def __init__(self, listed: Iterable[ListedTool], allowed: Mapping[str, frozenset[str] | None]):
        """``allowed``: per server, the tool names to expose (None = all); others are dropped."""
        self._tools: dict[str, DeclaredTool] = {}
        self.hidden: list[str] = []
        """``server.tool`` of each listed tool the allow-list left out (for the log)."""
        for tool in listed:
            keep = allowed.get(tool.server)
            if keep is not None and tool.name not in keep:
                self.hidden.append(f"{tool.server}.{tool.name}")
                continue
            name = function_name(tool.server, tool.name, self._tools)
            self._tools[name] = DeclaredTool(
                function_name=name,
                server=tool.server,
                tool=tool.name,
                description=tool.description or f"{tool.name} (MCP server {tool.server})",
                parameters=_object_schema(tool.input_schema),
            )

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[DeclaredTool]:
        return iter(self._tools.values())

    def lookup(self, name: str) -> DeclaredTool | None:
        return self._tools.get(name)

    def session_tools(self, service: Iterable[ServiceServer] = ()) -> list[dict[str, Any]]:
        """The ``session.tools`` list: every function tool, then every service-side server.

        The service entries carry headers/authorization in the clear (the service needs them):
        whoever logs the session payload must redact ``session.tools`` first.
        """
        tools = [t.session_tool() for t in self._tools.values()]
        tools.extend(service_tool(s) for s in service)
        return tools


def service_tool(server: ServiceServer) -> dict[str, Any]:
    """One service-side server as a ``{"type": "mcp"}`` session tool (addendum A3.1)."""
    tool: dict[str, Any] = {
        "type": "mcp",
        "server_label": server.name,
        "server_url": server.url,
        "require_approval": server.require_approval,
    }
    if server.allowed_tools is not None:
        tool["allowed_tools"] = sorted(server.allowed_tools)
    if server.headers:
        tool["headers"] = reveal_all(server.headers)
    if server.authorization is not None:
        tool["authorization"] = server.authorization.reveal()
    return tool


def redacted_tools(tools: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``session.tools`` fit for a log: header values and authorization become ``***``."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        copy = dict(tool)
        if isinstance(copy.get("headers"), dict):
            copy["headers"] = dict.fromkeys(copy["headers"], "***")
        if "authorization" in copy:
            copy["authorization"] = "***"
        out.append(copy)
    return out


def service_mcp_refusal(api_version: str, servers: Iterable[ServiceServer]) -> str | None:
    """The sentence refusing service-side servers on a too-old api-version, or None if fine."""
    names = [s.name for s in servers]
    if not names or api_version[:10] >= MIN_SERVICE_MCP_VERSION[:10]:
        return None
    return (
        f"Service-side MCP server {names[0]!r} needs api-version {MIN_SERVICE_MCP_VERSION} or "
        f"later (the service silently ignores it on {api_version}); pass a newer --api-version."
    )


def _object_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    if schema.get("type") == "object":
        return dict(schema)
    return {"type": "object", "properties": {}}
