"""``--resume FILE.jsonl``: an earlier conversation, told to the first session as its history.

The file is one that ``--transcript FILE.jsonl`` wrote (:mod:`voicelive.transcript_file`): one
JSON object per utterance. Its user and assistant turns go into the core's
:class:`~voicelive.protocol.history.History` in order, an interrupted reply with what was
heard of it (``heard_ms`` of ``total_ms``), so the first session gets exactly the bounded
replay a reconnect sends (``--replay-turns``, ``--replay-chars``). Tool entries and lines
that are not an utterance are skipped (and counted in the log): a file cut short by a crash
still resumes.

Called once, on the loop thread, before the first connection. Raises
:class:`~voicelive.errors.ConfigError` when the file cannot be read.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from voicelive.errors import ConfigError
from voicelive.protocol.history import History
from voicelive.protocol.pcm import BYTES_PER_MS

log = logging.getLogger(__name__)


def load_history(path: Path, history: History) -> int:
    """Add the turns of ``path`` to ``history``; return how many were added."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(
            f"Cannot read --resume {path} ({reason}); give a .jsonl file that --transcript wrote."
        ) from None
    added = skipped = 0
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1
            continue
        role = entry.get("role") if isinstance(entry, dict) else None
        text = entry.get("text") if isinstance(entry, dict) else None
        if role not in ("user", "assistant") or not isinstance(text, str) or not text.strip():
            skipped += bool(line.strip())
            continue
        added += 1
        turn = history.turn(f"resumed_{added}", role)
        turn.text = text.strip()
        heard, total = entry.get("heard_ms"), entry.get("total_ms")
        if role == "assistant" and entry.get("interrupted") and _ms(heard) and _ms(total):
            turn.received_bytes = int(total) * BYTES_PER_MS
            history.cut(f"resumed_{added}", int(heard) * BYTES_PER_MS)
    log.info("resume: %d turn(s) from %s, %d line(s) skipped", added, path, skipped)
    return added


def _ms(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
