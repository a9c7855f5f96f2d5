"""The local MCP servers: started, listed, called and stopped with the official ``mcp`` SDK.

The I/O shell of the tools subsystem. Importing this module imports the SDK (about half a
second), so the chat imports it only when ``--mcp-config`` names servers; every pure module of
:mod:`voicelive.tools` stays free of it.

Contract (asyncio, one event loop; not thread-safe):

- :meth:`McpServers.start` starts every server concurrently and lists its tools. A server that
  fails (cannot spawn, exits, does not answer within ``start_timeout_s``) gets one sentence in
  :attr:`StartReport.failures` and is left out; the others go on.
- :meth:`McpServers.call` never raises for a tool's trouble: it returns a
  :class:`~voicelive.tools.loop_events.ToolOutcome` (``ok``, the tool's ``error``, a server that
  stopped mid-call, or ``timeout`` after ``call_timeout_s``). It is cancel-safe: cancelling it
  (``/cancel``) abandons the request and leaves the server running.
- :meth:`McpServers.aclose` stops every server (stdin closed, then the SDK kills the process
  group); it is idempotent and finishes even when the caller is cancelled.
- stdio servers' stderr goes to the log (:mod:`voicelive.tools.stderr_log`), never the terminal;
  they get the SDK's minimal environment plus the proxy and CA variables and the entry's ``env``.
- No secret (env values, headers) is ever logged or put in a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CONNECTION_CLOSED, PaginatedRequestParams

from voicelive.config.settings import DEFAULT_TOOL_TIMEOUT_S
from voicelive.tools.catalog import ListedTool
from voicelive.tools.config import DEFAULT_START_TIMEOUT_S, HttpServer, StdioServer, reveal_all
from voicelive.tools.loop_events import ToolOutcome
from voicelive.tools.results import DEFAULT_MAX_CHARS, format_result
from voicelive.tools.stderr_log import StderrToLog

logger = logging.getLogger(__name__)

STOP_TIMEOUT_S = 8.0
"""Bound on stopping one server; the SDK's own escalation (stdin, SIGTERM, SIGKILL) is ~6 s."""
PASSED_THROUGH = (
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
    "ALL_PROXY", "all_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
)  # fmt: skip
_MAX_PAGES = 20


@dataclass
class StartReport:
    tools: list[ListedTool] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """One sentence per server left out."""
    seconds: dict[str, float] = field(default_factory=dict)
    """How long each started server took (start to tools listed)."""


def server_environment(spec: StdioServer, environ: Mapping[str, str]) -> dict[str, str]:
    """What a stdio server gets on top of the SDK's minimal environment."""
    env = {k: environ[k] for k in PASSED_THROUGH if k in environ}
    env.update(reveal_all(spec.env))
    return env


class _Server:
    """One server's connection, held open by its own task (the SDK's task groups must be
    entered and left in the same task)."""

    def __init__(self, spec: StdioServer | HttpServer, environ: Mapping[str, str]) -> None:
        self.spec = spec
        self._environ = environ
        self.session: ClientSession | None = None
        self.alive = False
        self.listed: list[ListedTool] = []
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self.stderr: StderrToLog | None = None
        self.task = asyncio.create_task(self._serve(), name=f"mcp-server-{spec.name}")

    async def started(self, timeout_s: float) -> None:
        """Wait until the tools are listed; raise the start failure (or TimeoutError)."""
        async with asyncio.timeout(timeout_s):
            await asyncio.shield(self._ready)

    async def stop(self) -> None:
        self._stop.set()
        if not self._ready.done():
            self.task.cancel()  # still starting: it is not waiting for the stop event yet
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await asyncio.shield(self.task)
        except TimeoutError:
            logger.warning("MCP server %s did not stop within %s s", self.spec.name, STOP_TIMEOUT_S)
            self.task.cancel()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are cancelled ourselves, not just the server's task
        except Exception:  # its failure was already reported by started()
            pass
        finally:
            self.alive = False

    async def _serve(self) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await self._open(stack)
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                self.listed = await _list_tools(session, self.spec.name)
                self.session, self.alive = session, True
                self._ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
            if not isinstance(exc, Exception):
                raise
            if self.alive:
                logger.warning("MCP server %s ended: %s", self.spec.name, _reason(exc))
        finally:
            self.alive = False
            if self.stderr is not None:
                self.stderr.close()

    async def _open(self, stack: contextlib.AsyncExitStack) -> Any:
        spec = self.spec
        if isinstance(spec, StdioServer):
            self.stderr = StderrToLog(spec.name)
            params = StdioServerParameters(
                command=spec.command,
                args=list(spec.args),
                env=server_environment(spec, self._environ),
                cwd=spec.cwd,
            )
            streams = await stack.enter_async_context(
                stdio_client(params, errlog=self.stderr.writer)
            )
            self.stderr.spawned()
            return streams
        client = await stack.enter_async_context(
            httpx2.AsyncClient(
                headers=reveal_all(spec.headers), timeout=httpx2.Timeout(30.0, read=300.0)
            )
        )
        return await stack.enter_async_context(streamable_http_client(spec.url, http_client=client))


