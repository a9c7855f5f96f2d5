"""The terminal view: what reaches the screen, on a terminal and in plain mode."""

from __future__ import annotations

import io

import pytest

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
    assert drawn.endswith("[speaking]  /help · q + Enter to quit\x1b[0m")
    view.line_typed("hi")  # 38 + 2 columns: the echo took one row
    assert out.getvalue()[len(drawn) :].startswith("\x1b[1A\r\x1b[J")
    mark = len(out.getvalue())
    view.line_typed("a much longer line that wraps")  # 38 + 29 columns: two rows
    assert out.getvalue()[mark:].startswith("\x1b[2A\r\x1b[J")
    view.set_muted(True)
    assert out.getvalue().endswith(
        "[speaking · microphone muted]  /help · q + Enter to quit\x1b[0m"
    )


def test_no_erasing_when_the_status_was_not_the_last_thing_drawn() -> None:
    out = io.StringIO()
    view = TerminalView(out, tty=True)
    view.status("speaking")
    view.assistant_delta("a1", "streaming words")  # the echo would sit on this line
    before = out.getvalue()
    view.line_typed("hi")
    assert out.getvalue() == before
