"""Adaptive prefill: how long a reply waits after its first delta before it plays. Pure.

The model. A reply's audio is a real-time schedule: if it starts playing at ``a0 + H`` (its
first delta arrived at ``a0``) and never stops, the delta that carries the audio after the
first ``before`` ms is needed at ``a0 + H + before``. That delta's *lateness* is
``(t - a0) - before`` (``t`` its arrival), and the reply plays without an underrun exactly
when the hold ``H`` is at least its largest lateness. How much audio is queued at the start
does not enter: it is already counted in ``before``.

- Audio that comes faster than real time (the service's bursts, the simulator at speedup 4
  on a clean loopback) has lateness <= 0: no hold, a reply plays on its first delta.
- A network that holds deltas back makes lateness positive, but in a reply that runs ahead
  of real time only its first deltas show it. So each reply is also scored as if it had
  started at any of its deltas that arrived close to the real-time edge (lateness above
  ``-edge_ms``): the score is the largest rise of lateness since such a delta. A jittery
  network shows in nearly every reply that way; a reply far ahead (seconds queued, then a
  pause while the service thinks) does not count its pause, which could not starve it.

:class:`AdaptivePrefill` keeps that score for the last ``window`` replies (and the current
one so far); :attr:`~AdaptivePrefill.hold_ms` is the largest plus ``headroom_ms`` (the
device's own buffer is pulled about that much ahead), 0 below ``quiet_ms`` (scheduling
noise), never more than ``max_ms``. After ``window`` clean replies it is back to 0. With the
jitter buffer's fixed floor of queued audio (``--prebuffer-ms``, 40 ms), the effective prefill
is ``max(floor, hold)``: the floor on a clean network, at most ``max_ms`` on a bad one.

The first reply. Before any reply has been seen there is nothing to learn from, and a reply
delivered at real time through a jittery link would run dry as soon as one delta comes later
than the first did. So until a reply has been remembered, a reply waits at least
``first_hold_ms``. The wait is measured from the *earliest* schedule the reply's deltas show
(:meth:`~AdaptivePrefill.play_at`), not from its first delta: a delta that arrives ahead of
real time (a burst, a service faster than real time) moves the start to when the burst
shows it could have begun, so a reply that comes faster than real time still plays at once,
its second delta being its evidence. Within a reply nothing else changes: after running dry
the buffer plays again as soon as audio is there (the lateness it saw counts for the next
replies), because a second wait would add its whole length to the gap.

Taking a wait back. A later reply that waited longer than its deltas then show it needed
(:meth:`~AdaptivePrefill.behind_ms`) has the excess cut from its pauses by the jitter buffer
(:mod:`voicelive.audio.pause_trim`).

Threads: loop thread only (the jitter buffer calls it from ``push``/``end_item``/``flush``).
Times are seconds from any monotonic clock; sizes are bytes of session PCM16.
"""

from __future__ import annotations

from collections import deque

from voicelive.protocol.pcm import BYTES_PER_MS

MAX_HOLD_MS = 400.0
"""The hold never exceeds this: a reply that would need more is better heard with a gap."""
WINDOW_REPLIES = 10
"""Replies remembered: a jittery reply keeps the hold up for this many."""
HEADROOM_MS = 20.0
"""Added to a learned lateness: the device pulls about its buffer (20 ms) ahead of playing."""
QUIET_MS = 2.0
"""Lateness below this is the loop's own scheduling noise: no hold."""
EDGE_MS = 100.0
"""A reply counts as close to the real-time edge while less than this much ahead of it."""
FIRST_HOLD_MS = 20.0
"""Until a reply has been seen, a reply waits this long after the earliest schedule its deltas
show. Through 100 ms + 0-60 ms of jitter at real time (benchmarks/links.py) its first sound
then comes within 0-3 ms of the least any gap-free player could do through a 20 ms speaker
buffer, with 0-15 ms of gaps: the relay's first delta is mostly late itself (it waits behind
the reply's opening events). When it was among the reply's fastest, the hole it leaves (up to
the jitter less this wait) is concealed inside a word (:mod:`voicelive.audio.concealment`).
Every 10 ms more would delay every first reply by as much."""


