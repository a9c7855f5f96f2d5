"""Concealment: a reply that ran dry mid-way goes on sounding instead of falling silent. Pure.

When the network holds a delta back, the jitter buffer runs out of audio in the middle of a
reply. Silence there is heard as a hole in a word. WebRTC's NetEQ answers that with its
*expand* operation, and this is a small version of it:

- :meth:`Concealer.start` looks at the last ``HISTORY_MS`` of what was played and finds its
  pitch period: the lag, 2.5-15 ms (400-67 Hz), at which the last ``MATCH_MS`` best match
  what came before (``audioop.findfit``, a least-squares fit with the best gain).
- :meth:`Concealer.fill` repeats that period from where the audio stopped, at full level for
  ``FULL_MS``, then fading to silence by ``MAX_MS``: a held vowel, not a hole, for the
  lateness a jittery link has (tens of milliseconds); a longer stall fades out and is
  silence, as before.
- :meth:`Concealer.blend` crossfades, over ``CROSSFADE_MS``, from the concealment to the real
  audio when it arrives. The real audio goes on where it stopped: nothing of the reply is
  skipped, the reply is heard as late as the network made it, and what was concealed is not
  the reply's audio (the jitter buffer does not count it as played, so a truncate stays what
  was heard of the reply itself).

Everything here is ``audioop`` (C) on a few kilobytes: no numpy, so nothing to import and
little to pay in PortAudio's callback, where it runs (under the jitter buffer's lock), and
only after running dry. Samples are PCM16 mono at the session rate; offsets are bytes.
"""

from __future__ import annotations

from voicelive.audio.pcm_ops import audioop
from voicelive.protocol.pcm import BYTES_PER_MS, BYTES_PER_SAMPLE

WIDTH = BYTES_PER_SAMPLE
HISTORY_MS = 30.0
"""Played audio looked at to find the period: the longest lag plus the match."""
MATCH_MS = 7.5
"""The stretch at the end of the played audio matched against what came before."""
MIN_LAG_MS = 2.5
MAX_LAG_MS = 15.0
FULL_MS = 20.0
"""Concealment at full level for this long..."""
MAX_MS = 80.0
"""...then fading to silence by this much: a longer stall is a gap."""
MIN_RMS = 260
"""Concealment only where the audio was louder than this (-42 dBFS): inside a word, where a
hole is heard. A pause, a breath or the quiet end of a reply (a reply that ends runs dry
too, until its ``response.audio.done`` arrives) gets silence, as before."""
CROSSFADE_MS = 2.5
PIECE_MS = 2.5
"""The level changes in steps of this much (audioop scales by one factor per call)."""
_STEPS = 8  # pieces of a crossfade
_SILENCE = bytes(4096)


def _bytes(ms: float) -> int:
    return int(ms * BYTES_PER_MS) // WIDTH * WIDTH


class Concealer:
    """See the module docstring. One reply's run-dry at a time: :meth:`start`, then
    :meth:`fill` on each pull that finds nothing, then :meth:`blend` (or :meth:`stop`).

    Thread: whoever owns the jitter buffer's lock (PortAudio's callback thread). Allocates a
    few small bytes objects per call, only while concealing. Never raises on short input.
    """

    def __init__(self) -> None:
        self._period = b""
        self._phase = 0  # bytes into the period where the next sample comes from
        self._done = 0  # bytes of concealment produced since start
        self._pending = 0  # of them, written with a level above zero
        self.active = False
        self.concealed_bytes = 0
        """Concealment heard inside replies (a hole covered, or a reply cut while covering
        one), over this concealer's life."""
        self.tail_bytes = 0
        """Concealment after a reply's last audio: it ran dry because it was over, and its
        end (``response.audio.done``) came later. Not a hole; counted apart."""

    def start(self, history: bytes) -> bool:
        """The buffer ran dry after playing ``history`` (its end is the last sample heard).
        Returns False (and stays inactive) when there is too little to find a period in."""
        history = history[len(history) - len(history) // WIDTH * WIDTH :]
        match = _bytes(MATCH_MS)
        lag_min, lag_max = _bytes(MIN_LAG_MS), min(_bytes(MAX_LAG_MS), len(history) - match)
        self.active = False
        if lag_max < lag_min:
            return False
        end = len(history)
        reference = history[end - match :]
        fragment = history[end - match - lag_max : end - lag_min]
        if audioop.rms(reference, WIDTH) < MIN_RMS:
            return False  # it ran dry in a pause or at the reply's end: silence is no hole
        offset, _ = audioop.findfit(fragment, reference)
        lag = lag_max - offset * WIDTH
        self._period = history[end - lag :]
        self._phase = 0
        self._done = self._pending = 0
        self.active = True
        return True

    def _level(self) -> float:
        full, last = _bytes(FULL_MS), _bytes(MAX_MS)
        if self._done < full:
            return 1.0
        return max(0.0, (last - self._done) / (last - full))

    def _next(self, n: int) -> bytes:
        """The next ``n`` bytes of the repeated period, at full level (advances the phase)."""
        period, phase = self._period, self._phase
        parts = []
        while n > 0:
            take = min(n, len(period) - phase)
            parts.append(period[phase : phase + take])
            phase = (phase + take) % len(period)
            n -= take
        self._phase = phase
        return b"".join(parts)

    def fill(self, out: memoryview, start: int, end: int) -> None:
        """Write concealment into ``out[start:end]``: the period at its level, silence once
        faded (or when inactive)."""
        pos = start
        step = _bytes(PIECE_MS)
        while pos < end:
            level = self._level() if self.active else 0.0
            n = min(step, end - pos) // WIDTH * WIDTH  # whole samples (a malformed odd delta)
            if level <= 0.0 or not n:
                while pos < end:  # silence, without allocating it
                    k = min(end - pos, len(_SILENCE))
                    out[pos : pos + k] = _SILENCE[:k]
                    pos += k
                return
            piece = self._next(n)
            out[pos : pos + n] = piece if level >= 1.0 else audioop.mul(piece, WIDTH, level)
            self._done += n
            self._pending += n
            pos += n

    def blend(self, out: memoryview, start: int, end: int) -> None:
        """Real audio is in ``out[start:end]`` again: fade it in over the concealment's
        continuation (its first ``CROSSFADE_MS``), then stop concealing."""
        n = min(end - start, _bytes(CROSSFADE_MS)) // WIDTH * WIDTH
        piece = max(WIDTH, n // _STEPS // WIDTH * WIDTH)
        pos, stop = start, start + n
        while pos < stop:
            take = min(piece, stop - pos)
            weight = (pos - start + take / 2) / n  # n > 0 inside the loop
            level = self._level() * (1.0 - weight) if self.active else 0.0
            real = audioop.mul(bytes(out[pos : pos + take]), WIDTH, weight)
            if level > 0.0:
                synth = audioop.mul(self._next(take), WIDTH, level)
                self._done += take
                real = audioop.add(real, synth, WIDTH)
            out[pos : pos + take] = real
            pos += take
        self.stop()

    def stop(self, *, tail: bool = False) -> None:
        """No concealment in progress: real audio back, or the reply cut (a flush), or over
        (``tail``: what was concealed came after its last audio)."""
        if tail:
            self.tail_bytes += self._pending
        else:
            self.concealed_bytes += self._pending
        self._pending = 0
        self.active = False
        self._period = b""
