"""The echo reference: what the speaker really played, lined up with each microphone block.

Voice Live cancels the assistant's own voice from the microphone when every input block also
carries what was playing at the same instant (``input_audio_echo_cancellation`` with
``reference_source: "client"``, ``channels: 2``): interleaved stereo PCM16 at the session
rate, the microphone on channel 0 and the reference on channel 1 (the order of Microsoft's
``live-reference-aec`` JavaScript sample). ``--record`` writes the same pairs to a stereo WAV.

**One time line.** Audio is placed on an absolute grid of session-rate samples: position
``p`` is the instant ``p / 24000`` seconds of ``time.monotonic()``. PortAudio reports when a
block's first sample leaves the DAC (``outputBufferDacTime``) or reached the ADC
(``inputBufferAdcTime``) on its stream clock (CLOCK_REALTIME with ALSA, a host-time base on
Core Audio…); :func:`monotonic_time` moves that onto the monotonic clock, so a PortAudio
stream, another host API's stream and a WAV file paced by the event loop all share the grid.

**Why a clock per stream.** Measured on the PulseAudio bed: the input stream's reported ADC
times wander ±2.5 ms around the truth over seconds and the first block's time can be off by
3-4 ms, while counting samples is steady to 0.4 ms. :class:`StreamClock` therefore counts
samples and steers towards the *average* reported time (a running mean at first, then an
exponential mean over :data:`CLOCK_TAU_S`), and resyncs at once when a report jumps by more
than :data:`CLOCK_JUMP_S` (an under/overflow, a restart). A correction of a millisecond or
more is only *proposed*: the taps apply it where the reference is quiet (a pause between
words, the start of a reply), because a 1 ms skip inside speech breaks an echo canceller for
a moment (measured: the reference dropped 1 ms twice inside a reply before this rule); only
one beyond :data:`CLOCK_FORCE_S` (drift under continuous sound) is applied anyway. And the
first :data:`CLOCK_SETTLE_S` of reports after a (re)start are not averaged: PortAudio fills
the output buffer with back-to-back callbacks whose DAC times assume the device already runs;
the reports step by 1-5 ms (a different amount every start) once it does (measured).

Pieces, each with its thread:

* :class:`EchoReference` — the ring of what was played, indexed by grid position. The speaker
  side writes (any one thread, the PortAudio callback included: a lock, no allocation beyond a
  numpy view); the microphone side reads a block's span. Time nothing was written for reads
  as silence: nothing played, or the speaker stream was stopped.
* :class:`PlayedTap` — wraps the jitter buffer's ``pull_into`` in the speaker callback and
  writes each pulled block at its playing position (resampled devices included).
* :class:`CaptureTap` — the microphone side, on the event loop: resamples a device block when
  needed, pairs it with the reference, hands on stereo or mono, feeds the recorder.
* :class:`EchoLink` — what ``run_chat`` creates and hands to the audio ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from voicelive.audio.resample import Resampler
from voicelive.protocol.pcm import SAMPLE_RATE

Pcm = npt.NDArray[np.int16]
T = TypeVar("T")

HISTORY_S: Final = 4.0
"""Played audio kept for the microphone to ask about. A block is read within tens of ms of
being played; the margin covers a stalled event loop."""
CLOCK_TAU_S: Final = 8.0
"""Averaging time of :class:`StreamClock`: long enough to ignore the reported times' wander
(seconds), short enough to follow two devices' clock drift (0.1 ms/s at 100 ppm → ~1 ms)."""
CLOCK_STEP_S: Final = 0.001
"""The smallest correction applied to a stream's position (hysteresis against jitter)."""
CLOCK_SETTLE_S: Final = 0.04
"""Reports of a stream's first 40 ms after a (re)start are not averaged (start-up transient)."""
CLOCK_FORCE_S: Final = 0.005
"""A proposed correction this large is applied even where the reference is not quiet."""
QUIET: Final = 64
"""Peak sample value (about -54 dBFS) under which a block of reference counts as quiet."""
CLOCK_JUMP_S: Final = 0.025
"""A report this far from the counted time is a discontinuity: resync at once."""


