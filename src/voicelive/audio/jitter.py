"""Jitter buffer between the network (event loop) and the speaker (PortAudio's thread). Pure.

Assistant audio arrives in bursts, faster than real time; the output callback pulls a fixed
amount every few milliseconds. The buffer keeps the queued PCM as a deque of segments tagged
with their assistant ``item_id`` and:

- primes: plays silence until ``prefill`` bytes are queued (or the item is known complete),
  so the first block of a reply does not starve the device; with an adaptive prefill
  (:mod:`voicelive.audio.prefill`, given by the pipeline when a device pulls in real time) it
  also waits its *hold* after the first of those bytes arrived, so a jittery network does not
  make a reply run dry;
- counts an *underrun* when it runs dry mid-item, then primes again; meanwhile it pads with
  silence or, with a :class:`~voicelive.audio.concealment.Concealer` (a device's speaker),
  goes on with the reply's last pitch period, fading, and crossfades back into the reply
  when its audio comes (concealment is not counted as the item's played audio);
- takes back a hold longer than the link needed: when a playing reply's deltas show it
  began later than its earliest schedule plus its hold, the excess is cut from its pauses as
  its deltas come (:mod:`voicelive.audio.pause_trim`), never from speech;
- counts, per item, the bytes the callback really handed to the device: that number (not wall
  time, and a trimmed pause counted once played past) is what
  ``conversation.item.truncate`` needs after a barge-in. How much was
  *received* is the core's record (it owns each item's playback record); the buffer reports
  what it played and what it refused;
- ``flush()`` drops everything queued at once (barge-in takes effect at the next pull);
- is bounded only against a broken service (``max_bytes``, many minutes): audio beyond it is
  refused (``push`` returns False) and counted, never blocking the pusher.

Threads: ``push``, ``end_item``, ``flush``, ``stats`` are called from the event loop;
``pull_into`` from the PortAudio callback thread. One lock guards the state; every critical
section is a few memcpy's long. ``pull_into`` never blocks on anything but that lock, never
raises for empty/short data and allocates nothing on the steady path. It starts nothing:
whoever pushes tells the speaker (:meth:`voicelive.audio.pipeline.AudioPipeline.play`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from voicelive.audio.concealment import HISTORY_MS, Concealer
from voicelive.audio.pause_trim import trim_pause
from voicelive.audio.prefill import AdaptivePrefill
from voicelive.protocol.pcm import BYTES_PER_MS, bytes_of
from voicelive.protocol.playback import RECENT_ITEMS, ItemPlayback, PlaybackEvent, PlaybackNotice

_ZEROS = memoryview(bytes(65536))  # silence, shared read-only, so padding allocates nothing
_HISTORY_BYTES = bytes_of(int(HISTORY_MS))
TRIM_MARGIN_MS = 5.0
"""A reply keeps this much of its excess wait: a device pull's worth of slack."""
TRIM_MIN_MS = 2.5
"""Less excess than this is not worth a cut."""


class _Segment:
    """A queued delta; ``offset`` advances as the callback plays it. ``skipped`` bytes of
    the reply were trimmed out of a pause at ``skip_at``: once played past it, they count as
    heard (the truncate is in the reply's own time)."""

    __slots__ = ("data", "item_id", "offset", "skip_at", "skipped")

    def __init__(self, item_id: str, data: bytes, skipped: int = 0, skip_at: int = 0) -> None:
        self.item_id = item_id
        self.data = memoryview(data)  # slicing a memoryview copies nothing
        self.offset = 0
        self.skipped = skipped
        self.skip_at = skip_at


@dataclass(frozen=True)
class JitterStats:
    queued_bytes: int
    max_queued_bytes: int
    pushed_bytes: int
    played_bytes: int
    dropped_bytes: int
    underruns: int
    flushes: int
    hold_ms: float = 0.0
    """The adaptive prefill's current hold (0 without one, or on a clean network)."""
    concealed_bytes: int = 0
    """Concealment played where the buffer had run dry mid-reply (0 without a concealer)."""
    concealed_tail_bytes: int = 0
    """Concealment played after a reply's last audio, before its end was known."""
    trimmed_bytes: int = 0
    """Cut from replies' pauses (to take back a hold longer than the link needed), counted
    once played past."""


