"""The conversation state machine: server events in, actions out (no I/O, no clock)."""

from __future__ import annotations

from voicelive.protocol import actions as cv
from voicelive.protocol import client_events as ce
from voicelive.protocol import server_events as ev
from voicelive.protocol.actions import State
from voicelive.protocol.conversation import Conversation
from voicelive.protocol.playback import ItemPlayback, PlaybackEvent, PlaybackNotice


def flushed(conv: Conversation, *cut: ItemPlayback) -> list[cv.Action]:
    return conv.handle(cv.PlaybackFlushed(cut))


def started(conv: Conversation, item_id: str) -> list[cv.Action]:
    return conv.handle(cv.PlaybackChanged(PlaybackNotice(PlaybackEvent.STARTED, item_id)))


def drained(conv: Conversation, item_id: str) -> list[cv.Action]:
    return conv.handle(cv.PlaybackChanged(PlaybackNotice(PlaybackEvent.DRAINED, item_id)))


def sent(actions: list[cv.Action]) -> list[dict[str, object]]:
    return [a.event for a in actions if isinstance(a, cv.Send)]


def reply(
    conv: Conversation, rid: str = "resp_1", iid: str = "item_1", n_deltas: int = 3
) -> list[cv.Action]:
    actions = conv.handle(ev.ResponseCreated(rid))
    for _ in range(n_deltas):
        actions += conv.handle(ev.TranscriptDelta(rid, iid, "hi "))
        actions += conv.handle(ev.AudioDelta(rid, iid, b"\x01" * 960))
    return actions


def test_a_full_turn_plays_audio_and_shows_both_sides() -> None:
    conv = Conversation(ce.EventIds())
    assert conv.handle(ev.SpeechStarted(100, "u1")) == [cv.Status(State.HEARING)]
    assert conv.handle(ev.SpeechStopped(900, "u1")) == [cv.Status(State.THINKING)]
    actions = reply(conv)
    assert [a for a in actions if isinstance(a, cv.Play)] == [cv.Play("item_1", b"\x01" * 960)] * 3
    assert conv.handle(ev.AudioDone("resp_1", "item_1")) == [cv.EndAudio("item_1")]
    assert conv.handle(ev.TranscriptDone("resp_1", "item_1", "hi hi hi")) == [
        cv.AssistantEnd("item_1", interrupted=False)
    ]
    assert conv.handle(ev.UserTranscript("u1", " hello ")) == [cv.UserLine("u1", "hello")]
    done = conv.handle(ev.ResponseDone("resp_1", "completed", None, None))
    assert cv.ResponseFinished("resp_1", "completed") in done
    assert conv.active_response is None
    assert started(conv, "item_1") == [cv.Status(State.SPEAKING)]
    assert drained(conv, "item_1") == [cv.Status(State.LISTENING)]
    assert conv.idle


def test_barge_in_while_response_active_flushes_cancels_and_truncates() -> None:
    conv = Conversation(ce.EventIds())
    reply(conv)
    actions = conv.handle(ev.SpeechStarted(5000, "u2"))
    assert actions[0] == cv.FlushPlayback()
    assert cv.Status(State.INTERRUPTED) in actions
    assert cv.AssistantEnd("item_1", interrupted=True) in actions
    follow = flushed(conv, ItemPlayback("item_1", played_bytes=960, open=False))
    events = sent(follow)
    assert [e["type"] for e in events] == ["response.cancel", "conversation.item.truncate"]
    assert events[0]["response_id"] == "resp_1"
    assert events[1]["item_id"] == "item_1" and events[1]["audio_end_ms"] == 20
    assert cv.Notice("info", "(interrupted: you heard 0.0 s of 0.1 s)") in follow
    # late deltas of the interrupted response are dropped
    assert conv.handle(ev.AudioDelta("resp_1", "item_1", b"\x02" * 960)) == []
    assert conv.handle(ev.TranscriptDelta("resp_1", "item_1", "more")) == []
    assert conv.dropped_deltas == 1