def monotonic_time(stream_time: float, current_time: float) -> float:
    """A PortAudio stream time (``inputBufferAdcTime``/``outputBufferDacTime``) on the
    ``time.monotonic()`` clock, given the same callback's ``currentTime``.

    Call it inside the callback. Host APIs that report no times (0) get "now".
    """
    now = time.monotonic()
    if stream_time <= 0 or current_time <= 0:
        return now
    return now - current_time + stream_time


def grid_position(seconds: float) -> int:
    """The session-rate grid position of a ``time.monotonic()`` instant."""
    return round(seconds * SAMPLE_RATE)


def is_quiet(samples: Pcm) -> bool:
    """No sample beyond :data:`QUIET` (two reductions, no allocation)."""
    return samples.size == 0 or (int(samples.max()) <= QUIET and int(samples.min()) >= -QUIET)


class StreamClock:
    """Grid positions of a stream's samples, from its blocks' reported start times.

    ``rate`` is the device rate. Feed every device block in order with :meth:`block`; then
    :meth:`position` gives the grid position of session-rate sample ``n`` of the stream (when
    the device runs at another rate, session sample ``n`` lines up with device sample
    ``n * rate / 24000``: soxr's streaming resampler compensates its own delay). A correction
    of :data:`CLOCK_STEP_S` or more is :attr:`pending` until :meth:`settle` applies it (or it
    reaches :data:`CLOCK_FORCE_S`). Pure; one thread at a time.
    """

    def __init__(
        self,
        rate: int = SAMPLE_RATE,
        tau_s: float = CLOCK_TAU_S,
        step_s: float = CLOCK_STEP_S,
        jump_s: float = CLOCK_JUMP_S,
        force_s: float = CLOCK_FORCE_S,
        settle_s: float = CLOCK_SETTLE_S,
    ) -> None:
        self.rate = rate
        self._settle_frames = int(settle_s * rate)
        self._tau = tau_s
        self._step = step_s
        self._jump = jump_s
        self._force = force_s
        self._base: float | None = None  # reported time of device sample 0 (as last anchored)
        self._count = 0  # device samples before the next block
        self._seen = 0  # device samples averaged since the last anchor
        self._unsettled = 0  # device samples still to pass before reports are averaged
        self._mean = 0.0  # average deviation of the reports from the counted time (s)
        self._applied = 0.0  # the part of _mean applied to positions
        self._offset = 0  # grid position of session sample 0
        self.resyncs = 0
        """Discontinuities seen (a report more than ``jump_s`` away from the counted time)."""
        self.corrections = 0
        """Corrections applied (by :meth:`settle` or forced)."""

    def block(self, reported: float, frames: int) -> None:
        """Note a device block of ``frames`` whose first sample is at ``reported`` (seconds)."""
        if self._base is None:
            self._anchor(reported)
        assert self._base is not None
        counted = self._base + self._count / self.rate
        deviation = reported - counted
        if abs(deviation - self._applied) > self._jump:
            self.resyncs += 1
            self._anchor(reported)
            deviation = 0.0
        if self._unsettled > 0:  # the start-up transient: keep the anchor for now
            self._unsettled -= frames
            self._count += frames
            return
        self._seen += frames
        weight = max(frames / (self._tau * self.rate), frames / self._seen)
        self._mean += min(1.0, weight) * (deviation - self._mean)
        if abs(self._mean - self._applied) >= self._force:
            self.settle()
        self._count += frames

    @property
    def pending(self) -> bool:
        """A correction of at least ``step_s`` waits for :meth:`settle`."""
        return abs(self._mean - self._applied) >= self._step

    def settle(self) -> None:
        """Apply the pending correction, if any (call where a jump cannot be heard)."""
        if self.pending:
            self._applied = self._mean
            self.corrections += 1
            self._update_offset()

    def _anchor(self, reported: float) -> None:
        self._base = reported - self._count / self.rate
        self._seen = 0
        self._unsettled = self._settle_frames
        self._mean = self._applied = 0.0
        self._update_offset()

    def _update_offset(self) -> None:
        assert self._base is not None
        self._offset = grid_position(self._base + self._applied)

    def position(self, session_sample: int) -> int:
        """Grid position of the stream's session-rate sample ``session_sample``."""
        if self._base is None:
            raise RuntimeError("no block yet")
        return self._offset + session_sample


