"""The terminal view: what reaches the screen, on a terminal and in plain mode."""

from __future__ import annotations

import io
import re

import pytest

from voicelive.terminal.status_line import HINT
from voicelive.terminal.view import TerminalView


def test_plain_mode_prints_lines_status_and_a_cut_reply_with_its_mark() -> None:
    out = io.StringIO()
    view = TerminalView(out, tty=False)
    view.status("listening")
    view.user("hello", typed=True)
    view.assistant_delta("a1", "Hi ")
    view.assistant_delta("a1", "there")
    view.assistant_end("a1", interrupted=True, text="Hi there")
    view.set_muted(True)
    view.close()
    assert out.getvalue().splitlines() == [
        "[listening]",
        "you (typed): hello",
        "assistant: Hi there [interrupted]",
        "[microphone muted]",
    ]


def test_a_typed_line_echoed_after_the_status_is_taken_off_the_screen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    out = io.StringIO()
    view = TerminalView(out, tty=True)
    view.status("speaking")
    drawn = out.getvalue()
    assert drawn.endswith("[speaking]  /help · q + Enter to quit\x1b[0m\x1b[K")
    view.line_typed("hi")  # 38 + 2 columns: the echo took one row
    assert out.getvalue()[len(drawn) :].startswith("\x1b[1A\r\x1b[J")
    mark = len(out.getvalue())
    view.line_typed("a much longer line that wraps")  # 38 + 29 columns: two rows
    assert out.getvalue()[mark:].startswith("\x1b[2A\r\x1b[J")
    view.set_muted(True)  # 40 columns: no room left for the hint
    assert out.getvalue().endswith("\r\x1b[2m[speaking · microphone muted]\x1b[0m\x1b[K")


def test_no_erasing_when_the_status_was_not_the_last_thing_drawn() -> None:
    out = io.StringIO()
    view = TerminalView(out, tty=True)
    view.status("speaking")
    view.assistant_delta("a1", "streaming words")  # the echo would sit on this line
    before = out.getvalue()
    view.line_typed("hi")
    assert out.getvalue() == before


def draws(output: str) -> list[str]:
    """The status lines drawn, in order (each an in-place redraw: ``\\r``, text, erase)."""
    return re.findall(r"\r\x1b\[2m(.*?)\x1b\[0m\x1b\[K", output)


def test_the_status_line_is_redrawn_in_place_and_only_when_its_text_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    out = io.StringIO()
    view = TerminalView(out, tty=True)
    assert view.redraws_status
    view.status("listening")
    view.figures("mic ▕██      ▏ -45 dBFS")
    drawn = len(out.getvalue())
    view.figures("mic ▕██      ▏ -45 dBFS")  # the same: nothing written
    view.status("listening")
    view.set_muted(False)  # the same line again
    assert len(out.getvalue()) == drawn
    # the meter moved, the line kept its length: only the characters that changed
    view.figures("mic ▕███     ▏ -40 dBFS")
    first = len("[listening]  mic ▕██")
    assert out.getvalue()[drawn:] == f"\x1b7\r\x1b[{first}C\x1b[2m█     ▏ -40\x1b[0m\x1b8"
    view.tool_status("run codes.lookup? y/n/a", ask=True)
    view.figures("mic ▕███     ▏ -40 dBFS · tokens 10 in / 20 out")
    output = out.getvalue()
    assert draws(output) == [  # the whole line: at first, and each time its length changed
        f"[listening]  {HINT}",
        f"[listening]  mic ▕██      ▏ -45 dBFS  {HINT}",
        "[listening]  run codes.lookup? y/n/a  mic ▕███     ▏ -40 dBFS",
        "[listening]  run codes.lookup? y/n/a  mic ▕███     ▏ -40 dBFS · tokens 10 in / 20 out",
    ]
    # in place: no new line, no screen clear, no blank line drawn before the text
    assert "\n" not in output and "\x1b[2J" not in output and "\x1b[H" not in output
    assert "\r\x1b[K" not in output
    # a transcript line scrolls above it, and the line comes back with its figures
    view.user("hello")
    assert draws(out.getvalue())[-1].endswith("tokens 10 in / 20 out")


def test_the_status_line_never_wraps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "50")
    out = io.StringIO()
    view = TerminalView(out, tty=True)
    view.status("listening")
    view.figures("mic ▕███     ▏ -40 dBFS · tokens 10 in / 20 out · 57 min left")
    line = draws(out.getvalue())[-1]
    assert line == "[listening]  mic ▕███     ▏ -40 dBFS · tokens 10…"
    assert len(line) == 49


def test_plain_mode_shows_no_figures() -> None:
    out = io.StringIO()
    view = TerminalView(out, tty=False)
    assert not view.redraws_status
    view.status("listening")
    view.figures("mic ▕███     ▏ -40 dBFS")
    view.figures("mic ▕████    ▏ -30 dBFS · tokens 1 in / 2 out")
    assert out.getvalue() == "[listening]\n"
