"""Opens every file voicelive writes, private to the user: the log, ``--transcript``,
``--record``, ``--stats-json`` and ``--output-file``.

Even redacted, these hold the conversation (its words, its voice), so on POSIX each is
created with mode 0600 whatever the umask, and a file that already exists is set to 0600
when voicelive writes it again (``O_CREAT`` alone keeps an old file's mode: a file someone
made readable by everyone would stay so while it fills with a new conversation). Windows:
``os.open``'s mode only controls the read-only bit and ``os.fchmod`` does not exist; a
file's privacy there is the ACL it inherits from its folder (see :mod:`voicelive.logs`).

Every function raises OSError as ``open()`` would; nothing is left open when it does.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import TextIO

PRIVATE_MODE = 0o600


def _open_fd(path: Path, flags: int) -> int:
    """``os.open`` for writing, created (or made) private. The caller owns the descriptor."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, PRIVATE_MODE)
    try:
        if sys.platform != "win32":
            os.fchmod(fd, PRIVATE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_append_text(path: Path) -> TextIO:
    """``path`` opened for appending UTF-8 text (the log, the transcript)."""
    fd = _open_fd(path, os.O_APPEND)
    try:
        return os.fdopen(fd, "a", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def open_write_binary(path: Path) -> io.FileIO:
    """``path`` emptied and opened for unbuffered binary writes, seekable (a WAV file whose
    header is patched at the end)."""
    fd = _open_fd(path, os.O_TRUNC)
    try:
        return io.FileIO(fd, "w")
    except BaseException:
        os.close(fd)
        raise


def write_atomic_text(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: UTF-8 ``text`` into ``<path>.tmp``, then a rename
    over ``path`` (which then has the temporary file's private mode)."""
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(_open_fd(tmp, os.O_TRUNC), "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(tmp, path)
