"""The core together with the real JitterBuffer: server events in, speaker pulls, actions out.

No hand-built playback records: what the core learns about playback comes from the real
buffer, exactly as in the product (the speaker pulls fixed blocks on its own clock).
"""

from __future__ import annotations

from typing import Any

from voicelive.audio.jitter import JitterBuffer
from voicelive.protocol import actions as act
from voicelive.protocol import client_events as ce
from voicelive.protocol import conversation as cv
from voicelive.protocol import server_events as ev

MS = 48  # bytes of 24 kHz PCM16 mono per millisecond (spelled out: the test's own oracle)


class Rig:
    """Drives Conversation + JitterBuffer the way the product's dispatcher does."""

    def __init__(self, **kwargs: Any) -> None:
        self.conv = cv.Conversation(ce.EventIds(), **kwargs)
        self.jitter = JitterBuffer(prefill_bytes=40 * MS, max_bytes=60_000 * MS)
        self.sent: list[dict[str, Any]] = []
        self.shown: list[act.Action] = []

    def feed(self, first: ev.ServerEvent | act.LocalInput) -> None:
        """One input, then the inputs its actions produced (a flush's result), in order."""
        inputs = [first]
        while inputs:
            for action in self.conv.handle(inputs.pop(0)):
                match action:
                    case act.Play(item_id, pcm):
                        self.jitter.push(item_id, pcm)
                    case act.EndAudio(item_id):
                        self.jitter.end_item(item_id)
                    case act.Send(event):
                        self.sent.append(event)
                    case act.FlushPlayback():
                        inputs.append(act.PlaybackFlushed(self.jitter.flush()))
                    case _:
                        self.shown.append(action)

    def server(self, event: ev.ServerEvent) -> None:
        self.feed(event)

    def speaker(self, ms: int) -> None:
        """The speaker pulls ``ms`` of audio in 10 ms blocks, reporting notices."""
        for _ in range(ms // 10):
            out = bytearray(10 * MS)
            notice = self.jitter.pull_into(memoryview(out))
            if notice is not None:
                self.feed(act.PlaybackChanged(notice))

    def key_interrupt(self) -> None:
        self.feed(act.LocalInterrupt())

    def types(self) -> list[str]:
        return [e["type"] for e in self.sent]

    def truncates(self) -> list[tuple[str, int]]:
        return [
            (e["item_id"], e["audio_end_ms"])
            for e in self.sent
            if e["type"] == "conversation.item.truncate"
        ]

    def ends(self) -> list[act.AssistantEnd]:
        return [a for a in self.shown if isinstance(a, act.AssistantEnd)]


def audio(ms: int) -> bytes:
    return b"\x01\x00" * (ms * MS // 2)


def test_underrun_then_barge_in_truncates_at_what_was_heard() -> None:
    # A slow network: 100 ms of the reply arrives, the speaker plays it all and runs dry, the
    # rest of the reply is still on its way when the user speaks.
    rig = Rig()
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.AudioDelta("r1", "a1", audio(100)))
    rig.speaker(200)  # plays the 100 ms, then underruns
    assert rig.jitter.stats().underruns == 1
    rig.server(ev.SpeechStarted(3000, "u2"))
    assert rig.types() == ["response.cancel", "conversation.item.truncate"]
    assert rig.truncates() == [("a1", 100)]


def test_underrun_then_keyboard_interrupt_truncates_too() -> None:
    rig = Rig(auto_truncate=True)  # the service only auto-truncates its own VAD's barge-ins
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.AudioDelta("r1", "a1", audio(120)))
    rig.speaker(200)
    rig.key_interrupt()
    assert rig.truncates() == [("a1", 120)]


def test_barge_in_mid_playback_truncates_at_the_pulled_ms() -> None:
    rig = Rig()
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.AudioDelta("r1", "a1", audio(1000)))
    rig.server(ev.AudioDone("r1", "a1"))
    rig.speaker(300)
    rig.server(ev.SpeechStarted(3000, "u2"))
    assert rig.truncates() == [("a1", 300)]
    assert rig.jitter.stats().queued_bytes == 0


def test_a_fully_played_finished_reply_is_not_truncated() -> None:
    rig = Rig()
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.AudioDelta("r1", "a1", audio(100)))
    rig.server(ev.AudioDone("r1", "a1"))
    rig.server(ev.ResponseDone("r1", "completed", None, None))
    rig.speaker(200)
    rig.server(ev.SpeechStarted(3000, "u2"))
    assert rig.truncates() == []


def test_text_only_reply_cut_by_speech_is_closed_as_interrupted() -> None:
    rig = Rig()
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.TranscriptDelta("r1", "t1", "Let me think "))
    rig.server(ev.SpeechStarted(3000, "u2"))
    assert rig.types() == ["response.cancel"]
    assert rig.ends() == [act.AssistantEnd("t1", interrupted=True)]
    # its late text is dropped, and a late transcript.done does not close it twice
    rig.server(ev.TranscriptDelta("r1", "t1", "about it"))
    rig.server(ev.TranscriptDone("r1", "t1", "Let me think about it"))
    assert rig.ends() == [act.AssistantEnd("t1", interrupted=True)]


def test_transcript_before_its_audio_then_barge_in() -> None:
    rig = Rig()
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.TranscriptDelta("r1", "a1", "Hello there "))
    rig.server(ev.SpeechStarted(3000, "u2"))  # before any audio of a1 arrived
    assert rig.types() == ["response.cancel"]
    assert rig.ends() == [act.AssistantEnd("a1", interrupted=True)]
    rig.server(ev.AudioDelta("r1", "a1", audio(100)))  # late audio of the cut reply
    rig.speaker(100)
    assert rig.jitter.stats().played_bytes == 0


def test_a_text_reply_that_ends_without_transcript_done_is_closed_at_response_done() -> None:
    rig = Rig()
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.TranscriptDelta("r1", "t1", "partial"))
    rig.server(ev.ResponseDone("r1", "incomplete", "max_output_tokens", None))
    assert rig.ends() == [act.AssistantEnd("t1", interrupted=False)]


def test_keyboard_interrupt_of_a_streaming_reply_cancels_and_truncates() -> None:
    rig = Rig()
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.TranscriptDelta("r1", "a1", "One two three "))
    rig.server(ev.AudioDelta("r1", "a1", audio(500)))
    rig.speaker(200)
    rig.key_interrupt()
    assert rig.types() == ["response.cancel", "conversation.item.truncate"]
    assert rig.truncates() == [("a1", 200)]
    assert rig.ends() == [act.AssistantEnd("a1", interrupted=True)]
