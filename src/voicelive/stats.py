"""Per-turn latency and session statistics. Pure: the caller passes the times in.

A *turn* here is one assistant item with audio. Its latency runs from the end of the user's
speech (the service's ``speech_stopped``) to the first sample of the reply handed to the
speaker; a reply with no speech before it (a greeting, a typed message) has none. The exit
summary and ``--stats-json`` are built from these records.

Loop thread only; every method is O(1) except :meth:`summary`.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from voicelive.protocol.pcm import ms_of


@dataclass
class TurnRecord:
    """One reply, as the user experienced it. Times are seconds since the chat started."""

    item_id: str
    speech_stopped_s: float | None = None
    first_heard_s: float | None = None
    latency_ms: int | None = None
    received_ms: int = 0
    heard_ms: int | None = None
    interrupted: bool = False


@dataclass
class ChatStats:
    """See the module docstring. ``started`` is the clock reading at the start of the chat."""

    started: float
    turns: list[TurnRecord] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    reconnects: int = 0
    rollovers: int = 0
    underruns: int = 0
    mic_dropped_ms: int = 0
    """Microphone audio dropped because the connection could not keep up."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """One entry per tool call (name, outcome, duration), with ``--mcp-config`` only."""
    _by_item: dict[str, TurnRecord] = field(default_factory=dict, repr=False)  # as turns
    _speech_stopped: float | None = field(default=None, repr=False)

    def speech_stopped(self, now: float) -> None:
        self._speech_stopped = now - self.started

    def typed(self) -> None:
        """A typed message starts a turn with no speech to time from."""
        self._speech_stopped = None

    def audio(self, item_id: str) -> None:
        """Reply audio arrived for ``item_id``: its turn starts (once)."""
        if item_id not in self._by_item:
            record = TurnRecord(item_id, speech_stopped_s=self._speech_stopped)
            self._speech_stopped = None
            self._by_item[item_id] = record
            self.turns.append(record)

    def first_heard(self, item_id: str, now: float) -> int | None:
        """The reply's first sample reached the speaker; returns its latency in ms, if any."""
        record = self._by_item.get(item_id)
        if record is None or record.first_heard_s is not None:
            return None
        record.first_heard_s = now - self.started
        if record.speech_stopped_s is not None:
            record.latency_ms = round((record.first_heard_s - record.speech_stopped_s) * 1000)
        return record.latency_ms

    def record(self, item_id: str) -> TurnRecord | None:
        """The record of a recent item, if it had audio."""
        return self._by_item.get(item_id)

    def finished(self, item_id: str, received_bytes: int, heard_bytes: int | None = None) -> None:
        """Playback of the item ended: drained (all heard) or cut at ``heard_bytes``.

        ``received_bytes`` is the core's count of the item's audio (its one owner)."""
        record = self._by_item.get(item_id)
        if record is None or record.heard_ms is not None:
            return  # unknown, or already finished (a cut is not undone by a later drain)
        record.received_ms = ms_of(received_bytes)
        if heard_bytes is None:
            record.heard_ms = record.received_ms
        else:
            record.heard_ms = ms_of(heard_bytes)
            record.interrupted = True

    def usage(self, usage: dict[str, Any] | None) -> None:
        """Token counts of a ``response.done``."""
        if not usage:
            return
        for key, attr in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens")):
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(self, attr, getattr(self, attr) + value)

    def summary(self, now: float) -> dict[str, Any]:
        """Everything, as plain data (``--stats-json`` writes this)."""
        latencies = sorted(t.latency_ms for t in self.turns if t.latency_ms is not None)
        return {
            "session_s": round(now - self.started, 1),
            "turns_count": len(self.turns),
            "interrupted": sum(t.interrupted for t in self.turns),
            "latency_ms_median": round(statistics.median(latencies)) if latencies else None,
            "latency_ms_p90": _p90(latencies),
            "underruns": self.underruns,
            "mic_dropped_ms": self.mic_dropped_ms,
            "reconnects": self.reconnects,
            "rollovers": self.rollovers,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "turns": [asdict(t) for t in self.turns],
            "tool_calls": list(self.tool_calls),
        }

    def lines(self, now: float) -> list[str]:
        """The exit summary, for people."""
        s = self.summary(now)
        latency = (
            f"reply latency median {s['latency_ms_median']} ms, p90 {s['latency_ms_p90']} ms"
            if s["latency_ms_median"] is not None
            else "no timed replies"
        )
        replies = "1 reply" if s["turns_count"] == 1 else f"{s['turns_count']} replies"
        return [
            f"{replies} ({s['interrupted']} interrupted) in {_duration(s['session_s'])}; {latency}",
            f"underruns {s['underruns']}, microphone audio dropped {s['mic_dropped_ms']} ms, "
            f"reconnects {s['reconnects']}, rollovers {s['rollovers']}, "
            f"tokens {s['input_tokens']} in / {s['output_tokens']} out",
        ]


def _p90(values: list[int]) -> int | None:
    """The 90th percentile by nearest rank (sorted input)."""
    if not values:
        return None
    rank = max(1, -(-9 * len(values) // 10))  # ceil(0.9 n)
    return values[rank - 1]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{seconds:.1f} s"
