"""The MCP server file (``--mcp-config FILE``): parsed into plain, frozen server specs. Pure.

The file is the ``mcpServers`` JSON that Claude Desktop and Cursor use (VS Code's ``servers``
key is accepted too), so people can reuse theirs::

    {"mcpServers": {
      "codes":  {"command": "${voicelive_python}", "args": ["codes_server.py"],
                 "env": {"API_KEY": "${CODES_KEY}"}, "cwd": ".", "allowedTools": ["lookup_code"]},
      "remote": {"url": "http://127.0.0.1:8000/mcp", "headers": {"Authorization": "Bearer ${T}"}},
      "wiki":   {"type": "service", "url": "https://mcp.deepwiki.com/mcp",
                 "allowedTools": ["ask_question"], "requireApproval": "always",
                 "headers": {"X-Key": "${WIKI_KEY}"}, "authorization": "${WIKI_TOKEN}"}}}

- ``command`` (+ ``args``, ``env``, ``cwd``): a **stdio** server that voicelive starts. ``cwd``
  is relative to the file's directory and defaults to it. ``${voicelive_python}`` in
  ``command``/``args`` is the Python running voicelive (so an example works in any venv).
- ``url`` (+ ``headers``): a **streamable-HTTP** server that voicelive calls. ``type`` may say
  ``stdio``/``http``/``streamable-http``; ``sse`` is refused (the SDK's legacy transport).
- ``"type": "service"`` + ``url``: a **service-side** MCP server. Voice Live itself dials it
  (it must be reachable from Azure), so it becomes a ``{"type": "mcp", ...}`` entry of
  ``session.tools``; ``requireApproval`` is ``"always"`` (the service's default), ``"never"``
  or ``{"never": [...], "always": [...]}``; ``authorization`` is sent as is.
- ``allowedTools`` (any kind): only these tool names are exposed; absent = all.
- ``disabled: true`` leaves an entry out (Cursor/Cline's key).
- ``${VAR}`` (or Cursor/VS Code's ``${env:VAR}``) in ``env``, ``headers`` and
  ``authorization`` comes from the environment; a missing one is a
  :class:`~voicelive.errors.ConfigError` naming the file, server and variable. Editor-only
  placeholders (``${input:…}``, ``${workspaceFolder}``) are refused with a sentence.

Every value that may hold a secret (env values, headers, authorization) is a :class:`Secret`,
whose ``repr``/``str`` never show the value, so a spec can be logged whole.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from voicelive.errors import ConfigError

_VAR = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}")
_OTHER_PLACEHOLDER = re.compile(r"\$\{(input|workspaceFolder|userHome|config)[:}]")
PYTHON_PLACEHOLDER = "${voicelive_python}"
DEFAULT_START_TIMEOUT_S = 20.0
"""How long one server may take to start and list its tools."""
SERVER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
"""What a server name may be: it is a prefix of the declared function names and a log tag."""


class Secret:
    """A string that may be a credential: ``reveal()`` gives it; repr/str show ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def reveal_all(values: Mapping[str, Secret]) -> dict[str, str]:
    """The plain mapping, for the one place that hands it to a process or an HTTP client."""
    return {key: value.reveal() for key, value in values.items()}


@dataclass(frozen=True)
class StdioServer:
    """A server voicelive starts as a child process and talks to over stdin/stdout."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, Secret] = field(default_factory=dict)
    cwd: Path | None = None
    allowed_tools: frozenset[str] | None = None


@dataclass(frozen=True)
class HttpServer:
    """A streamable-HTTP server voicelive calls."""

    name: str
    url: str
    headers: Mapping[str, Secret] = field(default_factory=dict)
    allowed_tools: frozenset[str] | None = None


ApprovalRule = Literal["always", "never"] | dict[str, list[str]]


@dataclass(frozen=True)
class ServiceServer:
    """A server the Voice Live service dials itself (a ``{"type": "mcp"}`` session tool)."""

    name: str
    url: str
    headers: Mapping[str, Secret] = field(default_factory=dict)
    authorization: Secret | None = None
    allowed_tools: frozenset[str] | None = None
    require_approval: ApprovalRule = "always"


ServerSpec = StdioServer | HttpServer | ServiceServer


@dataclass(frozen=True)
class McpConfig:
    """Every enabled server of the file, in file order."""

    source: Path
    servers: tuple[ServerSpec, ...]

    @property
    def local(self) -> tuple[StdioServer | HttpServer, ...]:
        """The servers voicelive itself starts or calls."""
        return tuple(s for s in self.servers if not isinstance(s, ServiceServer))

    @property
    def service(self) -> tuple[ServiceServer, ...]:
        return tuple(s for s in self.servers if isinstance(s, ServiceServer))


def load_mcp_config(path: Path, environ: Mapping[str, str]) -> McpConfig:
    """Read and check the file. Raises ConfigError (one sentence, no secret) on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the MCP config file {path}: {exc.strerror or exc}; check --mcp-config."
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"The MCP config file {path} is not valid JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg})."
        ) from None
    return parse_mcp_config(data, path, environ)