class EchoReference:
    """The last :data:`HISTORY_S` of played audio, indexed by grid position.

    :meth:`played` (speaker side) and :meth:`read` (microphone side) may run on different
    threads; a lock guards the ring. Writes keep exact continuity: a block that starts within
    one sample of where the previous one ended is placed right after it (float rounding of
    positions must not leave a click in the reference).
    """

    def __init__(self, history_s: float = HISTORY_S) -> None:
        self._size = int(history_s * SAMPLE_RATE)
        self._ring = np.zeros(self._size, dtype=np.int16)
        self._head: int | None = None  # one past the newest position written
        self._lock = threading.Lock()
        self.gaps = 0
        """Writes that did not continue the previous one (stream start, underrun, resync)."""

    @property
    def head(self) -> int | None:
        """One past the newest grid position written (None before the first write)."""
        with self._lock:
            return self._head

    def played(self, pcm: bytes | bytearray | memoryview, position: int) -> None:
        """PCM16 mono session-rate samples that play from grid ``position`` on.

        Any thread (the PortAudio output callback included): no allocation beyond a view.
        """
        samples = np.frombuffer(pcm, dtype="<i2")
        n = samples.size
        if n == 0:
            return
        size = self._size
        with self._lock:
            head = self._head
            if head is not None and abs(position - head) <= 1:
                position = head
            elif head is not None:
                self.gaps += 1
                if position > head:  # nothing played in between: silence
                    self._zero(head, min(position, head + size))
            start = position % size
            first = min(n, size - start)
            self._ring[start : start + first] = samples[:first]
            if first < n:
                self._ring[: n - first] = samples[first:]
            self._head = position + n

    def _zero(self, begin: int, end: int) -> None:
        if end - begin >= self._size:
            self._ring[:] = 0
            return
        start, stop = begin % self._size, end % self._size
        if start <= stop:
            self._ring[start:stop] = 0
        else:
            self._ring[start:] = 0
            self._ring[:stop] = 0

    def read(self, position: int, frames: int) -> Pcm:
        """What played from grid ``position`` for ``frames`` samples (silence where nothing did).

        Returns a new int16 array. Any thread.
        """
        out = np.zeros(frames, dtype=np.int16)
        with self._lock:
            head = self._head
            if head is None:
                return out
            lo = max(position, head - self._size)
            hi = min(position + frames, head)
            while lo < hi:  # at most twice (the ring wraps once)
                start = lo % self._size
                count = min(hi - lo, self._size - start)
                out[lo - position : lo - position + count] = self._ring[start : start + count]
                lo += count
        return out


class PlayedTap(Generic[T]):
    """The speaker side: wraps ``pull`` (the jitter buffer's ``pull_into``) so that every
    session-rate block pulled is written to ``reference`` at the position it will play.

    In the PortAudio output callback call :meth:`block` first (with the block's DAC time on
    the monotonic clock and its device frames), then let the stream pull through
    :meth:`pull_into`, directly or through a :class:`~voicelive.audio.resample.PullResampler`.
    One tap per stream start: a restarted stream gets a new tap (and clock).
    """

    def __init__(
        self,
        reference: EchoReference,
        pull: Callable[[memoryview], T],
        device_rate: int = SAMPLE_RATE,
    ) -> None:
        self._reference = reference
        self._pull = pull
        self.clock = StreamClock(device_rate)
        self._pulled = 0  # session-rate samples pulled so far

    def block(self, dac_time: float, frames: int) -> None:
        """A device block of ``frames`` starts playing at ``dac_time`` (monotonic seconds)."""
        self.clock.block(dac_time, frames)

    def pull_into(self, out: memoryview) -> T:
        """Pull ``out`` full (the jitter buffer pads with silence) and note it as played."""
        result = self._pull(out)
        if self.clock.pending and is_quiet(np.frombuffer(out, dtype="<i2")):
            self.clock.settle()  # a position step inside silence cannot be heard
        self._reference.played(out, self.clock.position(self._pulled))
        self._pulled += len(out) // 2
        return result


