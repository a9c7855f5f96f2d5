"""A stdio MCP server's stderr, sent line by line to the log instead of the terminal.

The server writes into an OS pipe; a daemon thread reads the other end and logs each line at
INFO under ``voicelive.tools.stderr_log`` with the server's name, until end of file (when the
server and every child holding the pipe have exited). A thread, not the event loop, so it works
the same on every platform and never competes with audio for the loop.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TextIO

logger = logging.getLogger(__name__)

_MAX_LINE = 2000


class StderrToLog:
    """Owns one pipe. :attr:`writer` is what the server's stderr is set to; call
    :meth:`spawned` once the process exists (the parent's copy of the write end is closed, so
    end of file comes when the server's side closes), or :meth:`close` if spawning failed."""

    def __init__(self, server: str) -> None:
        read_fd, write_fd = os.pipe()
        self._server = server
        self.writer: TextIO = os.fdopen(write_fd, "w", encoding="utf-8", errors="replace")
        self._reader = os.fdopen(read_fd, "rb")
        self._thread = threading.Thread(target=self._pump, name=f"mcp-stderr-{server}", daemon=True)
        self._thread.start()

    def spawned(self) -> None:
        if not self.writer.closed:
            self.writer.close()

    close = spawned

    def join(self, timeout: float) -> bool:
        """Wait for end of file (for tests and an orderly exit); True if the reader ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _pump(self) -> None:
        try:
            with self._reader:
                for raw in self._reader:
                    line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    if line:
                        logger.info("[mcp %s] %s", self._server, line[:_MAX_LINE])
        except (OSError, ValueError):  # the pipe went away under us at exit
            pass
