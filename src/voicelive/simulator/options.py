"""Simulator options and the catalogue of fault scenarios.

Everything here is immutable and safe to share between tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HANDSHAKE_FAULTS: dict[str, int] = {
    "http-401": 401,
    "http-403": 403,
    "http-404": 404,
    "http-429": 429,
}
"""Faults that refuse every WebSocket handshake with this HTTP status."""

CLOSE_MID_REPLY_FAULTS: dict[str, tuple[int, str]] = {
    "close-1000-mid-reply": (1000, ""),
    "close-1001-mid-reply": (1001, "going away"),
    "close-1006-mid-reply": (1006, ""),  # no close frame: the TCP connection is aborted
    "close-1011-mid-reply": (1011, "internal server error"),
    "close-1012-mid-reply": (1012, "service restart"),
    "close-1013-mid-reply": (1013, "try again later"),
}
"""Mid-reply faults that end the connection with this close code and reason."""

RECONNECT_FAULTS = frozenset({"refuse-rehandshake", "drop-during-reconnect"})
"""Faults that drop the first connection mid-reply, then make the reconnect hard."""

MID_REPLY_FAULTS = (
    frozenset({"drop-mid-reply", "malformed-frame", "binary-frame", "unknown-event", "huge-event"})
    | frozenset(CLOSE_MID_REPLY_FAULTS)
    | RECONNECT_FAULTS
)
"""Faults injected once per simulator, in the first reply, right after its second delta."""

ONCE_HANDSHAKE_FAULTS: dict[str, int] = {"http-429-once": 429}
"""Faults that refuse only the simulator's first handshake with this HTTP status."""

TIMED_FAULTS = frozenset({"close-1011", "benign-error", "serious-error"})
"""Faults injected once per simulator, ``fault_after_s`` after the first ``session.created``."""

EXPIRY_FAULTS = frozenset({"expire", "expire-soon"})
"""Every connection's session expires (closes with 1001 ``session_expired``)."""

PER_CONNECTION_FAULTS = EXPIRY_FAULTS | {"slow-session-created"}
"""Faults applied to every connection (the service's session lifetime, a slow start)."""

FAULTS = (
    frozenset(HANDSHAKE_FAULTS)
    | frozenset(ONCE_HANDSHAKE_FAULTS)
    | MID_REPLY_FAULTS
    | TIMED_FAULTS
    | PER_CONNECTION_FAULTS
)


@dataclass(frozen=True)
class SimulatorOptions:
    """How the simulator behaves.

    ``api_key``: when set, the handshake must carry this exact ``api-key`` (header or query),
    otherwise HTTP 401; when None any non-empty ``api-key`` or ``Authorization: Bearer <x>`` is
    accepted. ``speedup``: replies stream this many times faster than real time (> 0).
    ``record_path``: JSONL file receiving one line per frame in and out, audio elided.
    ``fault``: one of :data:`FAULTS` or None; ``fault_after_s`` is its delay where it has one.
    ``jitter_ms``: when > 0, every reply delta waits a further random 0..``jitter_ms`` ms of real
    time (not divided by ``speedup``) before it is sent, and these waits add up over a reply, so
    it arrives late and unevenly like over a jittery network. ``seed`` makes that randomness
    reproducible (None: a different sequence every run). ``transcript_order``: where a turn's
    input transcription arrives relative to its reply's ``response.created``: ``"either"``
    (the default; seeded per turn by ``seed``, None counting as 0), ``"before"`` or
    ``"after"`` (see :mod:`voicelive.simulator.transcription`).

    Raises ``ValueError`` on an unknown fault name, a non-positive speedup or negative delays.
    """

    api_key: str | None = None
    speedup: float = 4.0
    record_path: Path | None = None
    fault: str | None = None
    fault_after_s: float = 1.0
    jitter_ms: float = 0.0
    seed: int | None = None
    transcript_order: str = "either"

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            known = ", ".join(sorted(FAULTS))
            raise ValueError(f"unknown fault scenario {self.fault!r}; known: {known}")
        if not self.speedup > 0:
            raise ValueError("speedup must be > 0")
        if self.fault_after_s < 0:
            raise ValueError("fault_after_s must be >= 0")
        if not self.jitter_ms >= 0:
            raise ValueError("jitter_ms must be >= 0")
        if self.transcript_order not in ("either", "before", "after"):
            raise ValueError("transcript_order must be 'either', 'before' or 'after'")

    def __repr__(self) -> str:
        # Never show the key itself, even in a traceback.
        key = None if self.api_key is None else "***"
        return (
            f"SimulatorOptions(api_key={key!r}, speedup={self.speedup!r}, "
            f"record_path={self.record_path!r}, fault={self.fault!r}, "
            f"fault_after_s={self.fault_after_s!r}, jitter_ms={self.jitter_ms!r}, "
            f"seed={self.seed!r}, transcript_order={self.transcript_order!r})"
        )