def interleave(mic: bytes, reference: Pcm) -> bytes:
    """Stereo PCM16 frames ``[mic0, ref0, mic1, ref1, …]`` (channel 0 = microphone)."""
    stereo = np.empty((reference.size, 2), dtype="<i2")
    stereo[:, 0] = np.frombuffer(mic, dtype="<i2")
    stereo[:, 1] = reference
    return stereo.tobytes()


def microphone_channel(stereo: bytes) -> bytes:
    """Channel 0 (the microphone) of interleaved stereo PCM16, e.g. for a silence check."""
    mic: bytes = np.frombuffer(stereo, dtype="<i2")[0::2].tobytes()
    return mic


class EchoLink:
    """What ``run_chat`` hands to the audio ends when ``--echo-reference`` or ``--record`` is on.

    ``stereo``: the microphone blocks handed on are interleaved mic + reference (the session
    has ``channels: 2``); otherwise they stay mono. ``record``: called with every stereo block
    (mic + reference) on the event loop thread, for ``--record``; may be set after creation.
    """

    def __init__(
        self,
        stereo: bool,
        record: Callable[[bytes], None] | None = None,
        history_s: float = HISTORY_S,
    ) -> None:
        self.stereo = stereo
        self.record = record
        self.reference = EchoReference(history_s)
        self._clocks: dict[str, list[StreamClock]] = {"speaker": [], "microphone": []}

    def played_tap(self, pull: Callable[[memoryview], T], device_rate: int) -> PlayedTap[T]:
        """A new speaker-side tap (one per output stream)."""
        tap = PlayedTap(self.reference, pull, device_rate)
        self._clocks["speaker"].append(tap.clock)
        return tap

    def capture_tap(self, sink: Callable[[bytes], None], device_rate: int) -> CaptureTap:
        """A new microphone-side tap (one per input stream) delivering to ``sink``."""
        tap = CaptureTap(self, sink, device_rate)
        self._clocks["microphone"].append(tap.clock)
        return tap

    def summary(self) -> str:
        """One line for the log at exit: how often each side's time line was corrected
        (in a pause) or resynced (a stream restart, an under/overflow), and the gaps in what
        was played (a stopped speaker stream included)."""
        sides = [
            f"{side} clock {sum(c.corrections for c in clocks)} correction(s), "
            f"{sum(c.resyncs for c in clocks)} resync(s)"
            for side, clocks in self._clocks.items()
        ]
        return f"echo reference: {'; '.join(sides)}; {self.reference.gaps} gap(s) in playback"

    def pair(self, mic: bytes, position: int) -> bytes:
        """Pair a mono session-rate block starting at grid ``position`` with its reference;
        record the pair; return what to hand on (stereo or ``mic``). Loop thread."""
        reference = self.reference.read(position, len(mic) // 2)
        stereo = interleave(mic, reference)
        if self.record is not None:
            self.record(stereo)
        return stereo if self.stereo else mic


class CaptureTap:
    """The microphone side, called on the event loop with each device block and its ADC time
    (monotonic seconds): resamples to 24 kHz when the device runs at another rate, pairs the
    block with the reference through ``link`` and hands the result to ``sink``."""

    def __init__(self, link: EchoLink, sink: Callable[[bytes], None], device_rate: int) -> None:
        self._link = link
        self._sink = sink
        self.clock = StreamClock(device_rate)
        same_rate = device_rate == SAMPLE_RATE
        self._resampler = None if same_rate else Resampler(device_rate, SAMPLE_RATE)
        self._captured = 0  # session-rate samples delivered so far

    def __call__(self, block: bytes, adc_time: float) -> None:
        self.clock.block(adc_time, len(block) // 2)
        mono = block if self._resampler is None else self._resampler.process(block)
        if not mono:
            return
        frames = len(mono) // 2
        position = self.clock.position(self._captured)
        if self.clock.pending and is_quiet(self._link.reference.read(position, frames)):
            self.clock.settle()  # step where the reference is quiet: no skip in what is heard
            position = self.clock.position(self._captured)
        self._captured += frames
        self._sink(self._link.pair(mono, position))
