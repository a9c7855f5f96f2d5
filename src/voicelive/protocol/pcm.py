"""The session's audio format, in one place: PCM16 mono little-endian at 24 kHz, both ways.

Every byte count of session audio converts to time through :data:`BYTES_PER_MS`; nothing else
in the client spells the number out.
"""

from __future__ import annotations

from typing import Final

SAMPLE_RATE: Final = 24_000
BYTES_PER_SAMPLE: Final = 2
BYTES_PER_MS: Final = SAMPLE_RATE * BYTES_PER_SAMPLE // 1000
"""48: one millisecond of session audio in bytes."""


def ms_of(n_bytes: int) -> int:
    """Whole milliseconds of session audio in ``n_bytes`` (rounded down)."""
    return n_bytes // BYTES_PER_MS


def bytes_of(ms: int) -> int:
    """Bytes of session audio in ``ms`` milliseconds."""
    return ms * BYTES_PER_MS
