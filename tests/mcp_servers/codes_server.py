"""A small MCP server for the tools tests, written with the official SDK (real part, not a fake).

Tools: ``lookup_code(word)`` (a fixed code book), ``slow(seconds)`` (sleeps), ``crash()`` (the
process exits mid-call), ``fail(message)`` (a tool error), ``shout(text)`` (stderr noise),
``big(size)`` (a long result) and ``pid()``.

Run as ``python codes_server.py`` for stdio, or ``python codes_server.py --http`` for streamable
HTTP on 127.0.0.1 with a free port, printed on stdout as ``PORT <n>`` once listening.
If ``CODES_SERVER_PID_FILE`` is set, the process writes its pid there at start-up, so a test can
check by pid that the client left no process behind. If ``CODES_SERVER_LINGER`` is set, a
non-daemon thread keeps the process alive after its stdin closes (a server that does not exit
on its own), so only the client's kill escalation ends it.
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

CODES = {"lighthouse": "LH-42", "harbour": "HB-07", "anchor": "AN-13"}

server = MCPServer("codes")


@server.tool()
def lookup_code(word: str) -> str:
    """The code for a word in the code book."""
    code = CODES.get(word.lower())
    if code is None:
        raise ToolError(f"no code for {word!r}")
    return code


@server.tool()
async def slow(seconds: float) -> str:
    """Waits ``seconds`` and then answers ``done``."""
    await asyncio.sleep(seconds)
    return "done"


@server.tool()
def crash() -> str:
    """Ends the server process in the middle of the call."""
    os._exit(3)


@server.tool()
def shout(text: str) -> str:
    """Writes ``text`` to stderr and answers ``ok``."""
    print(f"SHOUT {text}", file=sys.stderr, flush=True)
    return "ok"


@server.tool()
def big(size: int) -> str:
    """A result of ``size`` characters."""
    return "x" * size


@server.tool()
def env(name: str) -> str:
    """The value of an environment variable in the server, or ``<unset>``."""
    return os.environ.get(name, "<unset>")


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


async def _serve_http() -> None:
    import socket

    import uvicorn

    # Bound and listening before uvicorn runs: the port can be announced at once, and a client
    # that connects early waits in the backlog.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning")
    await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    pid_file = os.environ.get("CODES_SERVER_PID_FILE")
    if pid_file:
        _write(pid_file, str(os.getpid()))
    if os.environ.get("CODES_SERVER_LINGER"):
        import threading
        import time

        threading.Thread(target=time.sleep, args=(120,), daemon=False).start()
    if sys.argv[1:] == ["--http"]:
        asyncio.run(_serve_http())
    else:
        server.run()
