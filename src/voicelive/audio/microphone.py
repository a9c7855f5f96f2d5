"""The microphone: a PortAudio input stream whose blocks go to the event loop.

Threads: the callback runs on PortAudio's thread; it copies each block (batching quiet ones,
:mod:`voicelive.audio.quiet_batcher`) and hands it over with ``call_soon_threadsafe``. It
never blocks, raises or touches asyncio objects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from voicelive.audio.portaudio import Kind, Stream, choose_rate
from voicelive.audio.quiet_batcher import PlaybackActivity, QuietBatcher
from voicelive.protocol.pcm import SAMPLE_RATE

if TYPE_CHECKING:
    from voicelive.audio.echo_reference import EchoLink

log = logging.getLogger(__name__)


class Microphone(Stream):
    """Captures PCM16 mono 24 kHz blocks of ``chunk_ms`` into ``sink`` on the event loop.

    If the device refuses 24 kHz it is opened at its own rate and the blocks are resampled on
    the loop thread (never in the callback).

    ``sink`` is called on the loop thread with each block's bytes (the orchestrator puts it in
    a bounded queue). Use as a context manager from the event loop thread.

    With ``quiet_hold_ms`` of two blocks or more, quiet blocks wait in the callback thread and
    reach ``sink`` joined, once no one has made a sound for ``quiet_after_ms``
    (:class:`~voicelive.audio.quiet_batcher.QuietBatcher`); a sound reaches it at once, and
    so does everything while ``playback`` (the speaker's) says the assistant is heard.

    With ``echo`` each block goes through its capture tap, stamped with its ADC time: paired
    with what the speaker played at that instant (stereo when the session takes the echo
    reference), recorded for ``--record``.
    """

    kind: Kind = "input"

    def __init__(
        self,
        device: int | None,
        chunk_ms: int,
        sink: Callable[[bytes], None],
        device_rate: int | None = None,
        echo: EchoLink | None = None,
        quiet_hold_ms: int = 0,
        quiet_after_ms: int = 0,
        playback: PlaybackActivity | None = None,
    ) -> None:
        super().__init__(device, device_rate)
        self._playback = playback
        self._chunk_ms = chunk_ms
        self._sink = sink
        self._echo = echo
        self._quiet = (quiet_hold_ms, quiet_after_ms)
        self._batcher: QuietBatcher | None = None
        self.overflows = 0

    def drop_held(self) -> None:
        """Quiet audio held back was recorded before a change in what may be sent: drop it.
        Loop thread."""
        if self._batcher is not None:
            self._batcher.drop_held()

    def __enter__(self) -> Microphone:
        loop = asyncio.get_running_loop()
        self.rate = choose_rate(self._device, "input", self._device_rate)
        sink = self._sink
        if self.rate != SAMPLE_RATE:
            from voicelive.audio.resample import Resampler  # numpy + soxr: only when needed

            resampler = Resampler(self.rate, SAMPLE_RATE)
            session_sink = self._sink

            def sink(block: bytes) -> None:  # runs on the loop thread, not in the callback
                session_sink(resampler.process(block))

        capture = None
        if self._echo is not None:  # the tap resamples (on the loop) and pairs each block
            from voicelive.audio.echo_reference import monotonic_time

            capture, stamp = self._echo.capture_tap(self._sink, self.rate), monotonic_time

        # Quiet blocks wait in the callback thread: a block held there costs no loop wake-up
        # and no send. Not with the echo tap, which pairs each block by its own ADC time.
        batcher = None
        if capture is None and self._quiet[0] >= 2 * self._chunk_ms:
            batcher = QuietBatcher(self._chunk_ms, *self._quiet, playback=self._playback)
            self._batcher = batcher
            batch_sink = sink

            def deliver(batch: bytes, epoch: int) -> None:  # loop thread
                if batcher.current(epoch):  # else recorded before a change: never sent
                    batch_sink(batch)

        def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
            if status.input_overflow:
                self.overflows += 1
            if capture is not None:
                adc = stamp(time.inputBufferAdcTime, time.currentTime)
                loop.call_soon_threadsafe(capture, bytes(indata), adc)
                return
            block = bytes(indata)  # copy: PortAudio reuses indata
            if batcher is not None:
                batch = batcher.feed(block)
                if batch is not None:  # else held: quiet, and no sound for a while
                    loop.call_soon_threadsafe(deliver, batch, batcher.batch_epoch)
                return
            loop.call_soon_threadsafe(sink, block)

        self._open("RawInputStream", callback, self._chunk_ms, "low")
        return self
