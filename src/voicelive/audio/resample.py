"""Rate conversion between the session rate (24 kHz) and a device that will not open at it.

Many devices (WASAPI shared mode, ALSA ``hw:``) only run at their native rate, often 44.1 or
48 kHz. The streams are then opened at the device rate and converted here with soxr (a
well-kept, band-limited resampler; plain linear interpolation aliases audibly). soxr's stream
API keeps its filter state across blocks, so block edges cause no clicks.

Both classes are used from one thread at a time: :class:`Resampler` on the event loop
(microphone path), :class:`PullResampler` inside the PortAudio output callback.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import soxr

from voicelive.protocol.playback import PlaybackNotice


class Resampler:
    """PCM16 mono bytes at ``src_rate`` in, PCM16 mono bytes at ``dst_rate`` out (streaming)."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self._stream = soxr.ResampleStream(src_rate, dst_rate, 1, dtype="int16", quality="HQ")

    def process(self, pcm16: bytes, last: bool = False) -> bytes:
        samples = np.frombuffer(pcm16, dtype="<i2")
        out: np.ndarray = self._stream.resample_chunk(samples, last=last)
        return out.astype("<i2", copy=False).tobytes()


class PullResampler:
    """Fills device-rate blocks by pulling session-rate audio through ``pull``.

    ``pull(view)`` fills a writable 24 kHz byte buffer (the jitter buffer's ``pull_into``)
    and returns its notice; the notices are passed through. A small FIFO absorbs the
    difference between what soxr returns and what the device asks for (under one source block).
    """

    def __init__(
        self,
        src_rate: int,
        dst_rate: int,
        pull: Callable[[memoryview], PlaybackNotice | None],
        src_block_frames: int = 240,
    ) -> None:
        self._resampler = Resampler(src_rate, dst_rate)
        self._pull = pull
        self._src = bytearray(src_block_frames * 2)
        self._src_view = memoryview(self._src)
        self._fifo = bytearray()

    def fill(self, out: memoryview) -> PlaybackNotice | None:
        """Write exactly ``len(out)`` bytes of device-rate audio into ``out``."""
        notice: PlaybackNotice | None = None
        while len(self._fifo) < len(out):
            got = self._pull(self._src_view)
            notice = got or notice
            self._fifo += self._resampler.process(bytes(self._src))
        out[:] = self._fifo[: len(out)]
        del self._fifo[: len(out)]
        return notice
