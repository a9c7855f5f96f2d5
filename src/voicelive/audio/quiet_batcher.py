"""Holds back microphone blocks while the room is quiet, so the event loop wakes less often.

Every block handed to the event loop costs a loop wake-up and a WebSocket send; at 20 ms
blocks that is 50 a second, and it was most of voicelive's CPU while it only listened
(benchmarks/run.py). Audio that is certainly not speech needs no 20 ms delivery: the
service's VAD cannot start a turn on it. So while blocks are *quiet* (below) and no one has
made a sound for ``quiet_after_ms``, blocks are held and handed on together, up to
``hold_ms`` at a time.

What it never delays:
- **a sound**: the first block that is not quiet goes at once, with every block held before
  it, in order (the held ones were quiet, so they are the room before the speech);
- **the end of a turn**: for ``quiet_after_ms`` after the last sound each block goes at once,
  so the service's silence timer (``silence_duration_ms``) runs on audio that arrives as it
  is recorded. Callers set ``quiet_after_ms`` above that timer;
- **a barge-in**: while the speaker plays the assistant's audio (:class:`PlaybackActivity`,
  set by the speaker's output callback, plus :data:`PLAYBACK_HANGOVER_S`) every block counts
  as a sound, so nothing is held while the assistant speaks, nor ``quiet_after_ms`` after.

Nothing is dropped or reordered; only the moment of hand-over changes.

Quiet means all three, checked per block:
1. **no peak**: every PCM16 sample within -512..511 (peaks below about -36 dBFS): the samples
   whose high byte is 0x00, 0x01, 0xFE or 0xFF, checked by two C-speed bytes operations, so
   a loud block (and every block of a noisy room) costs no more than that;
2. **below what a VAD could call speech**: the block's RMS below :data:`CEILING_DBFS`
   (-48 dBFS). The simulator's energy VAD, standing in for the service's, calls a 10 ms
   frame voiced at ``-60 + 40 * threshold`` dBFS: -40 at the default 0.5. A frame that
   straddles two blocks leaves at least half its energy in one of them, so some block is at
   most 6 dB below any voiced frame (-46): the ceiling keeps 2 dB under that worst case,
   8 dB under the frame's own level;
3. **not rising**: the block's RMS less than :data:`RISE_DB` (3 dB) above the room's floor:
   the quietest block of the last :data:`FLOOR_WINDOW_S` (1.5-2 s; never below
   :data:`FLOOR_MIN_DBFS`), so it follows a quieter room at once and a louder one (a fan
   starting) within the window. This is what keeps soft speech, and a VAD set more sensitive
   than the default, from waiting: nothing a VAD could tell from the room stays at the
   room's level. A rise costs only batching (``quiet_after_ms`` block by block), never a
   delay; the room's noise starting after silence is one.

The RMS comes from :mod:`audioop` (the standard library's C loop until Python 3.12; the
``audioop-lts`` package, a dependency from 3.13, provides the same module): one call, about
15 us of the callback thread's CPU per quiet block as it runs there, woken every 20 ms with
cold caches. numpy did the same sum with four calls (``frombuffer``, ``astype``, ``dot``,
``int``) in 5 us warm but about 110 us cold, and that was the quiet room's whole loss against
the rule before this one (0.4-0.5 % of a core, in the callback thread alone):
benchmarks/hot_paths.py measures the test cold, next to numpy's way.

Measured (offline through this class, and end to end in
tests/e2e/test_quiet_batching_audio.py): white noise at -60 dBFS RMS (peaks about -46) is
batched whole, 0 early hand-overs in 200 s. A room whose noise wobbles by +-2 dB every 3 s
(the floor, a minimum, sits in its troughs) has a third of its blocks go early, so it is
hardly batched at all: that costs CPU, never delay. Speech faded in over 300 ms to
a -30 dBFS peak over that room: the speech alone reaches the room's level about 70 ms into
the fade and twice it 90 ms in; the rise hands it over 75-90 ms in, whatever the block
alignment, while the peak test alone waited until 200 ms in and the simulator's VAD fires
at 460 ms (threshold 0.25) or never (0.5). End to end, the blocks from 90 ms on reached the
service at most 20-31 ms later than the most prompt block (the rest of the speech: p90
22-29 ms); with the peak test alone 80-86 ms (100-106 from 70 ms in). The first 90 ms of
the fade, quieter than the room, still go with the batch that the onset flushes (at most
49-84 ms late).

A change in what may be sent (capture resumed after a reconnect, the microphone unmuted) must
not let audio recorded before it through: :meth:`QuietBatcher.drop_held` drops what is held,
and a batch already on its way to the loop is recognised as stale there
(:meth:`QuietBatcher.current`).

Threads: :meth:`~QuietBatcher.feed` and :attr:`~QuietBatcher.batch_epoch` belong to one
caller, the PortAudio input callback; :meth:`~QuietBatcher.drop_held` and
:meth:`~QuietBatcher.current` to the event loop thread. The only state they share is an int
that the loop thread alone writes. :class:`PlaybackActivity` is one float, written by the
output callback and read by the input callback. No locks, no blocking, no asyncio.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from voicelive.audio.pcm_ops import audioop

QUIET_HIGH_BYTES: Final = b"\x00\x01\xfe\xff"
"""High bytes of the PCM16 samples -512..511: the quiet band."""
CEILING_DBFS: Final = -48.0
"""A block at or above this RMS is never held (8 dB under the default VAD's -40 dBFS)."""
RISE_DB: Final = 3.0
"""A block this far above the room's floor is never held: something started."""
FLOOR_MIN_DBFS: Final = -70.0
"""The floor a rise is measured from is never lower (digital silence has no level)."""
FLOOR_WINDOW_S: Final = 1.5
"""The floor is the quietest block of this long (a quieter room counts at once)."""
FLOOR_PARTS: Final = 3
"""The window in parts, each remembered by its quietest block: so the floor forgets a block
after the window and at most one part more."""
PLAYBACK_HANGOVER_S: Final = 0.5
"""After the speaker last handed audible audio to its device, it counts as playing this long
(what was handed over is still in the device's buffer, then in the room)."""

_FULL_SCALE_SQUARED: Final = 32768.0**2


def is_quiet(block: bytes) -> bool:
    """True when every little-endian PCM16 sample of ``block`` lies within -512..511."""
    return not block[1::2].translate(None, QUIET_HIGH_BYTES)


def _mean_square(dbfs: float) -> float:
    return _FULL_SCALE_SQUARED * 10 ** (dbfs / 10)


class PlaybackActivity:
    """Whether the speaker is playing the assistant's audio, as the microphone needs to know.

    :meth:`saw_output` is called by the speaker's output callback with what it handed to the
    device; :meth:`playing` by the microphone's input callback. One float shared between two
    PortAudio threads: written whole by one, read by the other, so no lock is needed.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = -math.inf

    def played(self) -> None:
        """Audible audio was just handed to the device (output callback thread)."""
        self._until = self._clock() + PLAYBACK_HANGOVER_S

    def saw_output(self, pcm: bytes | memoryview) -> None:
        """The output callback handed ``pcm`` to the device: mark it unless it is silence
        (the jitter buffer pads with zeros). Output callback thread; allocates one copy."""
        data = bytes(pcm)
        if data.count(0) != len(data):
            self.played()

    def playing(self) -> bool:
        """True while audible audio was handed over in the last :data:`PLAYBACK_HANGOVER_S`."""
        return self._clock() < self._until


class QuietBatcher:
    """Feed each microphone block; get back the bytes to hand on now, or None to hold them.

    ``block_ms`` is the length of one block; ``hold_ms`` the most audio held while quiet
    (0, or less than one block, hands on every block at once); ``quiet_after_ms`` how long
    after the last sound blocks keep going one by one. It starts as after a sound, so the
    first ``quiet_after_ms`` of a session go block by block too. ``playback``, when given,
    tells it when the speaker plays: then nothing is held.
    """

    def __init__(
        self,
        block_ms: int,
        hold_ms: int,
        quiet_after_ms: int,
        playback: PlaybackActivity | None = None,
    ) -> None:
        if block_ms <= 0 or hold_ms < 0 or quiet_after_ms < 0:
            raise ValueError("block_ms must be positive, hold_ms and quiet_after_ms not negative")
        self._max_blocks = max(1, hold_ms // block_ms)
        self._lively_blocks = -(-quiet_after_ms // block_ms)  # ceil
        self._playback = playback
        self._since_sound = 0
        """Quiet blocks since the last sound (or the start)."""
        # The floor (mean squares): the quietest of each finished part of the window, and of
        # the part being filled (its length in blocks, and how many it holds so far).
        self._part_minima: deque[float] = deque(maxlen=FLOOR_PARTS)
        self._part_min = math.inf
        self._part_blocks = max(1, round(FLOOR_WINDOW_S * 1000 / FLOOR_PARTS / block_ms))
        self._part_filled = 0
        self._held: list[bytes] = []
        self._epoch = 0  # written by the loop thread only: one more per drop_held()
        self.batch_epoch = 0
        """The epoch of the batch :meth:`feed` returned last (callback thread)."""

    @property
    def held_blocks(self) -> int:
        return len(self._held)

    def feed(self, block: bytes) -> bytes | None:
        """Take ``block``; return it (with any held before it, joined) to hand on now, or None.
        Callback thread."""
        if self._max_blocks == 1:
            return block
        epoch = self._epoch
        if epoch != self.batch_epoch:
            self._held = []  # recorded before a change: never handed on
            self.batch_epoch = epoch
        self._held.append(block)
        if not self._quiet(block):
            self._since_sound = 0
            return self.flush()
        self._since_sound += 1
        if self._since_sound <= self._lively_blocks or len(self._held) >= self._max_blocks:
            return self.flush()
        return None

    def _quiet(self, block: bytes) -> bool:
        """Certainly not speech (module docstring); tracks the room's floor."""
        playback = self._playback
        if (playback is not None and playback.playing()) or not is_quiet(block):
            return False
        level = float(audioop.rms(block, 2)) ** 2  # a mean square, as the floor keeps
        floor = min(self._part_min, *self._part_minima) if self._part_minima else self._part_min
        self._part_min = min(self._part_min, level)
        self._part_filled += 1
        if self._part_filled == self._part_blocks:
            self._part_minima.append(self._part_min)
            self._part_min, self._part_filled = math.inf, 0
        return level < _CEILING and level < max(floor, _FLOOR_MIN) * _RISE

    def drop_held(self) -> None:
        """Loop thread: what is held now, or on its way, was recorded before a change in what
        may be sent; the next :meth:`feed` drops it, and :meth:`current` refuses it."""
        self._epoch += 1

    def current(self, epoch: int) -> bool:
        """Loop thread: may a batch of ``epoch`` (its :attr:`batch_epoch`) be handed on?"""
        return epoch == self._epoch

    def flush(self) -> bytes | None:
        """Everything held, joined (None if nothing is), and hold nothing."""
        held = self._held
        if not held:
            return None
        self._held = []
        return held[0] if len(held) == 1 else b"".join(held)


_CEILING: Final = _mean_square(CEILING_DBFS)
_RISE: Final = 10 ** (RISE_DB / 10)
_FLOOR_MIN: Final = _mean_square(FLOOR_MIN_DBFS)
