"""The key reader, both ways, for real on pipes and files: lines in order, partial lines, end
of input, cancellation, unreadable stdin. The threaded reader is the one Windows uses; here it
runs on a Linux pipe, the same blocking-read code path."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from voicelive.terminal import keyboard
from voicelive.terminal.keyboard import THREAD_NAME, read_lines, read_lines_threaded
from voicelive.terminal.typed_commands import QUIT_WORDS

GUARD_S = 5.0
"""Only a guard: every wait below ends on an event, far sooner."""

Reader = Callable[[int, Callable[[str], None]], Coroutine[Any, Any, None]]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    fds = {read_end, write_end}
    yield read_end, write_end
    for fd in fds:
        with contextlib.suppress(OSError):  # already closed by the test
            os.close(fd)


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def join_reader_threads() -> None:
    """Wait (bounded) for reader threads to end; they end once their read returns."""
    for thread in reader_threads():
        thread.join(GUARD_S)
    assert reader_threads() == []


class Lines:
    """Collects lines on the loop thread; ``next()`` waits for the next one."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.threads: set[int] = set()

    def __call__(self, line: str) -> None:
        self.threads.add(threading.get_ident())
        self.queue.put_nowait(line)

    async def next(self) -> str:
        return await asyncio.wait_for(self.queue.get(), GUARD_S)


@pytest.mark.parametrize("reader", [read_lines, read_lines_threaded], ids=["auto", "threaded"])
async def test_lines_arrive_in_order_partial_lines_wait_and_end_of_input_returns(
    pipe: tuple[int, int], reader: Reader
) -> None:
    read_end, write_end = pipe
    lines = Lines()
    task = asyncio.ensure_future(reader(read_end, lines))
    os.write(write_end, b"hello\n\n")
    assert await lines.next() == "hello"
    assert await lines.next() == ""  # Enter alone is a command too
    os.write(write_end, b"par")  # half a line: nothing yet
    os.write(write_end, b"tial\r\nq\n")  # the rest, with a Windows console ending
    assert await lines.next() == "partial"
    assert await lines.next() == "q" and "q" in QUIT_WORDS
    assert lines.queue.empty()
    os.write(write_end, b"last words without a newline")
    os.close(write_end)
    await asyncio.wait_for(task, GUARD_S)  # end of input: the reader returns
    assert await lines.next() == "last words without a newline"
    assert lines.threads == {threading.get_ident()}  # on_line always runs on the loop thread
    join_reader_threads()


async def test_posix_watches_a_pipe_without_a_thread(pipe: tuple[int, int]) -> None:
    if keyboard.ALWAYS_THREADED:
        pytest.skip("this platform always uses the threaded reader")
    read_end, write_end = pipe
    lines = Lines()
    task = asyncio.ensure_future(read_lines(read_end, lines))
    os.write(write_end, b"one\n")
    assert await lines.next() == "one"
    assert reader_threads() == []  # add_reader: no thread
    os.close(write_end)
    await asyncio.wait_for(task, GUARD_S)


async def test_threaded_reader_uses_a_daemon_thread_and_cancels_promptly(
    pipe: tuple[int, int],
) -> None:
    read_end, write_end = pipe
    lines = Lines()
    task = asyncio.ensure_future(read_lines_threaded(read_end, lines))
    os.write(write_end, b"before\n")
    assert await lines.next() == "before"
    [thread] = reader_threads()
    assert thread.daemon  # so a thread stuck in read() can never hold the interpreter open
    task.cancel()
    # returns at once although the thread is still blocked in os.read
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, GUARD_S)
    assert thread.is_alive()
    os.write(write_end, b"after the cancel\n")  # the thread wakes, drops it, and ends
    thread.join(GUARD_S)
    assert not thread.is_alive()
    await asyncio.sleep(0)  # let any (wrongly) scheduled delivery run
    assert lines.queue.empty()


def test_a_thread_blocked_in_read_does_not_hold_the_interpreter_open() -> None:
    script = """
import asyncio, os
from voicelive.terminal.keyboard import read_lines_threaded

async def main():
    read_end, write_end = os.pipe()  # the write end stays open: the read never returns
    task = asyncio.ensure_future(read_lines_threaded(read_end, print))
    await asyncio.sleep(0)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("cancelled")

asyncio.run(main())
print("exiting")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["cancelled", "exiting"]
    assert result.stderr == ""


def test_the_thread_ends_quietly_when_its_loop_has_closed(pipe: tuple[int, int]) -> None:
    # The loop closes while the reader is blocked (the task never cancelled): the next line has
    # nowhere to go. The thread must end without an exception (pytest turns one into an error).
    read_end, write_end = pipe
    loop = asyncio.new_event_loop()

    async def start() -> Coroutine[Any, Any, None]:
        # Step the coroutine by hand (no Task, so nothing is left pending on the closed loop):
        # it starts the thread and stops at its first await.
        reader = read_lines_threaded(read_end, lambda line: None)
        reader.send(None)
        return reader

    reader = loop.run_until_complete(start())
    loop.close()
    [thread] = reader_threads()
    os.write(write_end, b"line for a closed loop\n")
    thread.join(GUARD_S)
    assert not thread.is_alive()
    reader.close()  # runs its finally


@pytest.mark.parametrize("reader", [read_lines, read_lines_threaded], ids=["auto", "threaded"])
async def test_a_regular_file_is_read_to_the_end(tmp_path: Path, reader: Reader) -> None:
    path = tmp_path / "commands.txt"
    path.write_bytes(b"first\nq")
    lines = Lines()
    fd = os.open(path, os.O_RDONLY)
    try:
        await asyncio.wait_for(reader(fd, lines), GUARD_S)
    finally:
        os.close(fd)
    assert [await lines.next(), await lines.next()] == ["first", "q"]
    join_reader_threads()


@pytest.mark.parametrize("reader", [read_lines, read_lines_threaded], ids=["auto", "threaded"])
async def test_an_unreadable_stdin_returns_without_raising(
    reader: Reader,
) -> None:
    fd = os.open(os.devnull, os.O_WRONLY)  # as `nohup` leaves stdin: reads fail with EBADF
    lines = Lines()
    try:
        await asyncio.wait_for(reader(fd, lines), GUARD_S)
    finally:
        os.close(fd)
    assert lines.queue.empty()
    join_reader_threads()


class NoReaderLoop(asyncio.SelectorEventLoop):
    """A loop without add_reader, as Windows' Proactor loop is."""

    def add_reader(self, fd: object, callback: object, *args: object) -> None:
        raise NotImplementedError


def test_a_loop_without_add_reader_falls_back_to_the_thread() -> None:
    join_reader_threads()  # a reader of an earlier test may still be on its way out
    read_end, write_end = os.pipe()
    seen: list[str] = []
    threads_while_reading: list[list[threading.Thread]] = []

    def on_line(line: str) -> None:
        seen.append(line)
        # the input is still open, so the reader thread is still there, blocked in read
        threads_while_reading.append(reader_threads())
        os.close(write_end)  # now end the input

    os.write(write_end, b"q\n")
    loop = NoReaderLoop()
    try:
        loop.run_until_complete(asyncio.wait_for(read_lines(read_end, on_line), GUARD_S))
    finally:
        loop.close()
        os.close(read_end)
    assert seen == ["q"]
    assert len(threads_while_reading[0]) == 1  # it was the thread that read it
    join_reader_threads()
