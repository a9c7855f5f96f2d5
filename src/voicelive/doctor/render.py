"""The doctor's output: one aligned line per check (and its fix), a summary, or ``--json``.

Writes to the stream it is given; the live level meter redraws one line with ``\\r`` only on a
terminal (elsewhere it stays silent, so a log or a pipe gets no noise).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO

from voicelive.doctor.check import Check

NAME_WIDTH = 17
"""Wide enough for ``microphone-level``."""
METER_DB_RANGE = 60.0
METER_WIDTH = 30


def check_lines(check: Check) -> str:
    """``ok    devices           input 'pulse' ...`` and, when there is one, the fix below it."""
    line = f"{check.status:<5} {check.name:<{NAME_WIDTH}} {check.detail}"
    if check.fix:
        line += f"\n{'':<5} {'':<{NAME_WIDTH}} fix: {check.fix}"
    return line


def summary(checks: Sequence[Check]) -> str:
    counts = {status: sum(c.status == status for c in checks) for status in ("ok", "warn", "fail")}
    return f"{counts['ok']} ok, {counts['warn']} warn, {counts['fail']} fail"


def json_document(checks: Sequence[Check]) -> str:
    """The ``--json`` document: a list of ``{name, status, detail, fix}``."""
    return json.dumps([c.as_dict() for c in checks], indent=2, ensure_ascii=False)


class LiveLevel:
    """The microphone level, redrawn in place on a terminal while it records.

    ``show`` may be called from any one thread at a time; ``end`` clears the line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._live = stream.isatty()

    def show(self, seconds: float, dbfs: float) -> None:
        if not self._live:
            return
        filled = round(max(0.0, min(1.0, (dbfs + METER_DB_RANGE) / METER_DB_RANGE)) * METER_WIDTH)
        bar = "#" * filled + "." * (METER_WIDTH - filled)
        self._stream.write(f"\r      {seconds:3.1f} s  [{bar}] {dbfs:4.0f} dBFS ")
        self._stream.flush()

    def end(self) -> None:
        if self._live:
            self._stream.write("\r" + " " * (METER_WIDTH + 30) + "\r")
            self._stream.flush()
