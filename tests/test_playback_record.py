"""The dispatcher with the real core, pipeline, jitter buffer and outbound queue (fake ends):
each item's playback record has one owner (the core), a long reply is held whole, and the
memory bound, if a broken service ever reaches it, is said on the screen once."""

from __future__ import annotations

import base64
import json

from tests.fakes import FakeAudio, RecordingView
from voicelive.audio.pipeline import AudioPipeline
from voicelive.config.settings import AudioSettings
from voicelive.connection.outbound import Outbound
from voicelive.dispatcher import Dispatcher
from voicelive.protocol import client_events as ce
from voicelive.protocol.conversation import Conversation
from voicelive.protocol.pcm import bytes_of
from voicelive.quit import Quit

DELTA_MS = 100


def frame(kind: str, **fields: object) -> str:
    return json.dumps({"type": kind, "event_id": "e", **fields})


def rig(audio: AudioSettings) -> tuple[Dispatcher, AudioPipeline, RecordingView]:
    view = RecordingView()
    outbound = Outbound()
    pipeline = AudioPipeline(FakeAudio(), audio, outbound)
    core = Conversation(ce.EventIds())
    return Dispatcher(core, pipeline, outbound, view, Quit()), pipeline, view


def long_reply(dispatcher: Dispatcher, seconds: int) -> None:
    """A reply of ``seconds`` of audio, delivered as fast as the network can."""
    dispatcher.on_frame(frame("response.created", response={"id": "r1"}))
    delta = base64.b64encode(bytes(bytes_of(DELTA_MS))).decode()
    for _ in range(seconds * 1000 // DELTA_MS):
        dispatcher.on_frame(
            frame("response.audio.delta", response_id="r1", item_id="a1", delta=delta)
        )


def test_a_three_minute_reply_that_arrives_at_once_is_held_whole() -> None:
    dispatcher, pipeline, view = rig(AudioSettings())
    long_reply(dispatcher, 180)
    assert pipeline.jitter.stats().queued_bytes == bytes_of(180_000)
    assert pipeline.jitter.stats().dropped_bytes == 0
    assert not [line for line in view.lines if line[0] == "warning"]


def test_the_memory_bound_is_said_once_and_the_record_counts_what_can_be_heard() -> None:
    dispatcher, pipeline, view = rig(AudioSettings(max_buffer_ms=1000))
    long_reply(dispatcher, 3)
    warnings = [text for kind, text in view.lines if kind == "warning"]
    assert len(warnings) == 1 and "longer than the playback memory" in warnings[0]
    # the core's record is the buffer's truth: 1 s accepted, so a cut at 0.5 s heard half
    assert dispatcher.core.received_bytes("a1") == bytes_of(1000)
    assert pipeline.jitter.stats().queued_bytes == bytes_of(1000)


def test_the_default_bound_is_minutes() -> None:
    assert AudioSettings().max_buffer_ms >= 10 * 60 * 1000
