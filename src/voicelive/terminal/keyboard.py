"""The keyboard task: reads lines from stdin without blocking the event loop.

``q`` (or ``quit``/``exit``) + Enter asks to quit; an empty line (Enter) is a turn command
(end your turn when VAD is off, otherwise interrupt the assistant). The terminal stays in its
normal line mode, so there is nothing to restore; Ctrl+C reaches the process as a signal.
End of input (Ctrl+D / Ctrl+Z Enter, a closed pipe, ``/dev/null`` in CI) stops only this
reader: the conversation goes on and Ctrl+C / SIGTERM still quit.

Two ways to wait for input, chosen in one place (:func:`read_lines`):

- **watched** (POSIX): ``loop.add_reader`` on the descriptor; no thread, no polling.
- **threaded**: a daemon thread does blocking reads and hands each complete line to the loop
  with ``call_soon_threadsafe``. Used on Windows, where the Proactor loop has no
  ``add_reader`` and a selector loop can only watch sockets, and wherever ``add_reader``
  refuses the descriptor: a regular file (``< commands.txt``; epoll refuses it), a
  descriptor that cannot be polled (``/dev/null`` under epoll; a terminal under macOS's
  kqueue in some terminal emulators, EINVAL), a loop without ``add_reader``. It also covers
  a descriptor that cannot be read at all (opened write-only, as ``nohup`` leaves it): the
  first read fails and that only means there is no keyboard.

A blocking read cannot be interrupted portably, so cancelling the threaded reader returns at
once and leaves its thread blocked in ``read`` until the next line or end of input; it is a
daemon thread, so it never holds the interpreter open, and what it reads after the cancel is
dropped. On Windows, Ctrl+C ends a console read in another thread as if input had ended, which
is harmless here: the same Ctrl+C quits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Final, TypeVar

log = logging.getLogger(__name__)


ALWAYS_THREADED: Final = sys.platform == "win32"
"""True where the threaded reader is used without trying ``add_reader`` first (Windows)."""

THREAD_NAME: Final = "voicelive-keyboard"
_CHUNK: Final = 4096
_T = TypeVar("_T")


class _LineSplitter:
    """Bytes in, stripped text lines out (to ``emit``); keeps a partial last line. One thread."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._buffer = b""

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            self._emit(line.decode(errors="replace").strip())

    def finish(self) -> None:
        """End of input: a last line without its newline still counts."""
        if self._buffer:
            self.feed(b"\n")


async def read_lines(fd: int, on_line: Callable[[str], None]) -> None:
    """Call ``on_line`` (on the loop thread) for each line read from ``fd`` until end of input.

    Lines are decoded (UTF-8, errors replaced) and stripped (so ``\\r\\n`` endings work); a
    final line without a newline is delivered at end of input. Returns at end of input or
    when ``fd`` cannot be read; never raises for either. Cancel-safe: returns promptly when
    cancelled, on both paths (see the module docstring for the threaded reader's thread).
    """
    if ALWAYS_THREADED:
        await read_lines_threaded(fd, on_line)
        return
    loop = asyncio.get_running_loop()
    lines = _LineSplitter(on_line)
    eof = asyncio.Event()

    def readable() -> None:
        try:
            data = os.read(fd, _CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            lines.feed(data)
        else:
            eof.set()

    try:
        loop.add_reader(fd, readable)
    except (NotImplementedError, ValueError, OSError) as exc:
        log.debug("keyboard: fd %d cannot be watched (%r); reading it in a thread", fd, exc)
        await read_lines_threaded(fd, on_line)
        return
    try:
        await eof.wait()
        lines.finish()
        log.info("keyboard: end of input; the key reader stops, the session goes on")
    finally:
        loop.remove_reader(fd)


async def read_lines_threaded(fd: int, on_line: Callable[[str], None]) -> None:
    """:func:`read_lines` through a daemon thread doing blocking ``os.read`` calls on ``fd``.

    The thread splits the bytes into lines and hands each to ``on_line`` on the loop thread
    with ``call_soon_threadsafe``, in order; end of input (or a read error) is handed over
    the same way, after the last line, and then this coroutine returns. Works with any
    readable descriptor (pipe, terminal, console, regular file) on every platform.
    Cancel-safe: returns at once; the thread drops whatever it reads afterwards and ends at
    its next read's return, or with the interpreter (daemon).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[OSError | None] = loop.create_future()
    stopped = threading.Event()

    def deliver(line: str) -> None:  # loop thread
        if not stopped.is_set():
            on_line(line)

    def finish(error: OSError | None) -> None:  # loop thread
        if not done.done():
            done.set_result(error)

    def post(callback: Callable[[_T], None], arg: _T) -> None:  # reader thread
        """Schedule ``callback(arg)`` on the loop; once the loop is closed, stop reading."""
        try:
            loop.call_soon_threadsafe(callback, arg)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stopped.set()

    def pump() -> None:  # reader thread
        splitter = _LineSplitter(lambda line: post(deliver, line))
        error: OSError | None = None
        try:
            while not stopped.is_set():
                data = os.read(fd, _CHUNK)
                if not data:
                    break
                splitter.feed(data)
        except OSError as exc:
            error = exc
        if not stopped.is_set():
            if error is None:
                splitter.finish()
            post(finish, error)

    thread = threading.Thread(target=pump, name=THREAD_NAME, daemon=True)
    thread.start()
    try:
        error = await done
    finally:
        stopped.set()
    if error is not None:
        log.info("keyboard: stdin cannot be read (%s); no keyboard, the session goes on", error)
    else:
        log.info("keyboard: end of input; the key reader stops, the session goes on")
