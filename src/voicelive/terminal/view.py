"""Terminal rendering of the transcript (both sides) and a one-line status.

On a terminal the status (``listening``, ``hearing you``, ``thinking``, ``speaking``,
``interrupted``) is drawn on the last line with the live figures (:meth:`TerminalView.figures`:
the microphone's level, the tokens, the session's time left) and rewritten in place, only when
its text changed: the new text over the old, then the rest of the line erased, never a blank
line in between (no flicker) and never a full-screen clear; when only some characters changed
(the meter moved), only those, leaving what the user is typing on screen. Its text is
:func:`~voicelive.terminal.status_line.compose`'s, cut to the terminal's width so it never
wraps. Transcript lines scroll above it and the assistant's words stream onto their line as
they arrive. When stdout is not a terminal (a pipe, a file, CI) everything is plain lines:
status changes as ``[status]`` lines and each assistant reply as one line when it ends; the
figures are not shown.

Call from the event loop thread only. :meth:`TerminalView.close` leaves the cursor at the start
of a clean line; call it on every exit path.
"""

from __future__ import annotations

import shutil
import sys
from typing import Protocol, TextIO

from voicelive.terminal.status_line import compose

_CLEAR_LINE = "\r\x1b[K"
_ERASE_TO_END = "\x1b[K"
_SAVE_CURSOR = "\x1b7"
_RESTORE_CURSOR = "\x1b8"
_DIM = "\x1b[2m"
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


class View(Protocol):
    def status(self, state: str) -> None: ...
    def user(self, text: str, *, typed: bool = False) -> None: ...
    def assistant_delta(self, item_id: str, delta: str) -> None: ...
    def assistant_end(self, item_id: str, interrupted: bool, text: str) -> None: ...
    def notice(self, level: str, text: str) -> None: ...
    def set_muted(self, muted: bool) -> None: ...
    def tool_status(self, text: str | None, *, ask: bool = False) -> None: ...
    def line_typed(self, line: str) -> None: ...
    def figures(self, text: str) -> None: ...
    def close(self) -> None: ...
    @property
    def redraws_status(self) -> bool:
        """True when the status line is redrawn in place: only then are figures shown."""
        ...


