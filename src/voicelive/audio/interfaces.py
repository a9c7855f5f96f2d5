"""The seams between the audio pipeline and the things that make or take sound.

Real: PortAudio devices (:mod:`voicelive.audio.devices` and the modules it joins); headless:
WAV files (:mod:`voicelive.audio.wavio`); tests: ``tests/fakes.py``. mypy checks each against
these.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, Self

from voicelive.audio.jitter import JitterBuffer
from voicelive.protocol.playback import PlaybackNotice

MicSink = Callable[[bytes], None]
"""Receives one PCM16 mono 24 kHz block, on the event loop thread."""

PlaybackSink = Callable[[PlaybackNotice], None]
"""Receives a playback notice, on the event loop thread."""


class AudioStream(Protocol):
    """An audio end, open between ``__enter__`` and ``__exit__``.

    ``failed`` is set (on the loop thread) when the stream stops by itself: the device went
    away or the sound server died.
    """

    failed: asyncio.Event

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc_info: object) -> None: ...


class MicStream(AudioStream, Protocol):
    """The microphone end. ``drop_held()`` (loop thread): audio it holds back and has not
    delivered yet was recorded before a change in what may be sent (capture resumed, the
    microphone unmuted), and must never reach the sink."""

    def drop_held(self) -> None: ...


class SpeakerStream(AudioStream, Protocol):
    """The speaker end. ``wake()`` (loop thread): audio was queued; a speaker that stops its
    stream while idle starts it again. Never raises: a stream that will not start sets
    ``failed``."""

    def wake(self) -> None: ...


class AudioIO(Protocol):
    """Opens the two audio ends.

    ``microphone(sink)`` delivers blocks to ``sink``; ``speaker(jitter, notify)`` plays from
    ``jitter`` and reports what it started and drained to ``notify``. ``input_finished`` (None
    for a live microphone) is set when a finite input has been delivered completely.
    ``check`` raises :class:`~voicelive.errors.AudioDeviceError` before any network traffic
    when a device choice cannot work. ``real_time_speaker``: the speaker pulls on the wall
    clock (a device), so a reply's prefill may wait in wall time; False for a WAV file's
    speaker and a test's, which pull only when told.
    """

    input_finished: asyncio.Event | None
    real_time_speaker: bool

    def check(self) -> None: ...
    def microphone(self, sink: MicSink) -> MicStream: ...
    def speaker(self, jitter: JitterBuffer, notify: PlaybackSink) -> SpeakerStream: ...
