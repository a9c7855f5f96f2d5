"""The one quit path: a request set once, by a key, a signal or the end of a headless run.

Every long-running part of the chat waits on :attr:`Quit.event` (the orchestrator cancels what
is still running when it fires). A second signal while the orderly shutdown is under way
calls :attr:`Quit.force`, which the orchestrator sets to an immediate exit.
Loop thread only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from voicelive.errors import EXIT_OK

log = logging.getLogger(__name__)


class Quit:
    """See the module docstring."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.code = EXIT_OK
        self.reason = ""
        self.force: Callable[[int], None] | None = None

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def set(self, code: int, reason: str) -> None:
        """Ask for an orderly quit with this exit code (the first request wins)."""
        if not self.event.is_set():
            self.code, self.reason = code, reason
            log.info("quit requested: %s (exit %d)", reason, code)
            self.event.set()

    def signal(self, code: int, reason: str) -> None:
        """A signal (Ctrl+C, SIGTERM): the first asks for an orderly quit, a second forces it."""
        if self.event.is_set() and self.force is not None:
            log.warning("%s again during shutdown: exiting at once (exit %d)", reason, code)
            self.force(code)
            return
        self.set(code, reason)
