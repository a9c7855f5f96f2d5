"""The status line's text: levels to bars, exact zeros, tokens, time left, fitting the width."""

from __future__ import annotations

import math
import sys
from array import array

import pytest

from voicelive.terminal.status_line import (
    BAR_CELLS,
    HINT,
    LEVEL_FRAMES,
    compose,
    count_text,
    figures_text,
    level_bar,
    level_dbfs,
    meter_text,
    time_left_text,
    tokens_text,
)


def pcm(samples: list[int]) -> bytes:
    data = array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


def square(amplitude: int, frames: int = 480) -> list[int]:
    return [amplitude if i % 2 else -amplitude for i in range(frames)]


@pytest.mark.parametrize(
    ("amplitude", "dbfs"),
    [(32767, 0.0), (16384, -6.02), (3277, -20.0), (33, -59.9)],
)
def test_level_is_the_rms_in_dbfs(amplitude: int, dbfs: float) -> None:
    level = level_dbfs(pcm(square(amplitude)))
    assert level == pytest.approx(dbfs, abs=0.05)


def test_exact_zeros_are_minus_infinity_and_one_quiet_sample_is_not() -> None:
    assert level_dbfs(bytes(960)) == -math.inf
    almost = [0] * 480
    almost[1] = 1  # not one of the every-fourth samples measured first: still not zeros
    assert level_dbfs(pcm(almost)) == pytest.approx(-117.1, abs=0.1)
    almost[0] = 1
    assert level_dbfs(pcm(almost)) == pytest.approx(-111.1, abs=0.1)


def test_no_whole_frame_has_no_level() -> None:
    assert level_dbfs(b"") is None
    assert level_dbfs(b"\x01") is None
    assert level_dbfs(b"\x01\x00\x02", channels=2) is None


def test_only_the_first_channel_is_measured() -> None:
    # microphone silent, echo reference loud: the meter shows the microphone
    interleaved = [s for pair in zip([0] * 480, square(20000), strict=True) for s in pair]
    assert level_dbfs(pcm(interleaved), channels=2) == -math.inf
    loud_mic = [s for pair in zip(square(20000), [0] * 480, strict=True) for s in pair]
    assert level_dbfs(pcm(loud_mic), channels=2) == pytest.approx(-4.3, abs=0.1)


def test_a_long_batch_is_measured_on_its_end() -> None:
    # a quiet room's batch whose last 100 ms holds the start of a sound: the meter shows it
    batch = [0] * (4 * LEVEL_FRAMES) + square(8000, LEVEL_FRAMES)
    assert level_dbfs(pcm(batch)) == pytest.approx(-12.3, abs=0.1)


@pytest.mark.parametrize(
    ("dbfs", "bar"),
    [
        (-90.0, " " * 8),
        (-60.0, " " * 8),
        (-30.0, "████    "),
        (-26.25, "████▌   "),
        (-59.0, "▏       "),
        (0.0, "████████"),
        (3.0, "████████"),
    ],
)
def test_the_bar_fills_from_the_floor_to_full_scale(dbfs: float, bar: str) -> None:
    assert level_bar(dbfs) == bar
    assert len(level_bar(dbfs)) == BAR_CELLS


def test_the_meter_shows_the_bar_and_dbfs_and_a_mark_of_its_own_for_zeros() -> None:
    assert meter_text(-30.4) == "mic ▕████    ▏ -30 dBFS"
    assert meter_text(-75.0) == "mic ▕        ▏ -75 dBFS"
    # the same length at every level, so a moving meter redraws only its own characters
    assert meter_text(-117.0) == "mic ▕        ▏ -99 dBFS"
    assert meter_text(-4.4) == "mic ▕███████▍▏  -4 dBFS"
    assert meter_text(0.0) == "mic ▕████████▏   0 dBFS"
    assert meter_text(-math.inf) == "mic ▕--------▏ exact zeros"


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (987, "987"), (9876, "9,876"), (98_765, "98.8k"), (999_949, "999.9k")],
)
def test_counts_stay_short(n: int, text: str) -> None:
    assert count_text(n) == text


def test_tokens_appear_with_the_first_usage() -> None:
    assert tokens_text(0, 0) is None
    assert tokens_text(1234, 56) == "tokens 1,234 in / 56 out"
    assert count_text(1_234_567) == "1.23M"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3599.7, "59 min left"),
        (120.0, "2 min left"),
        (119.9, "1:59 left"),
        (65.0, "1:05 left"),
        (0.4, "0:00 left"),
        (0.0, "session ending"),
        (-3.0, "session ending"),
    ],
)
def test_time_left(seconds: float, text: str) -> None:
    assert time_left_text(seconds) == text


def test_figures_join_what_is_known() -> None:
    assert figures_text(None) == ""
    assert figures_text(-30.0) == "mic ▕████    ▏ -30 dBFS"
    assert (
        figures_text(-30.0, "tokens 5 in / 6 out", 125.0)
        == "mic ▕████    ▏ -30 dBFS · tokens 5 in / 6 out · 2 min left"
    )
    assert figures_text(None, None, 30.0) == "0:30 left"


def test_compose_keeps_the_state_the_tool_and_the_figures_before_the_hint() -> None:
    figures = figures_text(-30.0, "tokens 5 in / 6 out", 3000.0)
    wide = compose("listening", muted=False, tool=None, figures=figures, width=200)
    assert wide == f"[listening]  {figures}  {HINT}"
    # too narrow for the hint: it is left out, not cut
    narrow = compose("listening", muted=False, tool=None, figures=figures, width=len(wide) - 1)
    assert narrow == f"[listening]  {figures}"
    # a tool's question replaces the hint and comes before the figures; the figures are cut
    ask = compose(
        "listening", muted=True, tool="run codes.lookup? y/n/a", figures=figures, width=70
    )
    assert ask.startswith("[listening · microphone muted]  run codes.lookup? y/n/a  mic ▕")
    assert len(ask) == 70 and ask.endswith("…")
    assert compose("speaking", muted=False, tool=None, figures="", width=0) == (
        f"[speaking]  {HINT}"
    )


def test_resumed_turns_show_until_the_first_reply() -> None:
    assert figures_text(-30.0, None, None, resumed=4) == "mic ▕████    ▏ -30 dBFS · 4 turns resumed"
    assert figures_text(None, None, None, resumed=1) == "1 turn resumed"
    assert "resumed" not in figures_text(-30.0, "tokens 5 in / 6 out", None, resumed=4)
