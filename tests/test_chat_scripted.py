"""run_chat against a scripted WebSocket scripted on 127.0.0.1:0, with hand-driven fake audio.

The scripted side is scripted by each test (it is not the simulator), so these tests pin the
client's own behaviour: setup handshake, barge-in accounting, errors, quit, signals.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeAudio, RecordingView
from tests.scripted_server import Scripted
from voicelive.chat import run_chat
from voicelive.config.settings import (
    AudioSettings,
    ConnectionSettings,
    LogSettings,
    Secret,
    Settings,
)
from voicelive.connection.supervisor import DEFAULT_TIMING, Timing
from voicelive.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    AudioDeviceError,
    ConnectionLost,
    ServerError,
)
from voicelive.quit import Quit


def settings(port: int, *, reconnect: bool = True, **audio: Any) -> Settings:
    return Settings(
        connection=ConnectionSettings(
            endpoint=f"ws://127.0.0.1:{port}", api_key=Secret("k-1"), reconnect=reconnect
        ),
        audio=AudioSettings(**({"prebuffer_ms": 0} | audio)),
        log=LogSettings(log_file=None),
    )


def delta(rid: str, iid: str, pcm: bytes) -> dict[str, Any]:
    return {
        "type": "response.audio.delta",
        "event_id": "ed",
        "response_id": rid,
        "item_id": iid,
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(pcm).decode(),
    }


QUIT = Quit()  # replaced per test by the fixture below


@pytest.fixture(autouse=True)
def quit_request() -> Quit:
    """What a Ctrl+C or SIGTERM handler would call: tests inject it, never signal pytest."""
    global QUIT
    QUIT = Quit()
    return QUIT


def ctrl_c() -> None:
    QUIT.signal(EXIT_INTERRUPTED, "Ctrl+C")


def sigterm() -> None:
    QUIT.signal(EXIT_TERMINATED, "SIGTERM")


def start(
    s: Settings, audio: FakeAudio, view: RecordingView, timing: Timing = DEFAULT_TIMING
) -> asyncio.Task[int]:
    return asyncio.create_task(
        run_chat(s, view=view, audio=audio, stdin_fd=None, quit=QUIT, timing=timing)
    )


async def test_setup_sends_session_update_then_streams_the_mic(scripted: Scripted) -> None:
    audio, view = FakeAudio(), RecordingView()
    scripted.release_update.clear()  # hold session.updated back until the test says so
    opened_after_update: list[bool] = []
    real_microphone = audio.microphone

    def microphone(sink: Any) -> Any:
        opened_after_update.append(scripted.updated_sent)
        return real_microphone(sink)

    audio.microphone = microphone  # type: ignore[method-assign]
    task = start(settings(scripted.port), audio, view)
    update = await scripted.wait_for("session.update")
    assert update["session"]["input_audio_sampling_rate"] == 24000
    scripted.release_update.set()
    await asyncio.wait_for(audio.opened.wait(), 5)
    assert opened_after_update == [True]
    assert audio.mic is not None
    audio.mic.sink(b"\x01\x02" * 480)
    append = await scripted.wait_for("input_audio_buffer.append")
    assert base64.b64decode(append["audio"]) == b"\x01\x02" * 480
    ctrl_c()
    assert await asyncio.wait_for(task, 5) == 130
    assert view.closed


async def test_barge_in_truncates_at_what_was_really_played(scripted: Scripted) -> None:
    audio, view = FakeAudio(), RecordingView()
    task = start(settings(scripted.port), audio, view)
    await asyncio.wait_for(audio.opened.wait(), 5)
    speaker = audio.speaker_
    assert speaker is not None
    scripted.send(
        type="response.created",
        event_id="e2",
        response={"id": "resp_1", "status": "in_progress", "output": []},
    )
    scripted.send(
        type="response.audio_transcript.delta",
        event_id="e3",
        response_id="resp_1",
        item_id="item_1",
        output_index=0,
        content_index=0,
        delta="Hello there",
    )
    scripted.send(**delta("resp_1", "item_1", b"\x11\x00" * 2400))  # 100 ms
    await view.wait_for("assistant", "Hello")
    speaker.play_ms(30)
    await view.wait_for("status", "speaking")
    scripted.send(
        type="input_audio_buffer.speech_started",
        event_id="e4",
        audio_start_ms=1000,
        item_id="item_u",
    )
    cancel = await scripted.wait_for("response.cancel")
    truncate = await scripted.wait_for("conversation.item.truncate")
    assert cancel["response_id"] == "resp_1"
    assert (truncate["item_id"], truncate["audio_end_ms"], truncate["content_index"]) == (
        "item_1",
        30,
        0,
    )
    # playback stopped at once, and a late delta of the interrupted response is not played
    scripted.send(**delta("resp_1", "item_1", b"\x22\x00" * 2400))
    scripted.send(
        type="response.done",
        event_id="e5",
        response={
            "id": "resp_1",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
        },
    )
    scripted.send(
        type="error",
        event_id="e6",
        error={
            "type": "invalid_request_error",
            "code": "response_cancel_not_active",
            "message": "Cancellation failed: no active response found",
            "param": None,
        },
    )
    scripted.send(
        type="input_audio_buffer.speech_stopped", event_id="e7", audio_end_ms=2000, item_id="item_u"
    )
    await view.wait_for("status", "thinking")
    before = len(speaker.played)
    speaker.play_ms(50)
    assert bytes(speaker.played[before:]) == bytes(50 * 48)
    assert ("assistant_end", "interrupted") in view.lines
    assert not [line for line in view.lines if line[0] == "error"]  # benign error not shown
    sigterm()
    assert await asyncio.wait_for(task, 5) == 143
    assert scripted.closed_with == 1000


async def test_rejected_session_update_ends_with_the_servers_message(scripted: Scripted) -> None:
    scripted.update_error = {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "Voice not found",
        "param": "session.voice.name",
    }
    with pytest.raises(ServerError, match=r"Voice not found \(parameter: session.voice.name\)"):
        await asyncio.wait_for(
            run_chat(
                settings(scripted.port), view=RecordingView(), audio=FakeAudio(), stdin_fd=None
            ),
            5,
        )


async def test_quit_while_waiting_for_the_session(scripted: Scripted) -> None:
    scripted.send_created = False
    view = RecordingView()
    task = start(settings(scripted.port), FakeAudio(), view)
    await view.wait_for("status", "starting session")
    ctrl_c()
    assert await asyncio.wait_for(task, 5) == 130


async def test_errors_malformed_and_unknown_events_do_not_end_the_session(
    scripted: Scripted,
) -> None:
    audio, view = FakeAudio(), RecordingView()
    task = start(settings(scripted.port), audio, view)
    await asyncio.wait_for(audio.opened.wait(), 5)
    scripted.send(
        type="error",
        event_id="e2",
        error={
            "type": "invalid_request_error",
            "code": "invalid_value",
            "message": "Bad thing",
            "param": "session.x",
        },
    )
    scripted.outgoing.put_nowait("{not json")
    scripted.send(type="some.future.event", event_id="e3")
    scripted.send(
        type="conversation.item.input_audio_transcription.completed",
        event_id="e4",
        item_id="u1",
        content_index=0,
        transcript="still here",
    )
    await view.wait_for("user", "still here")
    assert await view.wait_for("error", "Bad thing") == (
        "service error: Bad thing (parameter: session.x)"
    )
    await view.wait_for("warning", "malformed")
    assert not task.done()
    ctrl_c()
    assert await asyncio.wait_for(task, 5) == 130


async def test_a_frame_nested_too_deeply_is_skipped_and_the_chat_goes_on(
    scripted: Scripted,
) -> None:
    """Issue 18: one event nested 200,000 levels deep ended the chat with an internal error."""
    audio, view = FakeAudio(), RecordingView()
    task = start(settings(scripted.port), audio, view)
    await asyncio.wait_for(audio.opened.wait(), 5)
    depth = 200_000
    scripted.outgoing.put_nowait('{"type": "error", "error": ' + "[" * depth + "]" * depth + "}")
    scripted.send(
        type="conversation.item.input_audio_transcription.completed",
        event_id="e4",
        item_id="u1",
        content_index=0,
        transcript="still here",
    )
    await view.wait_for("warning", "nested too deeply")
    await view.wait_for("user", "still here")
    assert not task.done()
    ctrl_c()
    assert await asyncio.wait_for(task, 5) == 130


async def test_without_reconnect_a_close_mid_session_is_connection_lost(
    scripted: Scripted,
) -> None:
    audio = FakeAudio()
    task = start(settings(scripted.port, reconnect=False), audio, RecordingView())
    await asyncio.wait_for(audio.opened.wait(), 5)
    scripted.outgoing.put_nowait((1011, "internal"))
    with pytest.raises(ConnectionLost, match="1011"):
        await asyncio.wait_for(task, 5)


async def test_audio_problems_surface_before_any_network(scripted: Scripted) -> None:
    audio = FakeAudio(check_error=AudioDeviceError("No audio input device was found."))
    with pytest.raises(AudioDeviceError):
        await run_chat(settings(scripted.port), view=RecordingView(), audio=audio, stdin_fd=None)
    assert scripted.received == []


async def test_a_malformed_error_during_set_up_is_a_protocol_error(scripted: Scripted) -> None:
    from voicelive.errors import ProtocolError

    scripted.send_created = False  # the first thing the client hears is an unusable error
    scripted.send(type="error", event_id="e0", error="not an object")
    with pytest.raises(ProtocolError, match="malformed error"):
        await asyncio.wait_for(
            run_chat(
                settings(scripted.port), view=RecordingView(), audio=FakeAudio(), stdin_fd=None
            ),
            5,
        )


async def test_a_headless_run_gives_up_when_no_reply_comes(
    scripted: Scripted, tmp_path: Path
) -> None:
    import wave

    from voicelive.errors import VoiceLiveError

    wav_path = tmp_path / "in.wav"
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(b"\x00\x10" * 2400)
    s = settings(scripted.port, input_file=wav_path, output_file=tmp_path / "out.wav")
    task = asyncio.create_task(
        run_chat(s, view=RecordingView(), stdin_fd=None, headless_patience_s=0.3)
    )
    await scripted.wait_for("input_audio_buffer.append")  # set up and streaming
    scripted.send(
        type="input_audio_buffer.speech_started", event_id="e2", audio_start_ms=0, item_id="u1"
    )  # the user "spoke", and no reply will ever come
    with pytest.raises(VoiceLiveError, match=r"sent nothing for 0\.3 s"):
        await asyncio.wait_for(task, 15)


def test_an_unreadable_stdin_only_means_no_keyboard(tmp_path: Path) -> None:
    import subprocess
    import sys
    import wave

    wav_path = tmp_path / "in.wav"
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(bytes(4800))
    # stdin opened write-only, as `nohup` leaves it: reading it fails with EBADF
    with open(os.devnull, "wb") as write_only:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "voicelive",
                "chat",
                "--simulate",
                "--input-file",
                str(wav_path),
                "--output-file",
                str(tmp_path / "out.wav"),
                "--log-file",
                "none",
            ],
            stdin=write_only,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr


async def test_without_reconnect_the_user_is_warned_before_the_session_expires(
    scripted: Scripted,
) -> None:
    import time

    scripted.session_extra = {"expires_at": time.time() + 600.3}
    audio, view = FakeAudio(), RecordingView()
    timing = Timing(expiry_warning_s=600.0)  # the warning is due at once
    task = start(settings(scripted.port, reconnect=False), audio, view, timing)
    warning = await view.wait_for("warning", "ends this session in", timeout=5)
    # 600 s away when it was sent; a scheduling gap may round it down by one second
    assert re.match(r"The service ends this session in (600|599) s", warning), warning
    ctrl_c()
    assert await asyncio.wait_for(task, 5) == 130


async def test_the_set_up_deadline_covers_the_whole_set_up_not_each_event(
    scripted: Scripted,
) -> None:
    from voicelive.errors import ConnectError

    scripted.release_update.clear()  # session.updated never comes
    s = settings(scripted.port)
    s = dataclasses.replace(s, connection=dataclasses.replace(s.connection, open_timeout_s=1.0))
    task = start(s, FakeAudio(), RecordingView())
    await scripted.wait_for("session.update")
    loop = asyncio.get_running_loop()
    began = loop.time()
    # a chatty service: an event every 0.2 s would reset a per-event timer forever
    while not task.done() and loop.time() - began < 5:
        scripted.send(type="rate_limits.updated", event_id="e9", rate_limits=[])
        await asyncio.sleep(0.2)  # sleep-ok: paces the stimulus, waits for nothing
    with pytest.raises(ConnectError, match="did not start a session within 1 s"):
        await task
    assert loop.time() - began < 2
    scripted.release_update.set()  # let the scripted handler finish
