"""Pure pieces of the resilience work: backoff, history and replay, the core on a drop."""

from __future__ import annotations

import random

import pytest

from tests.test_core_playback import Rig, audio
from voicelive.config.settings import ReplaySettings
from voicelive.connection.backoff import FIRST_DELAY_S, MAX_DELAY_S, MAX_RETRY_AFTER_S, Backoff
from voicelive.connection.session_setup import replay_events
from voicelive.protocol import actions as act
from voicelive.protocol import client_events as ce
from voicelive.protocol import server_events as ev
from voicelive.protocol.history import History


def test_backoff_first_retry_is_quick_later_ones_grow_to_a_cap_then_it_gives_up() -> None:
    backoff = Backoff(8, random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    assert backoff.next_delay() is None  # bounded
    assert all(d is not None for d in delays)
    ceilings = [min(MAX_DELAY_S, FIRST_DELAY_S * 2**n) for n in range(8)]
    assert delays[0] is not None and delays[0] <= FIRST_DELAY_S
    assert all(d is not None and 0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(d for d in delays if d is not None) > FIRST_DELAY_S  # it does grow


def test_backoff_jitter_differs_between_clients() -> None:
    a = [Backoff(5, random.Random(1)).next_delay() for _ in range(1)]
    b = [Backoff(5, random.Random(2)).next_delay() for _ in range(1)]
    assert a != b


def test_backoff_honours_retry_after_within_a_cap() -> None:
    backoff = Backoff(3, random.Random(0))
    assert backoff.next_delay(retry_after_s=2.0) == pytest.approx(2.0, abs=FIRST_DELAY_S)
    assert backoff.next_delay(retry_after_s=2.0) >= 2.0  # type: ignore[operator]
    assert backoff.next_delay(retry_after_s=3600) == MAX_RETRY_AFTER_S


def test_history_cuts_an_interrupted_reply_to_the_share_heard_at_a_word() -> None:
    history = History()
    history.turn("u1", "user").text = "tell me a story"
    reply = history.turn("a1", "assistant")
    reply.text = "Once upon a time there was a fox"
    reply.received_bytes = 1000
    history.cut("a1", 500)  # half the audio heard
    replay = history.replay(max_turns=10, max_chars=1000)
    assert replay.turns == [("user", "tell me a story"), ("assistant", "Once upon a time")]


def test_history_replay_skips_turns_without_text_and_keeps_the_latest_within_bounds() -> None:
    history = History()
    history.turn("u0", "user")  # speech that was never transcribed
    for n in range(5):
        history.turn(f"u{n + 1}", "user").text = f"question {n}"
        history.turn(f"a{n + 1}", "assistant").text = f"answer {n}"
    replay = history.replay(max_turns=3, max_chars=1000)
    assert replay.turns == [
        ("assistant", "answer 3"),
        ("user", "question 4"),
        ("assistant", "answer 4"),
    ]
    assert (replay.without_text, replay.beyond_bounds) == (1, 7)
    by_chars = history.replay(max_turns=100, max_chars=len("question 4answer 4"))
    assert by_chars.turns == [("user", "question 4"), ("assistant", "answer 4")]


def test_replay_events_are_text_items_in_order_and_zero_turns_means_none() -> None:
    history = History()
    history.turn("u1", "user").text = "hello"
    history.turn("a1", "assistant").text = "hi there"
    events = replay_events(history, ReplaySettings(turns=20, chars=8000), ce.EventIds())
    assert [e["item"] for e in events] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "hi there"}]},
    ]
    assert replay_events(history, ReplaySettings(turns=0), ce.EventIds()) == []


def test_a_drop_mid_reply_lets_received_audio_play_out_and_it_counts_as_heard() -> None:
    rig = Rig()
    rig.server(ev.SpeechStarted(0, "u1"))
    rig.server(ev.UserTranscript("u1", "what is the weather"))
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.TranscriptDelta("r1", "a1", "It is sunny today"))
    rig.server(ev.AudioDelta("r1", "a1", audio(30)))  # prefill is 40 ms: held back
    rig.feed(act.ConnectionDropped())
    assert rig.ends() == [act.AssistantEnd("a1", interrupted=True)]
    rig.speaker(50)  # no audio.done will come: the drop ended the item, so it plays out
    assert rig.jitter.stats().played_bytes == len(audio(30))
    assert rig.conv.idle and not rig.conv.active_response
    # a late delta of the dropped response (from a buffer) is not played
    rig.server(ev.AudioDelta("r1", "a1", audio(30)))
    assert rig.jitter.stats().queued_bytes == 0
    assert rig.conv.history.replay(10, 1000).turns == [
        ("user", "what is the weather"),
        ("assistant", "It is sunny today"),
    ]
    assert rig.sent == []  # nothing asked again: the reply is not repeated


def test_the_flush_result_is_handled_after_the_actions_that_caused_it() -> None:
    rig = Rig()
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.AudioDelta("r1", "a1", audio(200)))
    rig.speaker(100)
    rig.server(ev.SpeechStarted(1000, "u2"))
    statuses = [a.state for a in rig.shown if isinstance(a, act.Status)]
    assert statuses[-1] == act.State.INTERRUPTED  # shown before the cancel/truncate follow-up
    assert rig.types() == ["response.cancel", "conversation.item.truncate"]


def test_a_headless_run_finishes_when_input_ended_and_the_reply_was_heard() -> None:
    rig = Rig()
    rig.feed(act.InputEnded())
    assert [a for a in rig.shown if isinstance(a, act.Finished)] == [act.Finished()]
    rig = Rig()
    rig.server(ev.SpeechStarted(0, "u1"))
    rig.server(ev.SpeechStopped(900, "u1"))
    rig.feed(act.InputEnded())
    assert not [a for a in rig.shown if isinstance(a, act.Finished)]  # a reply is due
    rig.server(ev.ResponseCreated("r1"))
    rig.server(ev.AudioDelta("r1", "a1", audio(50)))
    rig.server(ev.AudioDone("r1", "a1"))
    rig.server(ev.ResponseDone("r1", "completed", None, None))
    assert not [a for a in rig.shown if isinstance(a, act.Finished)]  # still to be heard
    rig.speaker(60)
    assert [a for a in rig.shown if isinstance(a, act.Finished)] == [act.Finished()]
