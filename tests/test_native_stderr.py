"""C-level writes to fd 2 go to the log inside native_stderr_to_log; sys.stderr still works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import ctypes, logging, os, sys
from pathlib import Path
from voicelive import logs
from voicelive.settings import LogSettings
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
