"""Quit signals for real: each scenario runs in a child Python that raises the signals at
itself with ``signal.raise_signal`` (never at pytest) and prints what its handler got.

The Windows way (``signal.signal`` + ``call_soon_threadsafe``) is the same code on every
platform; only its table differs (SIGBREAK instead of SIGTERM), so it runs here on Linux's
SIGINT and SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest

from voicelive import quit_signals
from voicelive.errors import EXIT_INTERRUPTED, EXIT_TERMINATED
from voicelive.quit_signals import install_quit_signals, quit_signal_table

CHILD = """
import asyncio, json, signal, sys, threading
from voicelive import quit_signals

way = sys.argv[1]


class LoopWithoutSignalHandlers(asyncio.SelectorEventLoop):
    def add_signal_handler(self, sig, callback, *args):
        raise NotImplementedError


def show(value):
    print(json.dumps(value), flush=True)


async def main():
    loop = asyncio.get_running_loop()
    arrived = asyncio.Queue()
    loop_thread = threading.get_ident()

    def on_signal(code, name):
        arrived.put_nowait([code, name, threading.get_ident() == loop_thread])

    watched = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.getsignal(s) for s in watched}
    if way == "signal-module":
        context = quit_signals._signal_module_handlers(quit_signals.quit_signal_table(), on_signal)
    else:
        context = quit_signals.install_quit_signals(on_signal)
    with context as names:
        show({"names": list(names)})
        for sig in (signal.SIGINT, signal.SIGINT, signal.SIGTERM):
            signal.raise_signal(sig)
            show(await asyncio.wait_for(arrived.get(), 5))
    show({"restored": all(signal.getsignal(s) == before[s] for s in watched)})


factory = LoopWithoutSignalHandlers if way == "no-loop-handlers" else None
with asyncio.Runner(loop_factory=factory) as runner:
    runner.run(main())
"""

SECOND_CTRL_C = """
import asyncio, os, signal
from voicelive.quit_signals import install_quit_signals


async def main():
    quit = asyncio.Event()

    def on_signal(code, name):  # the recipe in quit_signals' docstring
        if quit.is_set():
            os._exit(code)
        print("orderly shutdown:", name, flush=True)
        quit.set()

    with install_quit_signals(on_signal):
        signal.raise_signal(signal.SIGINT)
        await asyncio.wait_for(quit.wait(), 5)
        # a shutdown that hangs; the user presses Ctrl+C again
        signal.raise_signal(signal.SIGINT)
        await asyncio.wait_for(asyncio.Event().wait(), 5)  # never ends: only Ctrl+C can
        print("the second Ctrl+C did not force the exit", flush=True)


asyncio.run(main())
"""


def run_child(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def received(way: str) -> list[Any]:
    result = run_child(CHILD, way)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [json.loads(line) for line in result.stdout.splitlines()]


EXPECTED = [
    {"names": ["Ctrl+C", "SIGTERM"]},
    [EXIT_INTERRUPTED, "Ctrl+C", True],  # True: on_signal ran on the loop thread
    [EXIT_INTERRUPTED, "Ctrl+C", True],  # every signal is reported: the caller decides
    [EXIT_TERMINATED, "SIGTERM", True],
    {"restored": True},
]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM cannot be raised the same way")
@pytest.mark.parametrize("way", ["platform", "signal-module", "no-loop-handlers"])
def test_each_signal_reaches_the_loop_and_the_old_handlers_come_back(way: str) -> None:
    assert received(way) == EXPECTED


def test_a_second_ctrl_c_can_force_the_exit() -> None:
    result = run_child(SECOND_CTRL_C)
    assert result.stdout.splitlines() == ["orderly shutdown: Ctrl+C"]
    assert result.returncode == EXIT_INTERRUPTED, result.stderr


def test_the_table_for_this_platform() -> None:
    table = quit_signal_table()
    if sys.platform == "win32":
        assert [(e.name, e.code) for e in table] == [("Ctrl+C", 130), ("Ctrl+Break", 130)]
    else:
        assert [(e.signum, e.code, e.name) for e in table] == [
            (signal.SIGINT, 130, "Ctrl+C"),
            (signal.SIGTERM, 143, "SIGTERM"),
        ]
    assert quit_signals.USES_LOOP_HANDLERS is (sys.platform != "win32")


@pytest.mark.parametrize("way", ["platform", "signal-module"])
def test_outside_the_main_thread_nothing_is_installed_and_nothing_breaks(way: str) -> None:
    results: list[tuple[str, ...]] = []
    before = signal.getsignal(signal.SIGINT)

    async def main() -> None:
        if way == "platform":
            context = install_quit_signals(lambda code, name: None)
        else:
            context = quit_signals._signal_module_handlers(
                quit_signal_table(), lambda code, name: None
            )
        with context as names:
            results.append(names)

    thread = threading.Thread(target=asyncio.run, args=(main(),))
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert results == [()]
    assert signal.getsignal(signal.SIGINT) is before
