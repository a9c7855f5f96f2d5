"""The speaker: a PortAudio output stream that pulls from the jitter buffer.

Threads: the callback runs on PortAudio's thread; it pulls exactly the bytes it needs from the
:class:`~voicelive.audio.jitter.JitterBuffer` (which has its own lock) and reports what it
started and drained with ``call_soon_threadsafe``. It never blocks, raises or touches asyncio
objects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from voicelive.audio.jitter import JitterBuffer, JitterStats
from voicelive.audio.portaudio import Kind, Stream, choose_rate
from voicelive.audio.quiet_batcher import PlaybackActivity
from voicelive.protocol.pcm import SAMPLE_RATE, ms_of
from voicelive.protocol.playback import PlaybackEvent, PlaybackNotice

if TYPE_CHECKING:
    from voicelive.audio.echo_reference import EchoLink

log = logging.getLogger(__name__)


IDLE_STOP_S: Final = 0.3
"""The speaker stream stops after 0.3-0.6 s with nothing queued, played or pending."""


class Speaker(Stream):
    """Plays from ``jitter`` through a low-latency output stream (PortAudio's thread pulls).

    ``notify`` is called on the event loop thread with each :class:`PlaybackNotice`.
    ``block_ms`` 0 lets PortAudio choose the (smallest, variable) block size; ``latency_ms``
    None means PortAudio's "low" setting.

    The stream runs only while there is something to play (``idle_stop_s`` None: always).
    Rendering silence costs a PortAudio thread waking every few milliseconds, about 4 % of a
    core here, the largest part of the client's idle cost. So the stream is opened (and its
    errors reported) on ``__enter__`` and stopped at once, then started by :meth:`wake`
    (the pipeline calls it when it queues audio) on the first delta of a reply (measured:
    opening and starting ~5 ms, an open one ~1 ms, and its first sound comes *sooner* than
    through a running stream, whose buffer is full of silence); :meth:`_check_idle` stops it
    once nothing was queued, played or pending for ``idle_stop_s`` (by then the device has
    played the tail; PortAudio drops what is still buffered on a stop).
    """

    kind: Kind = "output"

    def __init__(
        self,
        device: int | None,
        jitter: JitterBuffer,
        notify: Callable[[PlaybackNotice], None],
        block_ms: int = 0,
        device_rate: int | None = None,
        latency_ms: int | None = None,
        idle_stop_s: float | None = IDLE_STOP_S,
        echo: EchoLink | None = None,
        playback: PlaybackActivity | None = None,
    ) -> None:
        super().__init__(device, device_rate)
        self._echo = echo
        self._playback = playback
        self._jitter = jitter
        self._notify = notify
        self._block_ms = block_ms
        self._latency: float | str = "low" if latency_ms is None else latency_ms / 1000
        self._idle_stop_s = idle_stop_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._seen = (-1, -1)  # (pushed, played) bytes at the last idle check
        self._reported = (0, 0, 0, 0)  # _counts() at the current reply's start
        self.underflows = 0
        self.starts = 0
        """How many times the stream was started (once per reply, roughly)."""

    def __enter__(self) -> Speaker:
        loop = self._loop = asyncio.get_running_loop()
        notify = self._on_notice
        self.rate = choose_rate(self._device, "output", self._device_rate)
        fill = self._jitter.pull_into
        tap = None
        if self._echo is not None:  # the echo reference: what is pulled, and when it plays
            from voicelive.audio.echo_reference import monotonic_time

            tap, stamp = self._echo.played_tap(fill, self.rate), monotonic_time
            fill = tap.pull_into
        if self.rate != SAMPLE_RATE:
            from voicelive.audio.resample import PullResampler  # numpy + soxr: only when needed

            fill = PullResampler(SAMPLE_RATE, self.rate, fill).fill
        playback = self._playback

        def callback(outdata: Any, frames: int, time: Any, status: Any) -> None:
            if status.output_underflow:
                self.underflows += 1
            if tap is not None:  # before the pull: it places the pulled audio in time
                tap.block(stamp(time.outputBufferDacTime, time.currentTime), frames)
            notice = fill(out := memoryview(outdata))
            if playback is not None:  # the microphone batches nothing while this is heard
                playback.saw_output(out)
            if notice is not None:
                loop.call_soon_threadsafe(notify, notice)

        self._open("RawOutputStream", callback, self._block_ms, self._latency)
        if self._idle_stop_s is not None:
            # Started and stopped at once: PulseAudio then holds the stream corked, while one
            # opened but never started is an uncorked, starving stream (+0.8 % of its core).
            self._stop_stream()
            self.wake()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().__exit__(*exc_info)

    # ------------------------------------------------------------------ loop thread

    def wake(self) -> None:
        """Audio was queued: start the stream if it is stopped.

        Never raises (it runs inside the dispatcher's push): a stream that will not start
        sets :attr:`failed`, which the pipeline reports as a speaker that stopped working.
        """
        stream = self._stream
        if not self._stopped or stream is None or self._closing or not self._jitter.busy:
            return
        self._stopped = False
        try:
            stream.start()
        except Exception as exc:  # PortAudioError (the device or sound server is gone)
            self._stopped = True
            log.warning("the speaker stream did not start: %s", exc)
            self.failed.set()
            return
        self.starts += 1
        self._seen = (-1, -1)
        self._arm_idle_check()

    def _arm_idle_check(self) -> None:
        assert self._loop is not None and self._idle_stop_s is not None
        self._idle_timer = self._loop.call_later(self._idle_stop_s, self._check_idle)

    def _check_idle(self) -> None:
        """Stop the stream when nothing was queued or played since the last check and
        nothing is pending; otherwise look again in ``idle_stop_s``."""
        self._idle_timer = None
        stream = self._stream
        if self._stopped or stream is None or self._closing:
            return
        stats = self._jitter.stats()
        seen = (stats.pushed_bytes, stats.played_bytes)
        if seen != self._seen or self._jitter.busy:
            self._seen = seen
            self._arm_idle_check()
            return
        self._stop_stream()

    def _stop_stream(self) -> None:
        self._stopped = True  # before abort: its finished callback is not a failure
        try:
            self._stream.abort()
        except Exception:
            log.debug("error stopping the speaker stream", exc_info=True)

    def _on_notice(self, notice: PlaybackNotice) -> None:
        """The callback's notice, on the loop thread: log a finished reply, pass it on. Its
        counts are from its start (a reply cut by a barge-in has no end to log)."""
        if notice.event is PlaybackEvent.STARTED:
            self._reported = _counts(self._jitter.stats())
        elif notice.event is PlaybackEvent.DRAINED:
            stats = self._jitter.stats()
            counts = _counts(stats)
            underruns, concealed, tail, trimmed = (
                n - r for n, r in zip(counts, self._reported, strict=True)
            )
            log.info(
                "reply %s played out: %d underrun(s), %d ms concealed (and %d ms after its "
                "last audio), %d ms of pauses trimmed, prefill hold %.0f ms, stream starts %d",
                notice.item_id,
                underruns,
                ms_of(concealed),
                ms_of(tail),
                ms_of(trimmed),
                stats.hold_ms,
                self.starts,
            )
            self._reported = counts
        self._notify(notice)


def _counts(stats: JitterStats) -> tuple[int, int, int, int]:
    """What a reply's log line counts: underruns, bytes concealed mid-reply and after its last
    audio, bytes of pauses trimmed (totals; a reply's are the change over it)."""
    return (
        stats.underruns,
        stats.concealed_bytes,
        stats.concealed_tail_bytes,
        stats.trimmed_bytes,
    )