def test_barge_in_after_response_done_truncates_without_cancel() -> None:
    conv = Conversation(ce.EventIds())
    reply(conv)
    conv.handle(ev.ResponseDone("resp_1", "completed", None, None))
    actions = conv.handle(ev.SpeechStarted(5000, "u2"))
    assert actions[0] == cv.FlushPlayback()
    events = sent(flushed(conv, ItemPlayback("item_1", 1440, open=False)))
    assert [e["type"] for e in events] == ["conversation.item.truncate"]
    assert events[0]["audio_end_ms"] == 30


def test_truncate_is_clamped_to_the_audio_received() -> None:
    conv = Conversation(ce.EventIds())
    reply(conv, n_deltas=1)  # 960 bytes received: the core's own count
    conv.handle(ev.SpeechStarted(1, None))
    # an open item that (by a miscount) reports more played than received: never past the end
    events = sent(flushed(conv, ItemPlayback("item_1", 960 * 5, open=True)))
    assert [(e["type"], e.get("audio_end_ms")) for e in events] == [
        ("response.cancel", None),
        ("conversation.item.truncate", 20),
    ]


def test_no_truncate_for_an_item_fully_played_or_never_received() -> None:
    conv = Conversation(ce.EventIds())
    reply(conv, n_deltas=1)
    conv.handle(ev.SpeechStarted(1, None))
    events = sent(
        flushed(
            conv,
            ItemPlayback("item_1", played_bytes=960, open=False),
            ItemPlayback("item_0", played_bytes=0, open=True),
        )
    )
    assert [e["type"] for e in events] == ["response.cancel"]


def test_auto_truncate_means_the_client_never_truncates() -> None:
    conv = Conversation(ce.EventIds(), auto_truncate=True)
    reply(conv)
    conv.handle(ev.SpeechStarted(1, None))
    events = sent(flushed(conv, ItemPlayback("item_1", 960, open=False)))
    assert [e["type"] for e in events] == ["response.cancel"]


def test_cancel_is_sent_once_per_response() -> None:
    conv = Conversation(ce.EventIds())
    reply(conv)
    conv.handle(ev.SpeechStarted(1, None))
    assert len(sent(flushed(conv))) == 1
    assert sent(flushed(conv)) == []


def test_no_interrupt_flag_keeps_playing() -> None:
    conv = Conversation(ce.EventIds(), interrupt=False)
    reply(conv)
    assert conv.handle(ev.SpeechStarted(1, None)) == [cv.Status(State.HEARING)]


def test_speech_with_nothing_playing_is_not_a_barge_in() -> None:
    conv = Conversation(ce.EventIds())
    assert conv.handle(ev.SpeechStarted(1, None)) == [cv.Status(State.HEARING)]


def test_benign_errors_go_to_the_log_and_others_to_the_user() -> None:
    conv = Conversation(ce.EventIds())
    benign = conv.handle(
        ev.ServerErrorEvent(
            "response_cancel_not_active", "no active", None, "invalid_request_error", "cli_1"
        )
    )
    assert [a.level for a in benign if isinstance(a, cv.Notice)] == ["debug"]
    serious = conv.handle(
        ev.ServerErrorEvent(
            "invalid_value", "Bad voice", "session.voice", "invalid_request_error", None
        )
    )
    assert serious == [cv.Notice("error", "service error: Bad voice (parameter: session.voice)")]


def test_failed_and_incomplete_responses_are_reported() -> None:
    conv = Conversation(ce.EventIds())
    shown = {}
    for rid, status, reason in (("r1", "failed", None), ("r2", "incomplete", "max_output_tokens")):
        conv.handle(ev.ResponseCreated(rid))
        done = conv.handle(ev.ResponseDone(rid, status, reason, None))
        shown[status] = [(a.level, a.text) for a in done if isinstance(a, cv.Notice)]
    assert shown == {
        "failed": [("error", "the service could not finish its reply (response failed)")],
        "incomplete": [("warning", "the reply was cut short (max_output_tokens)")],
    }


