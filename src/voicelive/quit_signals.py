"""Quit signals on every platform: Ctrl+C, SIGTERM, Ctrl+Break, delivered to the event loop.

::

    POSIX    SIGINT  (Ctrl+C)      exit 130   loop.add_signal_handler
             SIGTERM (kill, stop)  exit 143
    Windows  SIGINT  (Ctrl+C)      exit 130   signal.signal + loop.call_soon_threadsafe
             SIGBREAK (Ctrl+Break) exit 130

The platform choice is made here, once (:data:`USES_LOOP_HANDLERS`, :func:`quit_signal_table`).
Windows has no ``SIGTERM`` from outside (``TerminateProcess`` kills without a signal), and its
Proactor loop has no ``add_signal_handler``; there a Python-level handler runs on the main
thread between bytecodes and hands the signal to the loop with ``call_soon_threadsafe`` (the
loop's self-pipe/wakeup socket wakes it). Closing the console window also reaches the C runtime
as SIGBREAK, but Windows ends the process as soon as the C handler returns, before any Python
code runs: only Ctrl+C and Ctrl+Break can be caught.

Every signal calls ``on_signal(code, name)``, on the loop thread, each time it arrives: the
caller decides what a repeat means. voicelive's rule is "a second Ctrl+C forces an immediate
exit": the first call asks for an orderly shutdown, a call while that shutdown is already
under way ends the process at once::

    def on_signal(code: int, name: str) -> None:
        if quit.event.is_set():   # the orderly shutdown did not finish: give up on it
            os._exit(code)
        quit.set(code, name)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, Final, NamedTuple

from voicelive.errors import EXIT_INTERRUPTED, EXIT_TERMINATED

log = logging.getLogger(__name__)

OnSignal = Callable[[int, str], None]
"""``on_signal(exit_code, name)``: called on the event loop thread for every signal received."""

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
"""What ``signal.getsignal`` returns (None: a handler not set from Python)."""

USES_LOOP_HANDLERS: Final = sys.platform != "win32"
"""True where ``loop.add_signal_handler`` is used (POSIX); else ``signal.signal`` (Windows)."""


class QuitSignal(NamedTuple):
    signum: int
    code: int
    name: str


def quit_signal_table() -> tuple[QuitSignal, ...]:
    """The signals that ask voicelive to quit on this platform, with exit code and name."""
    if sys.platform == "win32":
        return (
            QuitSignal(signal.SIGINT, EXIT_INTERRUPTED, "Ctrl+C"),
            QuitSignal(signal.SIGBREAK, EXIT_INTERRUPTED, "Ctrl+Break"),
        )
    return (
        QuitSignal(signal.SIGINT, EXIT_INTERRUPTED, "Ctrl+C"),
        QuitSignal(signal.SIGTERM, EXIT_TERMINATED, "SIGTERM"),
    )


@contextlib.contextmanager
def install_quit_signals(on_signal: OnSignal) -> Iterator[tuple[str, ...]]:
    """Deliver this platform's quit signals to ``on_signal`` while the context is open.

    Call from a coroutine on the running loop, in the main thread. Yields the names of the
    signals handled (empty when none can be: not the main thread, or a loop that supports
    neither way). On exit, the handlers that were there before are put back, exactly.
    Never raises for a signal it cannot handle; logs it instead.
    """
    table = quit_signal_table()
    installer = _loop_handlers if USES_LOOP_HANDLERS else _signal_module_handlers
    with installer(table, on_signal) as names:
        yield names


@contextlib.contextmanager
def _loop_handlers(table: tuple[QuitSignal, ...], on_signal: OnSignal) -> Iterator[tuple[str, ...]]:
    """POSIX: ``loop.add_signal_handler`` (the loop's own wakeup pipe, no Python frame is
    interrupted); for a loop without it, the signal module way."""
    loop = asyncio.get_running_loop()
    installed: list[tuple[QuitSignal, _Handler]] = []
    try:
        for entry in table:
            before = signal.getsignal(entry.signum)
            try:
                loop.add_signal_handler(entry.signum, on_signal, entry.code, entry.name)
            except NotImplementedError:
                break  # this loop cannot: the fallback below
            except (RuntimeError, ValueError) as exc:  # not the main thread
                log.info("cannot handle %s here (%s)", entry.name, exc)
                continue
            installed.append((entry, before))
        else:
            yield tuple(entry.name for entry, _ in installed)
            return
    finally:
        for entry, before in reversed(installed):
            loop.remove_signal_handler(entry.signum)
            if before is not None:  # None: set outside Python, cannot be put back
                signal.signal(entry.signum, before)
    with _signal_module_handlers(table, on_signal) as names:
        yield names


@contextlib.contextmanager
def _signal_module_handlers(
    table: tuple[QuitSignal, ...], on_signal: OnSignal
) -> Iterator[tuple[str, ...]]:
    """Windows (and loops without ``add_signal_handler``): ``signal.signal`` handlers that
    pass each signal to the loop with ``call_soon_threadsafe``. Python runs them on the main
    thread between two bytecodes, anywhere; scheduling keeps ``on_signal`` out of that frame.
    """
    loop = asyncio.get_running_loop()
    by_signum = {entry.signum: entry for entry in table}

    def handler(signum: int, frame: FrameType | None) -> None:
        entry = by_signum[signum]
        loop.call_soon_threadsafe(on_signal, entry.code, entry.name)

    previous: list[tuple[int, _Handler]] = []
    try:
        for entry in table:
            try:
                before = signal.signal(entry.signum, handler)
            except (ValueError, OSError) as exc:  # not the main thread
                log.info("cannot handle %s here (%s)", entry.name, exc)
                continue
            previous.append((entry.signum, before))
        yield tuple(by_signum[signum].name for signum, _ in previous)
    finally:
        for signum, before in reversed(previous):
            signal.signal(signum, before if before is not None else signal.SIG_DFL)
