"""The conversation state machine: server events in, actions out (no I/O, no clock)."""

from __future__ import annotations

from voicelive.audio.jitter import ItemPlayback
from voicelive.protocol import conversation as cv
from voicelive.protocol import events as ev


def sent(actions: list[cv.Action]) -> list[dict[str, object]]:
    return [a.event for a in actions if isinstance(a, cv.Send)]


def reply(
    conv: cv.Conversation, rid: str = "resp_1", iid: str = "item_1", n_deltas: int = 3
) -> list[cv.Action]:
    actions = conv.handle(ev.ResponseCreated(rid))
    for _ in range(n_deltas):
        actions += conv.handle(ev.TranscriptDelta(rid, iid, "hi "))
        actions += conv.handle(ev.AudioDelta(rid, iid, b"\x01" * 960))
    return actions


def test_a_full_turn_plays_audio_and_shows_both_sides() -> None:
    conv = cv.Conversation(ev.EventIds())
    assert conv.handle(ev.SpeechStarted(100, "u1")) == [cv.Status("hearing you")]
    assert conv.handle(ev.SpeechStopped(900, "u1")) == [cv.Status("thinking")]
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
    assert conv.playback_started("item_1") == [cv.Status("speaking")]
    assert conv.playback_drained("item_1") == [cv.Status("listening")]
    assert conv.idle


def test_barge_in_while_response_active_flushes_cancels_and_truncates() -> None:
    conv = cv.Conversation(ev.EventIds())
    reply(conv)
    actions = conv.handle(ev.SpeechStarted(5000, "u2"))
    assert actions[0] == cv.FlushPlayback()
    assert cv.Status("interrupted") in actions
    assert cv.AssistantEnd("item_1", interrupted=True) in actions
    follow = conv.playback_flushed([ItemPlayback("item_1", received_bytes=2880, played_bytes=960)])
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
    conv = cv.Conversation(ev.EventIds())
    reply(conv)
    conv.handle(ev.ResponseDone("resp_1", "completed", None, None))
    actions = conv.handle(ev.SpeechStarted(5000, "u2"))
    assert actions[0] == cv.FlushPlayback()
    events = sent(conv.playback_flushed([ItemPlayback("item_1", 2880, 1440)]))
    assert [e["type"] for e in events] == ["conversation.item.truncate"]
    assert events[0]["audio_end_ms"] == 30


def test_truncate_is_clamped_and_skipped_when_nothing_was_received() -> None:
    conv = cv.Conversation(ev.EventIds())
    reply(conv)
    conv.handle(ev.SpeechStarted(1, None))
    events = sent(
        conv.playback_flushed(
            [
                ItemPlayback("item_1", received_bytes=960, played_bytes=960 * 5),  # fully played
                ItemPlayback("item_0", received_bytes=0, played_bytes=0),
            ]
        )
    )
    assert [e["type"] for e in events] == ["response.cancel"]


def test_auto_truncate_means_the_client_never_truncates() -> None:
    conv = cv.Conversation(ev.EventIds(), auto_truncate=True)
    reply(conv)
    conv.handle(ev.SpeechStarted(1, None))
    events = sent(conv.playback_flushed([ItemPlayback("item_1", 2880, 960)]))
    assert [e["type"] for e in events] == ["response.cancel"]


def test_cancel_is_sent_once_per_response() -> None:
    conv = cv.Conversation(ev.EventIds())
    reply(conv)
    conv.handle(ev.SpeechStarted(1, None))
    assert len(sent(conv.playback_flushed([]))) == 1
    assert sent(conv.playback_flushed([])) == []


def test_no_interrupt_flag_keeps_playing() -> None:
    conv = cv.Conversation(ev.EventIds(), interrupt=False)
    reply(conv)
    assert conv.handle(ev.SpeechStarted(1, None)) == [cv.Status("hearing you")]


def test_speech_with_nothing_playing_is_not_a_barge_in() -> None:
    conv = cv.Conversation(ev.EventIds())
    assert conv.handle(ev.SpeechStarted(1, None)) == [cv.Status("hearing you")]


def test_benign_errors_go_to_the_log_and_others_to_the_user() -> None:
    conv = cv.Conversation(ev.EventIds())
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
    conv = cv.Conversation(ev.EventIds())
    conv.handle(ev.ResponseCreated("r"))
    levels = [
        a.level
        for a in conv.handle(ev.ResponseDone("r", "failed", None, None))
        if isinstance(a, cv.Notice)
    ]
    assert levels == ["error"]


def test_keyboard_interrupt_truncates_even_with_auto_truncate() -> None:
    # the service auto-truncates only what its own VAD interrupted
    conv = cv.Conversation(ev.EventIds(), auto_truncate=True)
    reply(conv)
    actions = conv.interrupt_locally()
    assert actions[0] == cv.FlushPlayback() and actions[-1] == cv.Status("listening")
    events = sent(conv.playback_flushed([ItemPlayback("item_1", 2880, 960, open=True)]))
    assert [e["type"] for e in events] == ["response.cancel", "conversation.item.truncate"]
    # and a later server-detected barge-in is again left to the service
    reply(conv, "resp_2", "item_2")
    conv.handle(ev.SpeechStarted(1, None))
    events = sent(conv.playback_flushed([ItemPlayback("item_2", 2880, 960, open=True)]))
    assert [e["type"] for e in events] == ["response.cancel"]


def test_manual_turn_during_a_reply_asks_for_the_next_one_after_the_cancel_lands() -> None:
    conv = cv.Conversation(ev.EventIds())
    reply(conv)
    actions = conv.commit_turn()
    assert actions[0] == cv.FlushPlayback()
    assert "response.create" not in [e["type"] for e in sent(actions)]
    flushed = sent(conv.playback_flushed([ItemPlayback("item_1", 2880, 960, open=True)]))
    assert [e["type"] for e in flushed] == ["response.cancel", "conversation.item.truncate"]
    done = conv.handle(ev.ResponseDone("resp_1", "cancelled", "client_cancelled", None))
    assert [e["type"] for e in sent(done)] == ["response.create"]
    assert conv.awaiting_reply


def test_manual_turn_commits_and_requests_a_reply() -> None:
    conv = cv.Conversation(ev.EventIds())
    assert [e["type"] for e in sent(conv.commit_turn())] == [
        "input_audio_buffer.commit",
        "response.create",
    ]
    assert conv.awaiting_reply and not conv.idle


def test_local_interrupt_with_nothing_playing_does_nothing() -> None:
    assert cv.Conversation(ev.EventIds()).interrupt_locally() == []


def test_response_done_ends_its_items_audio_even_without_audio_done() -> None:
    conv = cv.Conversation(ev.EventIds())
    reply(conv, "resp_1", "item_1")
    done = conv.handle(ev.ResponseDone("resp_1", "completed", None, None))
    assert cv.EndAudio("item_1") in done


def test_bookkeeping_stays_small_in_a_long_session() -> None:
    conv = cv.Conversation(ev.EventIds())
    for n in range(1000):
        reply(conv, f"resp_{n}", f"item_{n}", n_deltas=1)
        conv.handle(ev.SpeechStarted(n, None))  # every reply interrupted
        conv.playback_flushed([])
        conv.handle(ev.ResponseDone(f"resp_{n}", "cancelled", "turn_detected", None))
    assert conv.bookkeeping_size <= 256
    # the most recent interrupted response still drops its late deltas
    assert conv.handle(ev.AudioDelta("resp_999", "item_999", b"\x01\x00")) == []