class JitterBuffer:
    """See the module docstring. Sizes are in bytes of PCM16 mono (2 bytes per sample)."""

    def __init__(
        self,
        *,
        prefill_bytes: int,
        max_bytes: int,
        adaptive: AdaptivePrefill | None = None,
        concealer: Concealer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``adaptive``: learn a hold from delta arrival times (for a consumer that pulls in
        real time, a device: the hold is wall time); None: the fixed prefill only.
        ``concealer``: cover a mid-reply run-dry with concealment (a device, heard in real
        time); None: silence (a WAV file, whose timeline must stay the reply's)."""
        if prefill_bytes < 0 or max_bytes <= 0:
            raise ValueError("prefill_bytes must be >= 0 and max_bytes > 0")
        self._lock = threading.Lock()
        self._clock = clock
        self._adaptive = adaptive
        self._concealer = concealer
        self._tail: deque[memoryview] = deque(maxlen=4)  # the current item's last played data
        # The playing reply's schedule: when it began (clock), the gaps since, what was trimmed.
        self._started_at = 0.0
        self._dry_at = 0.0
        self._gaps_s = 0.0
        self._trimmed_reply = 0
        self._trimmed = 0
        self._hold_until = 0.0  # clock time before which a priming buffer stays silent
        self._prefill = prefill_bytes
        self._max = max_bytes
        self._segments: deque[_Segment] = deque()
        self._queued = 0
        self._primed = False
        self._underran = False  # priming after running dry mid-item, not for a reply's start
        self._open: set[str] = set()
        self._played: OrderedDict[str, int] = OrderedDict()  # recent items
        self._current: str | None = None
        self._max_queued = 0
        self._pushed = 0
        self._played_total = 0
        self._dropped = 0
        self._underruns = 0
        self._flushes = 0

    # ------------------------------------------------------------------ event-loop side

    def push(self, item_id: str, pcm: bytes) -> bool:
        """Queue ``pcm`` for ``item_id``. Returns False (and counts it) if the buffer is full."""
        if not pcm:
            return True
        with self._lock:
            if self._queued + len(pcm) > self._max:
                self._dropped += len(pcm)
                return False
            adaptive = self._adaptive
            segment = None
            if adaptive is not None:
                adaptive.arrived(item_id, self._clock(), len(pcm))
                if not self._primed:
                    # A reply about to start: each delta may show it can start sooner. One
                    # that ran dry goes on at once (a new reply behind it starts afresh).
                    going_on = self._underran and item_id == self._current
                    self._hold_until = 0.0 if going_on else adaptive.play_at()
                elif item_id == self._current:
                    segment = self._take_back(adaptive, item_id, pcm)
            self._segments.append(segment or _Segment(item_id, pcm))
            self._queued += len(segment.data) if segment else len(pcm)
            self._pushed += len(pcm)
            self._max_queued = max(self._max_queued, self._queued)
            self._open.add(item_id)
            if item_id not in self._played:
                self._played[item_id] = 0
                while len(self._played) > RECENT_ITEMS:
                    self._played.popitem(last=False)
        return True

    def end_item(self, item_id: str) -> None:
        """No more audio will come for ``item_id``: play out what is queued even below prefill."""
        with self._lock:
            self._open.discard(item_id)
            if self._adaptive is not None:
                self._adaptive.finish(item_id)

    def flush(self) -> list[ItemPlayback]:
        """Drop all queued audio now. Returns the played bytes of each item that was cut.

        An item is "cut" if it still had audio queued or was still open (more expected); its
        record says which (``open``), because an open item that underran has nothing queued
        yet most of it was never heard.
        """
        with self._lock:
            cut: list[str] = []
            for segment in self._segments:
                if segment.item_id not in cut:
                    cut.append(segment.item_id)
            for item_id in self._open:
                if item_id not in cut:
                    cut.append(item_id)
            records = [ItemPlayback(i, self._played.get(i, 0), open=i in self._open) for i in cut]
            self._segments.clear()
            self._queued = 0
            self._primed = False
            self._underran = False
            self._open.clear()
            self._current = None
            self._end_concealment()
            self._flushes += 1
            if self._adaptive is not None:
                self._adaptive.finish()
            return records

    def playback(self, item_id: str) -> ItemPlayback:
        """Played bytes of one recent item so far (zero if unknown)."""
        with self._lock:
            return ItemPlayback(item_id, self._played.get(item_id, 0), open=item_id in self._open)

    def stats(self) -> JitterStats:
        with self._lock:
            return JitterStats(
                queued_bytes=self._queued,
                max_queued_bytes=self._max_queued,
                pushed_bytes=self._pushed,
                played_bytes=self._played_total,
                dropped_bytes=self._dropped,
                underruns=self._underruns,
                flushes=self._flushes,
                hold_ms=self._adaptive.hold_ms if self._adaptive is not None else 0.0,
                concealed_bytes=self._concealer.concealed_bytes if self._concealer else 0,
                concealed_tail_bytes=self._concealer.tail_bytes if self._concealer else 0,
                trimmed_bytes=self._trimmed,
            )

    def hold_left(self) -> float:
        """Seconds before the reply that is priming may start (its adaptive hold); 0 when it
        may start now or nothing waits. Loop thread."""
        with self._lock:
            if self._primed or not self._queued or not self._hold_until:
                return 0.0
            if self._segments[-1].item_id not in self._open:
                return 0.0  # complete: it plays at once, whatever the hold
            return max(0.0, self._hold_until - self._clock())

    @property
    def busy(self) -> bool:
        """True while audio is queued or an item is still open (a reply is playing or due)."""
        with self._lock:
            return self._queued > 0 or bool(self._open)

    def _take_back(self, adaptive: AdaptivePrefill, item_id: str, pcm: bytes) -> _Segment | None:
        """Under the lock, for a delta of the playing reply: if the reply waited longer than
        the link has shown it needed, the delta with a pause shortened by (up to) the excess
        (:mod:`voicelive.audio.pause_trim`); None to queue it as it came."""
        behind = adaptive.behind_ms(self._started_at + self._gaps_s)
        want = behind - self._trimmed_reply / BYTES_PER_MS - TRIM_MARGIN_MS
        if want < TRIM_MIN_MS:
            return None
        trim = trim_pause(pcm, int(want * BYTES_PER_MS))
        if not trim.removed:
            return None
        self._trimmed_reply += trim.removed
        return _Segment(item_id, trim.pcm, trim.removed, trim.at)

    def _history(self) -> bytes:
        """Under the lock: the last ``HISTORY_MS`` the current item played (copies only that)."""
        parts: list[memoryview] = []
        need = _HISTORY_BYTES
        for data in reversed(self._tail):
            if need <= 0:
                break
            parts.append(data[-need:] if len(data) > need else data)
            need -= len(parts[-1])
        return b"".join(reversed(parts))

    def _end_concealment(self, *, over: bool = False) -> None:
        """Under the lock: the reply is cut, or ``over`` (played out), nothing is concealed
        any more."""
        self._tail.clear()
        if self._concealer is not None:
            self._concealer.stop(tail=over)

    # ------------------------------------------------------------------ audio-thread side

    def pull_into(self, out: memoryview) -> PlaybackNotice | None:
        """Fill all of ``out`` (a writable byte buffer) with queued audio, then silence.

        Returns a STARTED notice when the first bytes of an item were just played and a
        DRAINED notice when the last queued bytes of a finished item were played; None
        otherwise. Called from the PortAudio callback thread; never raises.
        """
        wanted = len(out)
        written = 0
        notice: PlaybackNotice | None = None
        with self._lock:
            if not self._primed and self._queued:
                if self._underran and self._segments[0].item_id != self._current:
                    # The reply that ran dry never ended, and the next one is here: the next
                    # starts afresh, and what covered the first one's end was its tail.
                    self._underran = False
                    self._end_concealment(over=True)
                last_item = self._segments[-1].item_id
                if last_item not in self._open or (
                    self._queued >= self._prefill
                    and (not self._hold_until or self._clock() >= self._hold_until)
                ):
                    self._primed = True
                    if self._underran:  # the reply goes on, as late as the gap
                        self._gaps_s += self._clock() - self._dry_at
                    else:  # a reply starts: its schedule
                        self._started_at = self._clock()
                        self._gaps_s = 0.0
                        self._trimmed_reply = 0
                    self._underran = False
            if self._primed:
                segments = self._segments
                while written < wanted and segments:
                    segment = segments[0]
                    item_id, data, offset = segment.item_id, segment.data, segment.offset
                    n = min(wanted - written, len(data) - offset)
                    out[written : written + n] = data[offset : offset + n]
                    written += n
                    self._queued -= n
                    self._played_total += n
                    if item_id in self._played:
                        self._played[item_id] += n
                        if segment.skipped and offset + n > segment.skip_at:
                            self._played[item_id] += segment.skipped  # heard past the cut
                            self._trimmed += segment.skipped
                            segment.skipped = 0
                    if item_id != self._current:
                        self._current = item_id
                        self._tail.clear()
                        notice = PlaybackNotice(PlaybackEvent.STARTED, item_id)
                    if offset + n >= len(data):
                        segments.popleft()
                        self._tail.append(data)
                    else:
                        segment.offset = offset + n
                conceal = self._concealer
                if conceal is not None and conceal.active and written:
                    conceal.blend(out, 0, written)  # the reply is back after running dry
                if written < wanted:
                    # Ran dry. Mid-item that is an underrun (the network is late): prime again.
                    self._primed = False
                    if self._current is not None and self._current in self._open:
                        self._underruns += 1
                        self._underran = True
                        self._dry_at = self._clock()
                        if conceal is not None:
                            conceal.start(self._history())
            if not self._queued and self._current is not None and self._current not in self._open:
                # The last byte of a finished item has been played: the reply is over, and
                # the next one primes afresh (also when this pull happened to end exactly).
                notice = PlaybackNotice(PlaybackEvent.DRAINED, self._current)
                self._current = None
                self._primed = False
                self._underran = False
                self._end_concealment(over=True)
            conceal = self._concealer
            if conceal is not None and conceal.active and written < wanted:
                conceal.fill(out, written, wanted)  # still dry mid-reply
                written = wanted
        if written < wanted:
            gap = wanted - written
            out[written:wanted] = _ZEROS[:gap] if gap <= len(_ZEROS) else bytes(gap)
        return notice
