"""The keyboard task: reads lines from stdin without blocking the event loop.

``q`` (or ``quit``/``exit``) + Enter asks to quit; an empty line (Enter) is a turn command
(end your turn when VAD is off, otherwise interrupt the assistant). The terminal stays in its
normal line mode, so there is nothing to restore; Ctrl+C reaches the process as SIGINT.
End of input (Ctrl+D, a closed pipe, ``/dev/null`` in CI) stops only this reader: the
conversation goes on and Ctrl+C / SIGTERM still quit.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)

QUIT_WORDS = frozenset({"q", "quit", "exit"})


async def read_lines(fd: int, on_line: Callable[[str], None]) -> None:
    """Call ``on_line`` (on the loop thread) for each line read from ``fd`` until EOF.

    Uses ``loop.add_reader`` (no thread, no polling); for a regular file, which cannot be
    watched, the lines are read at once. Cancel-safe: the reader is removed on cancel.
    """
    loop = asyncio.get_running_loop()
    buffer = b""
    eof = asyncio.Event()

    def feed(data: bytes) -> None:
        nonlocal buffer
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            on_line(line.decode(errors="replace").strip())

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            feed(data)
        else:
            eof.set()

    try:
        loop.add_reader(fd, readable)
    except (ValueError, OSError):
        # A regular file (e.g. `< commands.txt`) cannot be watched with epoll; it never blocks.
        # A descriptor that cannot be read at all (closed, or opened write-only as `nohup`
        # does) just means there is no keyboard.
        try:
            while data := os.read(fd, 65536):
                feed(data)
        except OSError as exc:
            log.info("keyboard: stdin cannot be read (%s); no keyboard, the session goes on", exc)
            return
        log.info("keyboard: end of input (file); the key reader stops, the session goes on")
        return
    try:
        await eof.wait()
        if buffer:
            feed(b"\n")
        log.info("keyboard: end of input; the key reader stops, the session goes on")
    finally:
        loop.remove_reader(fd)