async def _list_tools(session: ClientSession, server: str) -> list[ListedTool]:
    listed: list[ListedTool] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        for tool in page.tools:
            listed.append(
                ListedTool(server, tool.name, tool.description or "", dict(tool.input_schema or {}))
            )
        cursor = page.next_cursor
        if not cursor:
            break
    return listed


class McpServers:
    """See the module docstring. Use as ``async with McpServers(specs) as servers:``."""

    def __init__(
        self,
        specs: Sequence[StdioServer | HttpServer],
        *,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
        call_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S,
        max_result_chars: int = DEFAULT_MAX_CHARS,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._specs = list(specs)
        self._start_timeout_s = start_timeout_s
        self.call_timeout_s = call_timeout_s
        self._max_chars = max_result_chars
        self._environ = os.environ if environ is None else environ
        self._servers: dict[str, _Server] = {}
        self._closed = False

    async def __aenter__(self) -> McpServers:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> StartReport:
        """Start every server at once; the report lists the tools and the ones left out."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        servers = [_Server(spec, self._environ) for spec in self._specs]
        self._servers = {s.spec.name: s for s in servers}
        results = await asyncio.gather(
            *(s.started(self._start_timeout_s) for s in servers), return_exceptions=True
        )
        report = StartReport()
        for server, result in zip(servers, results, strict=True):
            name = server.spec.name
            if isinstance(result, BaseException):
                if isinstance(result, TimeoutError):
                    why = f"it did not answer within {self._start_timeout_s:g} s"
                else:
                    why = _reason(result)
                report.failures.append(
                    f"MCP server {name!r} did not start ({why}); it is left out."
                )
                logger.warning("MCP server %s did not start: %r", name, _reason(result))
                await server.stop()
                del self._servers[name]
                continue
            report.tools.extend(server.listed)
            report.seconds[name] = loop.time() - began
            logger.info("MCP server %s: %d tools", name, len(server.listed))
        return report

    async def call(
        self, server: str, tool: str, arguments: dict[str, Any], timeout_s: float | None = None
    ) -> ToolOutcome:
        """Run ``tool`` on ``server``; see the module docstring for what comes back."""
        limit = self.call_timeout_s if timeout_s is None else timeout_s
        running = self._servers.get(server)
        if running is None or not running.alive or running.session is None:
            return ToolOutcome("error", f"the MCP server {server} is not running")
        try:
            async with asyncio.timeout(limit):
                result = await running.session.call_tool(tool, arguments)
        except TimeoutError:
            return ToolOutcome("timeout", timeout_s=limit)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                running.alive = False
                return ToolOutcome("error", f"the MCP server {server} stopped during the call")
            return ToolOutcome("error", exc.message or f"MCP error {exc.code}")
        except (OSError, RuntimeError) as exc:
            return ToolOutcome("error", f"the call to {server} failed: {_reason(exc)}")
        return format_result(
            [block.model_dump() for block in result.content],
            result.structured_content,
            bool(result.is_error),
            self._max_chars,
        )

    async def aclose(self) -> None:
        """Stop every server (concurrently); safe to call twice and under cancellation."""
        if self._closed:
            return
        self._closed = True
        servers = list(self._servers.values())
        if servers:
            await asyncio.shield(asyncio.gather(*(s.stop() for s in servers)))


def _reason(exc: BaseException) -> str:
    """The innermost plain message of an exception (task groups wrap them in groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"no such command: {exc.filename}" if exc.filename else "command not found"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
        return "it closed the connection; its stderr is in the log"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
