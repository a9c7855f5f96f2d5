"""``voicelive doctor`` on a terminal or a pipe: run the checks, print each as it comes (or the
``--json`` document at the end), and pick the exit code.

A person is asked to speak (and sees the level live) only when stdin and stdout are both
terminals and ``--json`` is not given; otherwise the room is recorded and nobody is waited for.
Main thread only (it runs its own event loop).
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from voicelive.config.settings import Settings
from voicelive.doctor import runner
from voicelive.doctor.check import Check
from voicelive.doctor.render import LiveLevel, check_lines, json_document, summary
from voicelive.errors import EXIT_DOCTOR_FAILED, EXIT_OK
from voicelive.logs import native_stderr_to_log


def run_command(
    settings: Settings, connection_error: str | None, as_json: bool, out: TextIO | None = None
) -> int:
    """Run every check and print them to ``out`` (stdout); 9 when one failed, else 0."""
    out = out if out is not None else sys.stdout
    spoken = not as_json and sys.stdin.isatty() and out.isatty()
    meter = LiveLevel(out)

    def report(check: Check) -> None:
        if check.name == "microphone-level":
            meter.end()
        if not as_json:
            print(check_lines(check), file=out, flush=True)

    def before_level() -> None:
        if spoken:
            print("      say something for 2 seconds ...", file=out, flush=True)

    hooks = runner.Hooks(report, spoken, before_level, meter.show if spoken else None)
    with native_stderr_to_log():  # PortAudio's C-level chatter is not for the user
        checks = asyncio.run(runner.run_doctor(settings, hooks, connection_error))
    print(json_document(checks) if as_json else summary(checks), file=out, flush=True)
    return EXIT_DOCTOR_FAILED if any(c.status == "fail" for c in checks) else EXIT_OK