class TerminalView:
    """See the module docstring. ``tty`` defaults to ``stream.isatty()``."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self._out = stream if stream is not None else sys.stdout
        self._tty = self._out.isatty() if tty is None else tty
        self._state = ""
        self._muted = False
        self._tool: str | None = None
        self._figures = ""
        self._status_drawn = False
        self._status_text = ""  # as drawn last, while _status_drawn
        self._status_width = 0
        self._open_item: str | None = None  # assistant line being streamed (tty)

    # -------------------------------------------------------------- helpers

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def _clear_status(self) -> None:
        if self._status_drawn:
            self._write(_CLEAR_LINE)
            self._status_drawn = False

    def _end_open_line(self, suffix: str = "") -> None:
        if self._open_item is not None:
            self._write(suffix + "\n")
            self._open_item = None

    def _draw_status(self) -> None:
        """(Re)draw the status line in place, unless it is on screen with this text already."""
        if not (self._tty and self._open_item is None and self._state):
            return
        columns = shutil.get_terminal_size().columns
        text = compose(
            self._state,
            muted=self._muted,
            tool=self._tool,
            figures=self._figures,
            width=columns - 1,  # the last column would leave the cursor waiting to wrap
        )
        if self._status_drawn and len(text) == len(self._status_text):
            self._redraw_changed(text)
            return
        self._write(f"\r{_DIM}{text}{_RESET}{_ERASE_TO_END}")
        self._status_drawn = True
        self._status_text = text
        self._status_width = len(text)

    def _redraw_changed(self, text: str) -> None:
        """Rewrite only the characters that changed (a line of the same length: the meter
        moved), the cursor saved and restored around it. So what the user is typing, which
        the terminal echoes after the status line, stays on screen; it wraps only when it
        is longer than the room the status line leaves."""
        old = self._status_text
        if text == old:
            return
        first = next(i for i, (a, b) in enumerate(zip(text, old, strict=True)) if a != b)
        last = len(text) - next(
            i for i, (a, b) in enumerate(zip(reversed(text), reversed(old), strict=True)) if a != b
        )
        right = f"\x1b[{first}C" if first else ""
        self._write(f"{_SAVE_CURSOR}\r{right}{_DIM}{text[first:last]}{_RESET}{_RESTORE_CURSOR}")
        self._status_text = text

    def _line(self, text: str) -> None:
        if self._tty:
            self._clear_status()
            self._end_open_line()
            self._write(text + "\n")
            self._draw_status()
        else:
            self._write(text + "\n")

    # -------------------------------------------------------------- View

    def status(self, state: str) -> None:
        if state == self._state:
            return
        self._state = state
        if self._tty:
            self._draw_status()
        else:
            self._write(f"[{state}]\n")

    def user(self, text: str, *, typed: bool = False) -> None:
        who = "you (typed):" if typed else "you:"
        self._line(f"{_BOLD}{who}{_RESET} {text}" if self._tty else f"{who} {text}")

    def assistant_delta(self, item_id: str, delta: str) -> None:
        if not self._tty:
            return  # plain mode prints the whole line at its end
        if self._open_item != item_id:
            self._clear_status()
            self._end_open_line()
            self._write(f"{_BOLD}assistant:{_RESET} ")
            self._open_item = item_id
        self._write(delta)

    def assistant_end(self, item_id: str, interrupted: bool, text: str) -> None:
        """The line of ``item_id`` is over; ``text`` is all of it (plain mode prints it)."""
        mark = " [interrupted]" if interrupted else ""
        if not self._tty:
            self._write(f"assistant: {text}{mark}\n")
            return
        if self._open_item == item_id:
            self._end_open_line(f"{_DIM}{mark}{_RESET}" if mark else "")
            self._draw_status()

    def notice(self, level: str, text: str) -> None:
        prefix = {"error": "error: ", "warning": "warning: "}.get(level, "")
        self._line(f"{prefix}{text}")

    def set_muted(self, muted: bool) -> None:
        """Show (or stop showing) that the microphone is muted, in the status line."""
        self._muted = muted
        if self._tty:
            self._draw_status()
        else:
            self._write(f"[microphone {'muted' if muted else 'on'}]\n")

    def tool_status(self, text: str | None, *, ask: bool = False) -> None:
        """A tool's question (``ask``) or ``running codes.lookup_code · 2.4 s`` in the status
        line, or None to clear it. Without a terminal, only questions are printed."""
        if text == self._tool:
            return
        self._tool = text
        if self._tty:
            self._draw_status()
        elif text and ask:
            self._write(f"[{text}]\n")

    @property
    def redraws_status(self) -> bool:
        return self._tty

    def figures(self, text: str) -> None:
        """The live figures (the level meter, the tokens, the time left) for the status line;
        a terminal only (plain mode ignores them). Redrawn only when the line's text changes."""
        if not self._tty or text == self._figures:
            return
        self._figures = text
        self._draw_status()

    def line_typed(self, line: str) -> None:
        """The terminal echoed a typed line after the status: take it back off the screen.

        Only when the status line was the last thing drawn (the echo then sits on it); the
        typed words come back as a ``you (typed):`` line when they are a message.
        """
        if not (self._tty and self._status_drawn):
            return
        columns = shutil.get_terminal_size().columns
        rows = max(1, -(-(self._status_width + len(line)) // max(1, columns)))
        self._write(f"\x1b[{rows}A\r\x1b[J")  # up to where the status began, clear below
        self._status_drawn = False
        self._draw_status()

    def close(self) -> None:
        if self._tty:
            self._clear_status()
            self._end_open_line()
        self._out.flush()