class AdaptivePrefill:
    """See the module docstring. Feed it every delta; read :attr:`hold_ms` at a reply start."""

    def __init__(
        self,
        *,
        max_ms: float = MAX_HOLD_MS,
        window: int = WINDOW_REPLIES,
        headroom_ms: float = HEADROOM_MS,
        quiet_ms: float = QUIET_MS,
        edge_ms: float = EDGE_MS,
        first_hold_ms: float = FIRST_HOLD_MS,
    ) -> None:
        if min(max_ms, headroom_ms, quiet_ms, edge_ms, first_hold_ms) < 0 or window < 1:
            raise ValueError("the times must be >= 0 and window >= 1")
        self._max_ms = max_ms
        self._first_hold_ms = min(first_hold_ms, max_ms)
        self._headroom_ms = headroom_ms
        self._quiet_ms = quiet_ms
        self._edge_ms = edge_ms
        self._recent: deque[float] = deque(maxlen=window)
        self._item: str | None = None
        self._anchor = 0.0  # arrival of the current reply's first delta
        self._before_ms = 0.0  # audio in the current reply's deltas so far
        self._lowest_ms = 0.0  # its lowest lateness so far (most ahead of real time)
        self._score_ms = 0.0  # its largest rise of lateness near the edge so far

    def arrived(self, item_id: str, now: float, n_bytes: int) -> None:
        """A delta of ``n_bytes`` for ``item_id`` arrived at ``now`` (seconds)."""
        if item_id != self._item:
            self.finish()
            self._item, self._anchor = item_id, now
            self._before_ms = self._lowest_ms = self._score_ms = 0.0
        else:
            late = (now - self._anchor) * 1000.0 - self._before_ms
            rise = late - max(self._lowest_ms, -self._edge_ms)
            if rise > self._score_ms:
                self._score_ms = rise
            if late < self._lowest_ms:
                self._lowest_ms = late
        self._before_ms += n_bytes / BYTES_PER_MS

    def finish(self, item_id: str | None = None) -> None:
        """The current reply (or ``item_id``, if it is the current one) is complete or was
        cut: remember its score. Idempotent."""
        if self._item is not None and item_id in (None, self._item):
            self._recent.append(self._score_ms)
            self._item = None

    @property
    def lateness_ms(self) -> float:
        """The largest score remembered (the current reply's so far included)."""
        current = self._score_ms if self._item is not None else 0.0
        return max(current, max(self._recent, default=0.0))

    def play_at(self) -> float:
        """Clock time (seconds) before which the current reply should not start playing; 0
        when it need not wait (or there is no current reply).

        The hold (:attr:`hold_ms`, at least ``first_hold_ms`` before any reply was
        remembered) counted from the earliest schedule the reply's deltas have shown.
        """
        if self._item is None:
            return 0.0
        hold = self.hold_ms if self._recent else max(self.hold_ms, self._first_hold_ms)
        if hold <= 0:
            return 0.0
        return self._anchor + (self._lowest_ms + hold) / 1000.0

    def behind_ms(self, started_at: float) -> float:
        """How much later than it needed the current reply began to play (at clock time
        ``started_at``, gaps since added): its start against the earliest schedule its deltas
        show plus the hold, never more than it waited after its first delta (a reply ahead of
        real time waited nothing: it has nothing to take back). 0 with no hold, or before a
        reply was remembered (the first reply has not seen the link's spread yet)."""
        hold = self.hold_ms
        if self._item is None or not self._recent or hold <= 0:
            return 0.0
        waited = (started_at - self._anchor) * 1000.0
        return max(0.0, min(waited, waited - (self._lowest_ms + hold)))

    @property
    def hold_ms(self) -> float:
        """How long a reply (or a reply that ran dry) should wait before it plays, in ms."""
        late = self.lateness_ms
        if late < self._quiet_ms:
            return 0.0
        return min(self._max_ms, late + self._headroom_ms)