def test_keyboard_interrupt_truncates_even_with_auto_truncate() -> None:
    # the service auto-truncates only what its own VAD interrupted
    conv = Conversation(ce.EventIds(), auto_truncate=True)
    reply(conv)
    actions = conv.handle(cv.LocalInterrupt())
    assert actions[0] == cv.FlushPlayback() and actions[-1] == cv.Status(State.LISTENING)
    events = sent(flushed(conv, ItemPlayback("item_1", 960, open=True)))
    assert [e["type"] for e in events] == ["response.cancel", "conversation.item.truncate"]
    # and a later server-detected barge-in is again left to the service
    reply(conv, "resp_2", "item_2")
    conv.handle(ev.SpeechStarted(1, None))
    events = sent(flushed(conv, ItemPlayback("item_2", 960, open=True)))
    assert [e["type"] for e in events] == ["response.cancel"]


def test_manual_turn_during_a_reply_asks_for_the_next_one_after_the_cancel_lands() -> None:
    conv = Conversation(ce.EventIds())
    reply(conv)
    actions = conv.handle(cv.CommitTurn())
    assert actions[0] == cv.FlushPlayback()
    assert "response.create" not in [e["type"] for e in sent(actions)]
    after = sent(flushed(conv, ItemPlayback("item_1", 960, open=True)))
    assert [e["type"] for e in after] == ["response.cancel", "conversation.item.truncate"]
    done = conv.handle(ev.ResponseDone("resp_1", "cancelled", "client_cancelled", None))
    assert [e["type"] for e in sent(done)] == ["response.create"]
    assert conv.awaiting_reply


def test_manual_turn_commits_and_requests_a_reply() -> None:
    conv = Conversation(ce.EventIds())
    assert [e["type"] for e in sent(conv.handle(cv.CommitTurn()))] == [
        "input_audio_buffer.commit",
        "response.create",
    ]
    assert conv.awaiting_reply and not conv.idle


def test_local_interrupt_with_nothing_playing_does_nothing() -> None:
    assert Conversation(ce.EventIds()).handle(cv.LocalInterrupt()) == []


def test_response_done_ends_its_items_audio_even_without_audio_done() -> None:
    conv = Conversation(ce.EventIds())
    reply(conv, "resp_1", "item_1")
    done = conv.handle(ev.ResponseDone("resp_1", "completed", None, None))
    assert cv.EndAudio("item_1") in done


def test_bookkeeping_stays_small_in_a_long_session() -> None:
    conv = Conversation(ce.EventIds())
    for n in range(1000):
        reply(conv, f"resp_{n}", f"item_{n}", n_deltas=1)
        conv.handle(ev.SpeechStarted(n, None))  # every reply interrupted
        flushed(conv)
        conv.handle(ev.ResponseDone(f"resp_{n}", "cancelled", "turn_detected", None))
    assert conv.bookkeeping_size <= 256
    # the most recent interrupted response still drops its late deltas
    assert conv.handle(ev.AudioDelta("resp_999", "item_999", b"\x01\x00")) == []


def test_a_message_typed_between_sessions_is_answered_on_the_next_one() -> None:
    """Its response.create was queued for the dropped session (and dropped as stale); the
    message itself goes to the new session in the replay, so the new session is asked."""
    conv = Conversation(ce.EventIds())
    conv.handle(cv.SessionStarted(silence_ms=500))
    conv.handle(cv.ConnectionDropped())
    typed = sent(conv.handle(cv.SendText("are you there?")))
    assert [e["type"] for e in typed] == ["conversation.item.create", "response.create"]
    assert [e["type"] for e in sent(conv.handle(cv.SessionStarted(silence_ms=500)))] == [
        "response.create"
    ]
    conv.handle(ev.ResponseCreated("resp_9"))
    assert sent(conv.handle(cv.SessionStarted(silence_ms=500))) == []  # the reply is coming
