"""The speaker's stream runs only while there is something to play.

A fake ``sounddevice`` stands in for PortAudio: its output stream records start/abort/close,
calls the finished callback on abort as PortAudio does, and lets the test play the part of
PortAudio's thread by calling the stream callback.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from voicelive.audio import portaudio
from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.speaker import Speaker
from voicelive.protocol.playback import PlaybackEvent, PlaybackNotice

MS = 48


class PortAudioError(Exception):
    pass


class FakeStream:
    instances: ClassVar[list[FakeStream]] = []
    fail_start = False

    def __init__(self, *, callback: Any, finished_callback: Any, **kwargs: Any) -> None:
        self.callback = callback
        self.finished_callback = finished_callback
        self.kwargs = kwargs
        self.latency = 0.02
        self.active = False
        self.closed = False
        self.calls: list[str] = []
        self.stopped = asyncio.Event()
        FakeStream.instances.append(self)

    def start(self) -> None:
        self.calls.append("start")
        if FakeStream.fail_start:
            raise PortAudioError("Unanticipated host error")
        self.active = True

    def abort(self, ignore_errors: bool = False) -> None:
        self.calls.append("abort")
        if self.active:
            self.active = False
            self.finished_callback()  # PortAudio reports every end of a stream
            self.stopped.set()  # the speaker stops its stream from the loop thread

    def close(self, ignore_errors: bool = False) -> None:
        self.calls.append("close")
        self.closed = True

    def pull(self, ms: int) -> bytes:
        """Be PortAudio's thread for one callback of ``ms`` milliseconds."""
        assert self.active, "PortAudio calls back only while the stream runs"
        out = bytearray(ms * MS)
        status = types.SimpleNamespace(output_underflow=False)
        self.callback(memoryview(out), ms * 24, None, status)
        return bytes(out)

    def die(self) -> None:
        """The sound server went away: PortAudio ends the stream by itself."""
        self.active = False
        self.finished_callback()


@pytest.fixture
def fake_sd(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.SimpleNamespace]:
    module = types.SimpleNamespace(
        RawOutputStream=FakeStream,
        PortAudioError=PortAudioError,
        check_output_settings=lambda **kwargs: None,
    )
    monkeypatch.setattr(portaudio, "sounddevice", lambda: module)
    FakeStream.instances.clear()
    FakeStream.fail_start = False
    yield module


async def settle() -> None:
    """Let callbacks queued with call_soon_threadsafe run."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_stream_starts_on_the_first_delta_and_stops_when_idle(
    fake_sd: types.SimpleNamespace,
) -> None:
    jitter = JitterBuffer(prefill_bytes=0, max_bytes=100_000)
    notices: list[PlaybackNotice] = []
    with Speaker(None, jitter, notices.append, idle_stop_s=0.01) as speaker:
        [stream] = FakeStream.instances
        # opened, started and stopped at once (PulseAudio then holds it corked): nothing to play
        assert stream.calls == ["start", "abort"] and not stream.active
        stream.calls.clear()
        stream.stopped.clear()
        jitter.push("a", b"\x01" * 20 * MS)
        speaker.wake()  # the pipeline queues audio and wakes the speaker
        jitter.push("a", b"\x02" * 20 * MS)
        speaker.wake()
        assert stream.calls == ["start"] and speaker.starts == 1  # once per reply
        jitter.end_item("a")
        assert stream.pull(20) == b"\x01" * 20 * MS
        assert stream.pull(30) == b"\x02" * 20 * MS + bytes(10 * MS)
        await asyncio.wait_for(stream.stopped.wait(), 5)
        assert stream.calls == ["start", "abort"]
        await settle()
        assert [n.event for n in notices] == [PlaybackEvent.STARTED, PlaybackEvent.DRAINED]
        assert not speaker.failed.is_set()  # stopping on purpose is no failure
        assert jitter.playback("a").played_bytes == 40 * MS  # truncation counts stay exact

        jitter.push("b", b"\x03" * 10 * MS)  # the next reply starts it again
        speaker.wake()
        assert stream.calls == ["start", "abort", "start"] and speaker.starts == 2
        assert stream.pull(10) == b"\x03" * 10 * MS
    assert stream.closed and not speaker.failed.is_set()


class CountingJitter(JitterBuffer):
    """Sets :attr:`looked` once ``stats()`` was called ``times`` times (the idle check
    reads the counters once per look)."""

    def __init__(self, times: int) -> None:
        super().__init__(prefill_bytes=0, max_bytes=100_000)
        self.times = times
        self.looked = asyncio.Event()

    def stats(self) -> Any:
        self.times -= 1
        if self.times <= 0:
            self.looked.set()
        return super().stats()


async def test_stream_keeps_running_while_a_reply_is_open(fake_sd: types.SimpleNamespace) -> None:
    jitter = CountingJitter(times=5)
    with Speaker(None, jitter, lambda notice: None, idle_stop_s=0.01) as speaker:
        [stream] = FakeStream.instances
        stream.calls.clear()
        stream.stopped.clear()
        jitter.push("a", b"\x01" * 10 * MS)
        speaker.wake()
        stream.pull(20)  # ran dry mid-reply: the network is late, more is coming
        await asyncio.wait_for(jitter.looked.wait(), 5)  # several idle checks later
        assert stream.active and stream.calls == ["start"]
        jitter.flush()  # barge-in: nothing more to play
        await asyncio.wait_for(stream.stopped.wait(), 5)


async def test_a_stream_that_will_not_start_is_a_failed_speaker(
    fake_sd: types.SimpleNamespace,
) -> None:
    jitter = JitterBuffer(prefill_bytes=0, max_bytes=100_000)
    with Speaker(None, jitter, lambda notice: None) as speaker:
        FakeStream.fail_start = True
        assert jitter.push("a", b"\x01" * 10)  # the push itself goes through
        speaker.wake()  # never raises
        assert speaker.failed.is_set()


async def test_a_stream_that_dies_while_playing_is_a_failed_speaker(
    fake_sd: types.SimpleNamespace,
) -> None:
    jitter = JitterBuffer(prefill_bytes=0, max_bytes=100_000)
    with Speaker(None, jitter, lambda notice: None) as speaker:
        [stream] = FakeStream.instances
        jitter.push("a", b"\x01" * 10)
        speaker.wake()
        stream.die()
        await asyncio.wait_for(speaker.failed.wait(), 5)


async def test_idle_stop_none_keeps_the_stream_running(fake_sd: types.SimpleNamespace) -> None:
    jitter = JitterBuffer(prefill_bytes=0, max_bytes=100_000)
    with Speaker(None, jitter, lambda notice: None, idle_stop_s=None) as speaker:
        [stream] = FakeStream.instances
        assert stream.calls == ["start"] and stream.active
        jitter.push("a", b"\x01" * 10)
        speaker.wake()
        assert stream.calls == ["start"]
