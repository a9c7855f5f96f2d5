"""The pipeline starts a stopped speaker when the reply's prefill hold ends, not during it: a
stream started at once would render the hold as silence, and the reply's first sound would
come a device buffer after it. Fake devices; the hold is wall time (the loop's clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.fakes import FakeAudio, FakeSpeaker
from voicelive.audio.interfaces import SpeakerStream
from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.pipeline import AudioPipeline
from voicelive.audio.prefill import FIRST_HOLD_MS
from voicelive.config.settings import AudioSettings
from voicelive.connection.outbound import Outbound
from voicelive.protocol.playback import PlaybackNotice

DELTA = bytes(4800)  # 100 ms


class WakingSpeaker(FakeSpeaker):
    def __init__(self, jitter: JitterBuffer, notify: Callable[[PlaybackNotice], None]) -> None:
        super().__init__(jitter, notify)
        self.woken = asyncio.Event()

    def wake(self) -> None:
        super().wake()
        self.woken.set()

    def __enter__(self) -> WakingSpeaker:
        return self


class RealTimeAudio(FakeAudio):
    """A speaker that pulls in real time, as a device does: the adaptive prefill applies."""

    real_time_speaker = True

    def speaker(
        self, jitter: JitterBuffer, notify: Callable[[PlaybackNotice], None]
    ) -> SpeakerStream:
        self.speaker_ = speaker = WakingSpeaker(jitter, notify)
        return speaker


async def test_a_held_first_reply_wakes_the_speaker_when_its_hold_ends() -> None:
    audio = RealTimeAudio()
    pipeline = AudioPipeline(audio, AudioSettings(), Outbound())
    loop = asyncio.get_running_loop()
    with pipeline.running(lambda notice: None):
        speaker = audio.speaker_
        assert isinstance(speaker, WakingSpeaker)
        speaker.woken.clear()  # running() wakes it once, with nothing queued
        pipeline.play("a", DELTA)  # the first delta of the session's first reply
        sent = loop.time()
        hold = pipeline.jitter.hold_left()
        assert 0 < hold <= FIRST_HOLD_MS / 1000
        assert not speaker.woken.is_set()
        await asyncio.wait_for(speaker.woken.wait(), 5)
        assert loop.time() - sent >= hold - 0.002
        assert pipeline.jitter.hold_left() == 0
        speaker.play_ms(10)
        assert speaker.played == bytes(480)  # DELTA is silence too: count what was played
        assert pipeline.jitter.stats().played_bytes == 480


async def test_a_burst_wakes_the_speaker_on_its_second_delta() -> None:
    audio = RealTimeAudio()
    pipeline = AudioPipeline(audio, AudioSettings(), Outbound())
    with pipeline.running(lambda notice: None):
        speaker = audio.speaker_
        assert isinstance(speaker, WakingSpeaker)
        wakes = speaker.wakes
        pipeline.play("a", DELTA)
        assert speaker.wakes == wakes  # held
        pipeline.play("a", DELTA)  # 200 ms within a moment: ahead of real time
        assert speaker.wakes == wakes + 1
        assert pipeline.jitter.hold_left() == 0


async def test_a_short_reply_that_is_complete_wakes_the_speaker_at_once() -> None:
    audio = RealTimeAudio()
    pipeline = AudioPipeline(audio, AudioSettings(), Outbound())
    with pipeline.running(lambda notice: None):
        speaker = audio.speaker_
        assert isinstance(speaker, WakingSpeaker)
        wakes = speaker.wakes
        pipeline.play("a", DELTA)
        assert speaker.wakes == wakes and pipeline.jitter.hold_left() > 0
        pipeline.end_audio("a")  # all of it is here: nothing to wait for
        assert speaker.wakes == wakes + 1
        assert pipeline.jitter.hold_left() == 0


def voiced_delta() -> bytes:
    """100 ms of a loud 200 Hz tone: speech, as far as concealment is concerned."""
    import numpy as np

    t = np.arange(2400) / 24_000
    return (8000 * np.sin(2 * np.pi * 200 * t)).astype("<i2").tobytes()


def hole_after_one_delta(jitter: JitterBuffer) -> bytes:
    """Pulls the delta and 20 ms more (the reply still open): what filled those 20 ms."""
    out = memoryview(bytearray(4800 + 960))
    jitter.pull_into(out)
    assert jitter.stats().played_bytes == 4800  # the hole is not the reply's audio
    return bytes(out[4800:])


async def test_a_device_speaker_conceals_a_hole_inside_a_word() -> None:
    audio = RealTimeAudio()
    pipeline = AudioPipeline(audio, AudioSettings(), Outbound())
    with pipeline.running(lambda notice: None):
        speaker = audio.speaker_
        assert isinstance(speaker, WakingSpeaker)
        speaker.woken.clear()
        pipeline.play("a", voiced_delta())
        await asyncio.wait_for(speaker.woken.wait(), 5)  # its first-reply hold is over
        assert hole_after_one_delta(pipeline.jitter) != bytes(960)
        assert pipeline.jitter.stats().concealed_bytes == 0  # still concealing: not yet counted


async def test_a_wav_files_speaker_gets_silence_in_a_hole() -> None:
    audio = FakeAudio()  # pulls when told, as a WAV file's speaker: its timeline is the reply's
    pipeline = AudioPipeline(audio, AudioSettings(), Outbound())
    with pipeline.running(lambda notice: None):
        pipeline.play("a", voiced_delta())
        assert hole_after_one_delta(pipeline.jitter) == bytes(960)
