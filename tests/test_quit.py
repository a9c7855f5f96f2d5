"""The one quit path: the first request wins; a second signal during shutdown forces it."""

from __future__ import annotations

from voicelive.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED
from voicelive.quit import Quit


async def test_the_first_request_wins_and_a_second_signal_forces_the_exit() -> None:
    quit = Quit()
    forced: list[int] = []
    quit.force = forced.append
    quit.set(EXIT_OK, "q + Enter")
    quit.set(EXIT_TERMINATED, "SIGTERM")  # a later request does not change the outcome
    assert (quit.requested, quit.code, quit.reason) == (True, EXIT_OK, "q + Enter")
    assert forced == []
    quit.signal(EXIT_INTERRUPTED, "Ctrl+C")  # Ctrl+C while the orderly shutdown runs
    assert forced == [EXIT_INTERRUPTED]


async def test_a_first_signal_asks_for_an_orderly_quit() -> None:
    quit = Quit()
    forced: list[int] = []
    quit.force = forced.append
    quit.signal(EXIT_INTERRUPTED, "Ctrl+C")
    assert (quit.code, forced) == (EXIT_INTERRUPTED, [])
    assert quit.event.is_set()
