"""The real audio ends for ``run_chat``: the chosen (or default) PortAudio devices."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from voicelive.audio.device_choice import list_devices, resolve_device
from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.microphone import Microphone
from voicelive.audio.quiet_batcher import PlaybackActivity
from voicelive.audio.speaker import Speaker
from voicelive.config.settings import AudioSettings
from voicelive.protocol.playback import PlaybackNotice

if TYPE_CHECKING:
    from voicelive.audio.echo_reference import EchoLink


class PortAudioIO:
    """The real audio ends for ``run_chat``: the chosen (or default) input and output devices.

    ``check()`` imports PortAudio and resolves the device choices, so a bad choice fails
    before any network traffic. Call everything from the event loop thread. ``echo`` (for
    ``--echo-reference``/``--record``) links the microphone to what the speaker played.
    ``quiet_after_ms`` > 0 lets the microphone batch quiet blocks (``quiet_hold_ms``) once
    no one has made a sound for that long; 0 hands on every block as it is read.
    """

    input_finished: asyncio.Event | None = None
    real_time_speaker = True

    def __init__(
        self, settings: AudioSettings, echo: EchoLink | None = None, quiet_after_ms: int = 0
    ) -> None:
        self._settings = settings
        self._echo = echo
        self._quiet_after_ms = quiet_after_ms
        # the speaker tells the microphone it plays; only the quiet batching needs to know
        batching = quiet_after_ms > 0 and settings.quiet_hold_ms > 0
        self._playback = PlaybackActivity() if batching else None
        self._input: int | None = None
        self._output: int | None = None

    def check(self) -> None:
        devices = list_devices()
        self._input = resolve_device(self._settings.input_device, "input", devices)
        self._output = resolve_device(self._settings.output_device, "output", devices)

    def microphone(self, sink: Callable[[bytes], None]) -> Microphone:
        s = self._settings
        return Microphone(
            self._input,
            s.chunk_ms,
            sink,
            s.device_rate,
            echo=self._echo,
            quiet_hold_ms=s.quiet_hold_ms if self._quiet_after_ms else 0,
            quiet_after_ms=self._quiet_after_ms,
            playback=self._playback,
        )

    def speaker(self, jitter: JitterBuffer, notify: Callable[[PlaybackNotice], None]) -> Speaker:
        s = self._settings
        return Speaker(
            self._output,
            jitter,
            notify,
            s.output_block_ms,
            s.device_rate,
            s.output_latency_ms,
            echo=self._echo,
            playback=self._playback,
        )
