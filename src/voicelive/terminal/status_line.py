"""What the status line says, as text: the microphone's level, the tokens, the time left.

Pure: numbers and bytes in, strings out; no clock, no I/O, no terminal. The terminal view
(:mod:`voicelive.terminal.view`) draws what :func:`compose` returns, and
:mod:`voicelive.terminal.live_status` decides when the figures are measured.

The level is the RMS of PCM16 samples in dBFS, measured by :func:`level_dbfs` in plain Python
(no numpy: the client may not have loaded it) on at most :data:`LEVEL_SAMPLES` samples, so
one measure costs a few tens of microseconds however long the block. Exact zeros (digital
silence: a muted or wrong device, or on macOS a terminal without microphone permission) get
their own marker, since a live microphone in a silent room is never exactly zero.
"""

from __future__ import annotations

import math
import operator
import sys
from array import array
from typing import Final

BAR_CELLS: Final = 8
"""Width of the level bar in character cells (each in eighths)."""
BAR_FLOOR_DBFS: Final = -60.0
"""The empty bar: a quiet room on a laptop microphone sits about here."""
LEVEL_FRAMES: Final = 2400
"""The level is measured on a block's last 100 ms at most (24 kHz)..."""
LEVEL_STRIDE: Final = 4
"""...every fourth sample of it: 600 samples, plenty for a meter's RMS."""
LEVEL_SAMPLES: Final = LEVEL_FRAMES // LEVEL_STRIDE
HINT: Final = "/help · q + Enter to quit"
"""Ends the status line when nothing more pressing needs the room."""
ZEROS: Final = "exact zeros"

_EIGHTHS: Final = " ▏▎▍▌▋▊▉"
_FULL: Final = "█"
_FULL_SCALE_SQUARED: Final = 32768.0**2


def level_dbfs(block: bytes, channels: int = 1) -> float | None:
    """The RMS level of the first channel of PCM16 little-endian ``block``, in dBFS.

    ``-math.inf`` when the last :data:`LEVEL_FRAMES` frames are all exact zeros; None when
    ``block`` holds no whole frame. The RMS is of every :data:`LEVEL_STRIDE`-th of those
    frames (of all of them when those are all zeros).
    """
    frame_bytes = 2 * max(1, channels)
    end = len(block) - len(block) % frame_bytes
    if end == 0:
        return None
    start = max(0, end - LEVEL_FRAMES * frame_bytes)
    samples = array("h", block[start:end])
    if sys.byteorder == "big":
        samples.byteswap()
    picked = samples[:: LEVEL_STRIDE * max(1, channels)]
    total = sum(map(operator.mul, picked, picked))
    if total == 0:  # zeros, or sparse samples the stride missed: "exact zeros" must be true
        picked = samples[:: max(1, channels)]
        total = sum(map(operator.mul, picked, picked))
        if total == 0:
            return -math.inf
    return 10 * math.log10(total / len(picked) / _FULL_SCALE_SQUARED)


def level_bar(dbfs: float, cells: int = BAR_CELLS, floor_dbfs: float = BAR_FLOOR_DBFS) -> str:
    """A bar of ``cells`` characters: empty at ``floor_dbfs`` and below, full at 0 dBFS."""
    fraction = min(1.0, max(0.0, (dbfs - floor_dbfs) / -floor_dbfs))
    eighths = round(fraction * cells * 8)
    full, part = divmod(eighths, 8)
    bar = _FULL * full + (_EIGHTHS[part] if full < cells else "")
    return bar.ljust(cells)


def meter_text(dbfs: float) -> str:
    """``mic ▕████▌   ▏ -34 dBFS`` (always this long: -99 and below show as -99); exact zeros:
    ``mic ▕--------▏ exact zeros``."""
    if dbfs == -math.inf:
        return f"mic ▕{'-' * BAR_CELLS}▏ {ZEROS}"
    shown = min(0, max(-99, round(dbfs)))  # three characters: the line keeps its length
    return f"mic ▕{level_bar(dbfs)}▏ {shown:3d} dBFS"


def count_text(n: int) -> str:
    """``987``, ``9,876``, ``98.8k``, ``1.23M``: at most six characters."""
    if n < 10_000:
        return f"{n:,}"
    if n < 999_950:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"


def tokens_text(input_tokens: int, output_tokens: int) -> str | None:
    """``tokens 1,234 in / 567 out``; None before the first reply's usage."""
    if input_tokens <= 0 and output_tokens <= 0:
        return None
    return f"tokens {count_text(input_tokens)} in / {count_text(output_tokens)} out"


def time_left_text(seconds: float) -> str:
    """The current session's time left: ``57 min left``; under two minutes ``1:05 left``."""
    if seconds <= 0:
        return "session ending"
    whole = int(seconds)
    if whole >= 120:
        return f"{whole // 60} min left"
    return f"{whole // 60}:{whole % 60:02d} left"


def figures_text(
    dbfs: float | None,
    tokens: str | None = None,
    time_left_s: float | None = None,
    *,
    resumed: int = 0,
) -> str:
    """The figures, most telling first (the meter), joined by `` · ``; empty when none.
    ``resumed`` turns (``--resume``) show until the first reply's tokens take their place."""
    parts = [meter_text(dbfs)] if dbfs is not None else []
    if tokens:
        parts.append(tokens)
    elif resumed > 0:
        parts.append(f"{resumed} turn{'s' if resumed != 1 else ''} resumed")
    if time_left_s is not None:
        parts.append(time_left_text(time_left_s))
    return " · ".join(parts)


def compose(state: str, *, muted: bool, tool: str | None, figures: str, width: int) -> str:
    """The whole status line, at most ``width`` characters (``width`` < 1: no limit).

    Its order is its priority when the terminal is narrow: the state (and the muted mark),
    then a tool's question or progress, then the figures, then :data:`HINT`, which is left
    out rather than cut; whatever still does not fit is cut with ``…``.
    """
    head = f"[{state}{' · microphone muted' if muted else ''}]"
    parts = [head, *(p for p in (tool, figures) if p)]
    line = "  ".join(parts)
    if not tool and (width < 1 or len(line) + 2 + len(HINT) <= width):
        line = f"{line}  {HINT}"
    if 0 < width < len(line):
        line = line[: max(0, width - 1)] + "…"
    return line