def parse_mcp_config(data: object, source: Path, environ: Mapping[str, str]) -> McpConfig:
    """Check already-decoded JSON; ``source`` names the file in messages and anchors ``cwd``."""
    if not isinstance(data, dict):
        raise ConfigError(f"The MCP config file {source} must hold a JSON object.")
    entries = data.get("mcpServers", data.get("servers"))
    if not isinstance(entries, dict):
        raise ConfigError(
            f'The MCP config file {source} has no "mcpServers" object; see README "Tools".'
        )
    servers: list[ServerSpec] = []
    for name, entry in entries.items():
        where = f"{source}, server {name!r}"
        if not SERVER_NAME.match(name):
            raise ConfigError(
                f"{where}: a server name may hold only letters, digits, '_', '-' and '.' "
                "(at most 64); rename it."
            )
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: the entry must be a JSON object.")
        if entry.get("disabled") is True:
            continue
        servers.append(_server(name, entry, _Context(where, source, environ)))
    return McpConfig(source, tuple(servers))


@dataclass(frozen=True)
class _Context:
    where: str
    source: Path
    environ: Mapping[str, str]

    def fail(self, what: str) -> ConfigError:
        return ConfigError(f"{self.where}: {what}")

    def expand(self, value: str, key: str) -> str:
        other = _OTHER_PLACEHOLDER.search(value)
        if other:
            raise self.fail(
                f"{key} uses ${{{other.group(1)}...}}, which only the editor can fill in; "
                "use ${NAME} or ${env:NAME} with an environment variable."
            )

        def one(match: re.Match[str]) -> str:
            var = match.group(1)
            found = self.environ.get(var)
            if found is None:
                raise self.fail(f"{key} uses ${{{var}}}, but {var} is not set in the environment.")
            return found

        return _VAR.sub(one, value)


def _server(name: str, entry: dict[str, Any], ctx: _Context) -> ServerSpec:
    kind = entry.get("type")
    allowed = _allowed(entry, ctx)
    if kind == "service":
        return ServiceServer(
            name=name,
            url=_url(entry, ctx, service=True),
            headers=_secrets(entry, "headers", ctx),
            authorization=_authorization(entry, ctx),
            allowed_tools=allowed,
            require_approval=_approval(entry, ctx),
        )
    if kind == "sse":
        raise ctx.fail('the legacy "sse" transport is not supported; use streamable HTTP.')
    if kind not in (None, "stdio", "http", "streamable-http", "streamableHttp"):
        raise ctx.fail(f'"type" must be "stdio", "http" or "service", not {kind!r}.')
    if "command" in entry and "url" in entry:
        raise ctx.fail('give either "command" (a stdio server) or "url" (an HTTP one), not both.')
    if "command" in entry:
        return StdioServer(
            name=name,
            command=_python(_string(entry, "command", ctx)),
            args=tuple(_python(a) for a in _strings(entry, "args", ctx)),
            env=_secrets(entry, "env", ctx),
            cwd=_cwd(entry, ctx),
            allowed_tools=allowed,
        )
    if "url" in entry:
        return HttpServer(
            name=name,
            url=_url(entry, ctx, service=False),
            headers=_secrets(entry, "headers", ctx),
            allowed_tools=allowed,
        )
    raise ctx.fail('give "command" (a stdio server) or "url" (an HTTP server).')


def _python(value: str) -> str:
    return value.replace(PYTHON_PLACEHOLDER, sys.executable)


def _string(entry: dict[str, Any], key: str, ctx: _Context) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ctx.fail(f'"{key}" must be a non-empty string.')
    return value


def _strings(entry: dict[str, Any], key: str, ctx: _Context) -> list[str]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.fail(f'"{key}" must be a list of strings.')
    return list(value)


def _secrets(entry: dict[str, Any], key: str, ctx: _Context) -> dict[str, Secret]:
    value = entry.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ctx.fail(f'"{key}" must be an object of strings.')
    return {k: Secret(ctx.expand(v, f'"{key}" {k}')) for k, v in value.items()}


def _authorization(entry: dict[str, Any], ctx: _Context) -> Secret | None:
    if "authorization" not in entry:
        return None
    return Secret(ctx.expand(_string(entry, "authorization", ctx), '"authorization"'))


def _url(entry: dict[str, Any], ctx: _Context, *, service: bool) -> str:
    url = _string(entry, "url", ctx)
    if not url.startswith(("http://", "https://")):
        raise ctx.fail('"url" must start with http:// or https://.')
    host = (urlsplit(url).hostname or "").lower()
    if service and (host in ("localhost", "::1") or host.startswith("127.")):
        raise ctx.fail(
            "Voice Live dials a service-side server from Azure, so a loopback URL cannot work; "
            'drop "type": "service" to have voicelive call it.'
        )
    return url


def _cwd(entry: dict[str, Any], ctx: _Context) -> Path:
    base = ctx.source.parent
    if "cwd" not in entry:
        return base
    return base / _string(entry, "cwd", ctx)


def _allowed(entry: dict[str, Any], ctx: _Context) -> frozenset[str] | None:
    if "allowedTools" not in entry:
        return None
    return frozenset(_strings(entry, "allowedTools", ctx))


def _approval(entry: dict[str, Any], ctx: _Context) -> ApprovalRule:
    value = entry.get("requireApproval", "always")
    if value in ("always", "never"):
        return "always" if value == "always" else "never"
    if (
        isinstance(value, dict)
        and set(value) <= {"always", "never"}
        and all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in value.values())
    ):
        return {k: list(v) for k, v in value.items()}
    raise ctx.fail(
        '"requireApproval" must be "always", "never" or {"never": [...], "always": [...]}.'
    )
