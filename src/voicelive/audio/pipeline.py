"""The audio pipeline: microphone → the outbound queue, jitter buffer → speaker. Lives for the chat.

It knows no connection: microphone blocks go into the one ordered
:class:`~voicelive.connection.outbound.Outbound` queue, which the current connection
empties, and the dispatcher hands assistant audio to :meth:`~AudioPipeline.play`. Between
connections the capture is *paused*: blocks recorded while there is no session are dropped,
not sent late; so are blocks recorded while muted. Each change of either tells the
microphone to drop the quiet audio it holds back (:mod:`voicelive.audio.quiet_batcher`),
which was recorded before the change.

Threads: the PortAudio callbacks reach the pipeline only through ``call_soon_threadsafe`` (see
:mod:`voicelive.audio.microphone`, :mod:`voicelive.audio.speaker`); everything here runs on the
event loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from voicelive.audio.concealment import Concealer
from voicelive.audio.interfaces import AudioIO, AudioStream, MicStream, PlaybackSink, SpeakerStream
from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.prefill import AdaptivePrefill
from voicelive.audio.silent_input import SilentInputDetector
from voicelive.config.settings import AudioSettings
from voicelive.connection.outbound import Outbound
from voicelive.errors import AudioDeviceError
from voicelive.protocol.pcm import bytes_of, ms_of
from voicelive.protocol.playback import ItemPlayback

log = logging.getLogger(__name__)


@dataclass
class CaptureStats:
    dropped_paused_ms: int = 0
    """Audio not sent on purpose: no session to take it (between connections), or muted."""


class AudioPipeline:
    """See the module docstring. Open with :meth:`running`; capture starts paused.

    ``on_warning`` (loop thread) gets one line when a live microphone delivers only exact
    zeros at first (muted, or no permission: macOS gives silence, not an error).
    ``stereo_input``: blocks are microphone + echo reference, interleaved (the check looks
    at the microphone only).
    """

    def __init__(
        self,
        audio: AudioIO,
        settings: AudioSettings,
        outbound: Outbound,
        on_warning: Callable[[str], None] | None = None,
        stereo_input: bool = False,
    ) -> None:
        self.audio = audio
        self._mic_only: Callable[[bytes], bytes] | None = None
        if stereo_input:  # imported only then: it brings numpy and soxr
            from voicelive.audio.echo_reference import microphone_channel

            self._mic_only = microphone_channel
        live_mic = audio.input_finished is None and on_warning is not None
        self._silence = SilentInputDetector() if live_mic else None
        self._on_warning = on_warning
        # The adaptive hold (wall time) and concealment are for a device's speaker; headless
        # WAV output keeps the fixed prefill and silence, so its file's timeline stays exact
        # to the byte.
        real_time = audio.real_time_speaker
        self.jitter = JitterBuffer(
            prefill_bytes=bytes_of(settings.prebuffer_ms),
            max_bytes=bytes_of(settings.max_buffer_ms),
            adaptive=AdaptivePrefill() if real_time else None,
            concealer=Concealer() if real_time else None,
        )
        self.input_channels = 2 if stereo_input else 1
        """Channels of the blocks the microphone side delivers (2 with an echo reference)."""
        self._outbound = outbound
        self.stats = CaptureStats()
        self._paused = True
        self._muted = False
        self._mic: MicStream | None = None
        self._speaker: SpeakerStream | None = None
        self.block_tap: Callable[[bytes], None] | None = None
        """Sees every microphone block as it arrives, muted or not (the status line's meter)."""
        self._wake_timer: asyncio.TimerHandle | None = None

    # -------------------------------------------------------------- playback (loop thread)

    def play(self, item_id: str, pcm: bytes) -> bool:
        """Queue assistant audio and wake the speaker. False: refused (the memory bound)."""
        if not self.jitter.push(item_id, pcm):
            return False
        self._wake_speaker()
        return True

    def _wake_speaker(self) -> None:
        """Start the speaker now, or when the reply's prefill hold ends: a stream started
        during the hold would render silence meanwhile, and the reply's first sound would
        come a device buffer (~20 ms) after that silence instead of at once."""
        if self._wake_timer is not None:
            self._wake_timer.cancel()
            self._wake_timer = None
        if self._speaker is None:
            return
        wait = self.jitter.hold_left()
        if wait > 0:
            self._wake_timer = asyncio.get_running_loop().call_later(wait, self._wake_speaker)
        else:
            self._speaker.wake()

    def end_audio(self, item_id: str) -> None:
        """No more audio will come for ``item_id``: a held reply may play now."""
        self.jitter.end_item(item_id)
        if self._wake_timer is not None:
            self._wake_speaker()

    def flush(self) -> list[ItemPlayback]:
        """Drop all queued playback now (barge-in); what each cut item had played."""
        return self.jitter.flush()

    # -------------------------------------------------------------- capture (loop thread)

    def on_mic_block(self, block: bytes) -> None:
        if self.block_tap is not None:
            self.block_tap(block)
        if self._silence is not None:
            mic = self._mic_only(block) if self._mic_only is not None else block
            warning = self._silence.feed(mic)
            if self._silence.settled:
                self._silence = None  # one look at the start is all it takes
            if warning is not None and self._on_warning is not None:
                log.warning("%s", warning)
                self._on_warning(warning)
        if self._paused or self.muted:
            self.stats.dropped_paused_ms += self._ms(block)
            return
        self._outbound.audio(block)

    def _ms(self, block: bytes) -> int:
        return ms_of(len(block) // self.input_channels)

    def pause_capture(self) -> None:
        """Stop queueing microphone audio and drop what is queued (no session to take it)."""
        self._paused = True
        self._capture_changed()
        self.stats.dropped_paused_ms += self._outbound.drop_audio()

    def resume_capture(self) -> None:
        """Queue microphone audio again. Capturing already (a rollover) changes nothing:
        what the microphone holds is still the current session's to send."""
        if not self._paused:
            return
        self._paused = False
        self._capture_changed()

    @property
    def muted(self) -> bool:
        """While True no microphone audio reaches the service (``/mute``)."""
        return self._muted

    @muted.setter
    def muted(self, on: bool) -> None:
        if on != self._muted:
            self._muted = on
            self._capture_changed()

    def _capture_changed(self) -> None:
        if self._mic is not None:
            self._mic.drop_held()

    @property
    def capturing(self) -> bool:
        return not self._paused

    # -------------------------------------------------------------- lifetime

    @contextlib.contextmanager
    def running(self, on_playback: PlaybackSink) -> Iterator[AudioPipeline]:
        """Open the speaker, then the microphone; close both on exit (any exit)."""
        with (
            self.audio.speaker(self.jitter, on_playback) as speaker,
            self.audio.microphone(self.on_mic_block) as mic,
        ):
            self._speaker, self._mic = speaker, mic
            speaker.wake()  # audio may be queued already
            try:
                yield self
            finally:
                if self._wake_timer is not None:
                    self._wake_timer.cancel()
                    self._wake_timer = None
                self._speaker = self._mic = None
                self._log_stats(mic, speaker)

    async def watch(self) -> None:
        """Return never; raise AudioDeviceError when a device stops by itself."""
        assert self._mic is not None and self._speaker is not None, "use inside running()"
        mic, speaker = self._mic, self._speaker
        waiters = [asyncio.ensure_future(s.failed.wait()) for s in (mic, speaker)]
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        which = "microphone" if waiters[0] in done else "speaker"
        raise AudioDeviceError(
            f"The {which} stopped working (device removed or sound server gone); "
            "check it and start voicelive again."
        )

    def _log_stats(self, mic: AudioStream, speaker: AudioStream) -> None:
        stats = self.jitter.stats()
        log.info(
            "playback: pushed=%d played=%d dropped=%d underruns=%d concealed=%d flushes=%d "
            "max_queued=%d; "
            "device underflows=%s overflows=%s; microphone audio dropped late=%d ms, "
            "unsent on purpose (between sessions, muted)=%d ms",
            stats.pushed_bytes,
            stats.played_bytes,
            stats.dropped_bytes,
            stats.underruns,
            stats.concealed_bytes,
            stats.flushes,
            stats.max_queued_bytes,
            getattr(speaker, "underflows", "n/a"),
            getattr(mic, "overflows", "n/a"),
            self._outbound.dropped_late_ms,
            self.stats.dropped_paused_ms,
        )
