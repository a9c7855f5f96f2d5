"""Holds back microphone blocks while the room is quiet, so the event loop wakes less often.

Every block handed to the event loop costs a loop wake-up and a WebSocket send; at 20 ms
blocks that is 50 a second, and it was most of voicelive's CPU while it only listened
(benchmarks/run.py). Near-silence needs no 20 ms delivery: the service's VAD cannot start a
turn on it. So while every sample of a block is near zero, and no one has made a sound for
``quiet_after_ms``, blocks are held and handed on together, up to ``hold_ms`` at a time.

What it never delays:
- **a sound**: the first block with a sample beyond the quiet band goes at once, with every
  block held before it, in order;
- **the end of a turn**: for ``quiet_after_ms`` after the last sound each block goes at once,
  so the service's silence timer (``silence_duration_ms``) runs on audio that arrives as it
  is recorded. Callers set ``quiet_after_ms`` above that timer.

Nothing is dropped or reordered; only the moment of hand-over changes.

Quiet means every PCM16 sample within -512..511 (a peak below about -36 dBFS): exactly the
samples whose high byte is 0x00, 0x01, 0xFE or 0xFF, which two C-speed bytes operations check
without numpy. Room noise on a laptop microphone (about -60 dBFS RMS in a quiet room, -50 with
a fan) peaks below that, and speech at a normal distance goes far above it within a block or
two of its start. Louder noise (a cafe) is not quiet: then every block goes at once, as
without the batcher.

A change in what may be sent (capture resumed after a reconnect, the microphone unmuted) must
not let audio recorded before it through: :meth:`QuietBatcher.drop_held` drops what is held,
and a batch already on its way to the loop is recognised as stale there
(:meth:`QuietBatcher.current`).

Threads: :meth:`~QuietBatcher.feed` and :attr:`~QuietBatcher.batch_epoch` belong to one
caller, the PortAudio input callback; :meth:`~QuietBatcher.drop_held` and
:meth:`~QuietBatcher.current` to the event loop thread. The only state they share is an int
that the loop thread alone writes. No locks, no blocking, no asyncio.
"""

from __future__ import annotations

from typing import Final

QUIET_HIGH_BYTES: Final = b"\x00\x01\xfe\xff"
"""High bytes of the PCM16 samples -512..511: the quiet band."""


def is_quiet(block: bytes) -> bool:
    """True when every little-endian PCM16 sample of ``block`` lies within -512..511."""
    return not block[1::2].translate(None, QUIET_HIGH_BYTES)


class QuietBatcher:
    """Feed each microphone block; get back the bytes to hand on now, or None to hold them.

    ``block_ms`` is the length of one block; ``hold_ms`` the most audio held while quiet
    (0, or less than one block, hands on every block at once); ``quiet_after_ms`` how long
    after the last sound blocks keep going one by one. It starts as after a sound, so the
    first ``quiet_after_ms`` of a session go block by block too.
    """

    def __init__(self, block_ms: int, hold_ms: int, quiet_after_ms: int) -> None:
        if block_ms <= 0 or hold_ms < 0 or quiet_after_ms < 0:
            raise ValueError("block_ms must be positive, hold_ms and quiet_after_ms not negative")
        self._max_blocks = max(1, hold_ms // block_ms)
        self._lively_blocks = -(-quiet_after_ms // block_ms)  # ceil
        self._since_sound = 0
        """Quiet blocks since the last sound (or the start)."""
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
        if not is_quiet(block):
            self._since_sound = 0
            return self.flush()
        self._since_sound += 1
        if self._since_sound <= self._lively_blocks or len(self._held) >= self._max_blocks:
            return self.flush()
        return None

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
