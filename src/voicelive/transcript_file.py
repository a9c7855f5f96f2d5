"""``--transcript FILE``: the conversation written down as it goes.

``.md`` gives readable Markdown, ``.jsonl`` one JSON object per utterance with ``time``
(ISO 8601, UTC), ``role``, ``text``, ``typed``, ``interrupted`` (with ``heard_ms`` and
``total_ms``) and ``latency_ms`` when known. Every utterance is flushed to the file when it is
complete, so a crash loses nothing already said. Only words go in: no audio, no credential.

Loop thread only. Raises :class:`~voicelive.errors.ConfigError` when the file cannot be opened.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import IO, Any

from voicelive.errors import ConfigError
from voicelive.private_files import open_append_text


class TranscriptFile:
    """See the module docstring. Use as a context manager (closes the file on any exit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._jsonl = path.suffix.lower() == ".jsonl"
        self._file: IO[str] | None = None

    def __enter__(self) -> TranscriptFile:
        try:
            self._file = open_append_text(self.path)
        except OSError as exc:
            raise ConfigError(
                f"Cannot write --transcript {self.path} ({exc.strerror or exc}); "
                "choose a file in a folder you can write to."
            ) from None
        if not self._jsonl and self._file.tell() == 0:
            self._write(f"# voicelive conversation, {_now().strftime('%Y-%m-%d %H:%M')} UTC\n\n")
        elif not _ends_a_line(self.path):
            self._write("\n")  # an earlier run died mid-line: today's entries start clean
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def user(self, text: str, *, typed: bool) -> None:
        self._utterance({"role": "user", "text": text, "typed": typed})

    def assistant(
        self,
        text: str,
        *,
        interrupted: bool,
        heard_ms: int | None,
        total_ms: int | None,
        latency_ms: int | None,
    ) -> None:
        entry: dict[str, Any] = {"role": "assistant", "text": text, "typed": False}
        entry["interrupted"] = interrupted
        if interrupted:
            entry["heard_ms"], entry["total_ms"] = heard_ms, total_ms
        if latency_ms is not None:
            entry["latency_ms"] = latency_ms
        self._utterance(entry)

    def tool(self, entry: dict[str, Any], markdown: str) -> None:
        """A tool call: ``entry`` (``role`` ``tool``) for ``.jsonl``, ``markdown`` for ``.md``."""
        now = _now()
        if self._jsonl:
            record = {"time": now.isoformat(timespec="milliseconds"), **entry}
            self._write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            self._write(f"{now.strftime('%H:%M:%S')} {markdown}\n\n")

    def _utterance(self, entry: dict[str, Any]) -> None:
        now = _now()
        if self._jsonl:
            record = {"time": now.isoformat(timespec="milliseconds"), **entry}
            self._write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        who = "**You**" + (" (typed)" if entry.get("typed") else "")
        if entry["role"] == "assistant":
            who = "**Assistant**"
        notes = []
        if entry.get("latency_ms") is not None:
            notes.append(f"⏱ {entry['latency_ms']} ms")
        if entry.get("interrupted"):
            heard, total = entry.get("heard_ms"), entry.get("total_ms")
            if heard is not None and total is not None:
                notes.append(f"interrupted: heard {heard / 1000:.1f} of {total / 1000:.1f} s")
            else:
                notes.append("interrupted")
        suffix = f" _({'; '.join(notes)})_" if notes else ""
        self._write(f"{now.strftime('%H:%M:%S')} {who}: {entry['text']}{suffix}\n\n")

    def _write(self, text: str) -> None:
        if self._file is not None:
            self._file.write(text)
            self._file.flush()


def _ends_a_line(path: Path) -> bool:
    """The file is empty or its last byte ends a line (appending starts a new one)."""
    with path.open("rb") as file:
        if file.seek(0, 2) == 0:
            return True
        file.seek(-1, 2)
        return file.read(1) == b"\n"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
