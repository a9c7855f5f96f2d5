"""Pause trimming: a reply that waited longer than it needed catches up in its pauses. Pure.

A reply through a jittery link waits (its prefill hold) for as late as its deltas might come.
When the deltas that follow show that it waited longer than the link needed (its first delta
was itself late), the jitter buffer takes the extra wait back out of the reply's quiet
stretches: the pauses between words and phrases, never the speech. This is WebRTC's NetEQ
*accelerate*, done where it cannot be heard.

:func:`trim_pause` cuts up to ``want`` bytes from the longest quiet run of one delta (2.5 ms
pieces below ``QUIET_RMS``), keeping ``KEEP_MS`` of the run on each side and crossfading over
``CROSSFADE_MS`` across the cut. ``audioop`` (C) on one delta: a fraction of a millisecond on
the event loop. Samples are PCM16 mono at the session rate; offsets are bytes.
"""

from __future__ import annotations

from typing import NamedTuple

from voicelive.audio.pcm_ops import audioop
from voicelive.protocol.pcm import BYTES_PER_MS, BYTES_PER_SAMPLE

WIDTH = BYTES_PER_SAMPLE
PIECE = int(2.5 * BYTES_PER_MS)
"""Quietness is judged 2.5 ms at a time."""
QUIET_RMS = 260
"""A piece below this (-42 dBFS) is a pause (the same line as concealment's)."""
KEEP_MS = 10
"""A pause keeps this much at each end: the speech around it is untouched."""
CROSSFADE_MS = 2.5
_STEPS = 6


class Trim(NamedTuple):
    pcm: bytes
    removed: int
    """Bytes cut (0: no pause long enough)."""
    at: int
    """Where, in the trimmed ``pcm``: the reply's audio before it is unchanged."""


def _longest_quiet_run(pcm: bytes) -> tuple[int, int]:
    """(start, end) bytes of the longest run of quiet pieces; (0, 0) if none."""
    best = (0, 0)
    start = -1
    for pos in range(0, len(pcm) - PIECE + 1, PIECE):
        if audioop.rms(pcm[pos : pos + PIECE], WIDTH) < QUIET_RMS:
            if start < 0:
                start = pos
            if pos + PIECE - start > best[1] - best[0]:
                best = (start, pos + PIECE)
        else:
            start = -1
    return best


def trim_pause(pcm: bytes, want: int) -> Trim:
    """``pcm`` with up to ``want`` bytes cut from its longest pause (see the module)."""
    want -= want % WIDTH
    start, end = _longest_quiet_run(pcm)
    keep, fade = int(KEEP_MS * BYTES_PER_MS), int(CROSSFADE_MS * BYTES_PER_MS)
    room = (end - start) - 2 * keep - fade
    cut = min(want, room)
    cut -= cut % WIDTH
    if cut <= 0:
        return Trim(pcm, 0, 0)
    c0 = start + keep + fade  # cut [c0, c0 + cut); the fade before it blends into the far side
    c1 = c0 + cut
    outgoing, incoming = pcm[c0 - fade : c0], pcm[c1 - fade : c1]
    step = max(WIDTH, fade // _STEPS // WIDTH * WIDTH)
    mixed = []
    for pos in range(0, fade, step):
        weight = (pos + step / 2) / fade
        a = audioop.mul(outgoing[pos : pos + step], WIDTH, 1.0 - weight)
        b = audioop.mul(incoming[pos : pos + step], WIDTH, weight)
        mixed.append(audioop.add(a, b, WIDTH))
    return Trim(pcm[: c0 - fade] + b"".join(mixed) + pcm[c1:], cut, c0 - fade)
