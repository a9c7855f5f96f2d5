"""C-level writes to fd 2 go to the log inside native_stderr_to_log; sys.stderr still works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voicelive import logs

SCRIPT = """
import ctypes, logging, os, sys
from pathlib import Path

import pytest

from voicelive import logs
from voicelive import logs
from voicelive.config.settings import LogSettings
logs.configure(LogSettings(log_file=Path(sys.argv[1])))
libc = ctypes.CDLL(None)
with logs.native_stderr_to_log():
    os.write(2, b"ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred\\n")
    libc.write(2, b"Expression 'x' failed in pa_linux_alsa.c\\n", 41)
    print("python stderr still reaches the terminal", file=sys.stderr)
print("after: fd 2 is the terminal again", file=sys.stderr)
os.write(2, b"raw after\\n")
logs.shutdown()
"""


def test_native_stderr_is_logged_and_python_stderr_is_kept(tmp_path: Path) -> None:
    log = tmp_path / "vl.log"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(log)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stderr.splitlines() == [
        "python stderr still reaches the terminal",
        "after: fd 2 is the terminal again",
        "raw after",
    ]
    text = log.read_text()
    assert "voicelive.native: ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred" in text
    assert "Expression 'x' failed in pa_linux_alsa.c" in text


def test_where_fd_2_cannot_be_captured_the_context_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Windows branch (CAPTURES_NATIVE_STDERR false), run for real: fd 2 and sys.stderr
    # stay exactly what they were inside the context.
    monkeypatch.setattr(logs, "CAPTURES_NATIVE_STDERR", False)
    before = os.fstat(2)
    python_stderr = sys.stderr
    with logs.native_stderr_to_log():
        inside = os.fstat(2)
        assert sys.stderr is python_stderr
    assert (inside.st_dev, inside.st_ino) == (before.st_dev, before.st_ino)
    assert sys.stderr is python_stderr


def test_the_capture_is_chosen_by_platform_in_one_place() -> None:
    assert logs.CAPTURES_NATIVE_STDERR is (sys.platform != "win32")
