"""JSONL recording of every frame in and out of the simulator.

One line per frame: ``{"t": <seconds since the simulator started>, "dir": "in"|"out",
"event": {...}}``. Base64 audio is replaced by ``{"audio_bytes": N}``, the huge-event padding
by ``{"padding_bytes": N}``; frames that are not JSON objects are recorded as
``{"binary_bytes": N}`` or ``{"malformed_text": "<first 200 chars>"}``. Handshake secrets never
reach this file (they are not frames). Writes are small, line-buffered and synchronous: called
from the event loop, they cost microseconds on a local disk.
"""

from __future__ import annotations

import json
from pathlib import Path

from .wire import JsonDict, elide_audio


class Recorder:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="utf-8", buffering=1)

    def write(self, t: float, direction: str, event: JsonDict) -> None:
        if self._file.closed:
            return
        elided = elide_audio(event)
        padding = elided.get("padding")
        if elided.get("type") == "simulator.huge_event" and isinstance(padding, str):
            elided["padding"] = {"padding_bytes": len(padding)}
        line = {"t": round(t, 4), "dir": direction, "event": elided}
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._file.close()
