"""Typed messages, /mute, --greet, --transcript, --stats-json and the latency shown.

run_chat against the scripted scripted on 127.0.0.1:0 (tests/scripted_server.py), with the
keyboard fed through a real pipe and the audio ends driven by hand (tests/fakes.py).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.chat_process import finish, spawn_chat
from tests.fakes import FakeAudio, RecordingView
from tests.scripted_server import Scripted
from tests.test_chat_scripted import delta, settings
from voicelive.chat import run_chat
from voicelive.config.settings import Settings
from voicelive.errors import EXIT_INTERRUPTED
from voicelive.quit import Quit


class Chat:
    """A running chat with a keyboard pipe."""

    def __init__(self, s: Settings) -> None:
        self.audio, self.view, self.quit = FakeAudio(), RecordingView(), Quit()
        self.read_fd, self.write_fd = os.pipe()
        self.task = asyncio.create_task(
            run_chat(s, view=self.view, audio=self.audio, stdin_fd=self.read_fd, quit=self.quit)
        )

    def type(self, line: str) -> None:
        os.write(self.write_fd, line.encode() + b"\n")

    async def stop(self) -> int:
        self.quit.signal(EXIT_INTERRUPTED, "Ctrl+C")
        code = await asyncio.wait_for(self.task, 5)
        os.close(self.write_fd)
        os.close(self.read_fd)
        return code


def reply_started(scripted: Scripted, rid: str = "resp_1", iid: str = "item_1") -> None:
    scripted.send(type="response.created", event_id="e2", response={"id": rid, "output": []})
    scripted.send(
        type="response.audio_transcript.delta",
        event_id="e3",
        response_id=rid,
        item_id=iid,
        output_index=0,
        content_index=0,
        delta="Let me tell you a long story",
    )
    scripted.send(**delta(rid, iid, b"\x11\x00" * 4800))  # 200 ms


async def test_a_typed_message_interrupts_the_reply_then_is_sent_and_answered(
    scripted: Scripted,
) -> None:
    chat = Chat(settings(scripted.port))
    await asyncio.wait_for(chat.audio.opened.wait(), 5)
    reply_started(scripted)
    await chat.view.wait_for("assistant", "long story")
    assert chat.audio.speaker_ is not None
    chat.audio.speaker_.play_ms(50)
    chat.type("what time is it?")
    assert await chat.view.wait_for("typed", "what time is it?") == "what time is it?"
    cancel = await scripted.wait_for("response.cancel")
    truncate = await scripted.wait_for("conversation.item.truncate")
    created = await scripted.wait_for("conversation.item.create")
    assert cancel["response_id"] == "resp_1"
    assert (truncate["item_id"], truncate["audio_end_ms"]) == ("item_1", 50)
    assert created["item"] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "what time is it?"}],
    }
    # the reply is asked for only once the cancelled one is done (the service refuses two)
    assert not [e for e in scripted.received if e["type"] == "response.create"]
    scripted.send(
        type="response.done", event_id="e5", response={"id": "resp_1", "status": "cancelled"}
    )
    await scripted.wait_for("response.create")
    kinds = [e["type"] for e in scripted.received]
    assert kinds.index("conversation.item.truncate") < kinds.index("conversation.item.create")
    assert await chat.stop() == 130


async def test_muted_audio_never_reaches_the_service(scripted: Scripted) -> None:
    chat = Chat(settings(scripted.port))
    await asyncio.wait_for(chat.audio.opened.wait(), 5)
    mic = chat.audio.mic
    assert mic is not None
    chat.type("/mute")
    assert await chat.view.wait_for("muted") == "on"
    for _ in range(10):
        mic.sink(b"\x07\x00" * 480)  # spoken while muted
    chat.type("/unmute")
    assert await chat.view.wait_for("muted") == "off"
    mic.sink(b"\x01\x00" * 480)
    append = await scripted.wait_for("input_audio_buffer.append")
    assert base64.b64decode(append["audio"]) == b"\x01\x00" * 480  # the first one sent
    assert await chat.stop() == 130


async def test_help_and_unknown_commands_answer_on_screen(scripted: Scripted) -> None:
    chat = Chat(settings(scripted.port))
    await asyncio.wait_for(chat.audio.opened.wait(), 5)
    chat.type("/help")
    assert "/mute" in await chat.view.wait_for("info", "/unmute")
    chat.type("/frobnicate")
    assert await chat.view.wait_for("warning") == "/frobnicate is not a command; /help lists them"
    assert not [e for e in scripted.received if e["type"] == "conversation.item.create"]
    assert await chat.stop() == 130


async def test_greet_asks_for_the_first_reply_with_its_instructions(scripted: Scripted) -> None:
    s = dataclasses.replace(settings(scripted.port), greet=True, greet_instructions="Say hi")
    chat = Chat(s)
    create = await scripted.wait_for("response.create")
    assert create["response"] == {"instructions": "Say hi"}
    kinds = [e["type"] for e in scripted.received]
    assert kinds.index("session.update") < kinds.index("response.create")
    assert await chat.stop() == 130


async def test_transcript_stats_and_latency_of_a_turn(scripted: Scripted, tmp_path: Path) -> None:
    s = dataclasses.replace(
        settings(scripted.port),
        transcript=tmp_path / "t.jsonl",
        stats_json=tmp_path / "stats.json",
    )
    chat = Chat(s)
    await asyncio.wait_for(chat.audio.opened.wait(), 5)
    speaker = chat.audio.speaker_
    assert speaker is not None
    scripted.send(
        type="input_audio_buffer.speech_started", event_id="s1", audio_start_ms=0, item_id="u1"
    )
    scripted.send(
        type="input_audio_buffer.speech_stopped", event_id="s2", audio_end_ms=900, item_id="u1"
    )
    scripted.send(
        type="conversation.item.input_audio_transcription.completed",
        event_id="s3",
        item_id="u1",
        content_index=0,
        transcript="tell me a story",
    )
    await chat.view.wait_for("status", "thinking")
    reply_started(scripted)
    await chat.view.wait_for("assistant", "long story")
    speaker.play_ms(80)
    speaking = await chat.view.wait_for("status", "speaking")
    assert "⏱" in speaking and speaking.endswith(" ms")
    chat.type("stop there")  # interrupts: heard 80 of 200 ms
    await scripted.wait_for("conversation.item.create")
    assert await chat.stop() == 130
    lines = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [(e["role"], e["text"], e["typed"]) for e in lines] == [
        ("user", "tell me a story", False),
        ("assistant", "Let me tell you a long story", False),
        ("user", "stop there", True),
    ]
    cut: dict[str, Any] = lines[1]
    assert (cut["interrupted"], cut["heard_ms"], cut["total_ms"]) == (True, 80, 200)
    assert cut["latency_ms"] >= 0
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["turns_count"] == 1 and stats["interrupted"] == 1
    assert stats["turns"][0]["latency_ms"] == cut["latency_ms"]
    assert stats["latency_ms_median"] == cut["latency_ms"]
    summary = [text for kind, text in chat.view.lines if kind == "info" and "reply" in text]
    assert summary and summary[0].startswith("1 reply (1 interrupted)")


@pytest.mark.parametrize("suffix", [".md", ".jsonl"])
async def test_the_transcript_is_complete_after_ctrl_c(tmp_path: Path, suffix: str) -> None:
    import signal

    from tests.test_fault_matrix import KEY, two_turns
    from voicelive.simulator import Simulator, SimulatorOptions

    transcript = tmp_path / f"t{suffix}"
    async with Simulator(SimulatorOptions(api_key=KEY)) as sim:
        proc = await spawn_chat(
            sim.endpoint,
            "--input-file",
            str(two_turns(tmp_path / "in.wav")),
            "--output-file",
            str(tmp_path / "out.wav"),
            "--log-file",
            "none",
            "--transcript",
            str(transcript),
            api_key=KEY,
        )
        assert proc.stdout is not None
        async with asyncio.timeout(30):  # guard: the first reply comes within a few seconds
            while not (await proc.stdout.readline()).startswith(b"assistant:"):
                pass
        proc.send_signal(signal.SIGINT)  # the child, never pytest
        _, stderr = await finish(proc, 10)
    assert proc.returncode == 130, stderr
    text = transcript.read_text()
    if suffix == ".jsonl":
        entries = [json.loads(line) for line in text.splitlines()]
        assert [e["role"] for e in entries] == ["user", "assistant"]
        assert entries[1]["text"].startswith("You said something")
    else:
        assert text.startswith("# voicelive conversation")
        assert "**You**:" in text and "**Assistant**: You said something" in text
    assert KEY not in text


async def test_greet_and_a_typed_message_through_the_simulator(tmp_path: Path) -> None:
    import wave

    from tests.test_fault_matrix import KEY
    from voicelive.simulator import Simulator, SimulatorOptions

    quiet = tmp_path / "quiet.wav"
    with wave.open(str(quiet), "wb") as wav:  # 20 s of silence: the run ends by q + Enter
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(bytes(2 * 24_000 * 20))
    async with Simulator(SimulatorOptions(api_key=KEY)) as sim:
        proc = await spawn_chat(
            sim.endpoint,
            "--input-file",
            str(quiet),
            "--output-file",
            str(tmp_path / "out.wav"),
            "--log-file",
            "none",
            "--greet",
            api_key=KEY,
            stdin=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stdin is not None
        seen: list[str] = []

        async def until(prefix: str) -> str:
            assert proc.stdout is not None
            async with asyncio.timeout(20):
                while True:
                    line = (await proc.stdout.readline()).decode()
                    seen.append(line)
                    if line.startswith(prefix):
                        return line

        greeting = await until("assistant:")
        proc.stdin.write(b"what is the capital of Norway\n")
        await proc.stdin.drain()
        typed = await until("you (typed):")
        answer = await until("assistant:")
        await until("[listening]")  # the answer has been played to its end
        proc.stdin.write(b"q\n")
        await proc.stdin.drain()
        _, stderr = await finish(proc, 10)
    assert proc.returncode == 0, stderr
    assert "Hello" in greeting
    assert typed.strip() == "you (typed): what is the capital of Norway"
    assert 'You wrote: "what is the capital of Norway"' in answer
    import numpy as np

    with wave.open(str(tmp_path / "out.wav"), "rb") as wav:  # both replies were played
        played = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert np.count_nonzero(np.abs(played.astype(np.int32)) > 300) > 24_000  # over 1 s of voice


async def test_latency_counts_from_where_the_speech_ended_in_the_audio_sent(
    scripted: Scripted, tmp_path: Path
) -> None:
    s = settings(scripted.port)
    td = dataclasses.replace(s.session.turn_detection, silence_duration_ms=500)
    s = dataclasses.replace(
        s,
        stats_json=tmp_path / "stats.json",
        session=dataclasses.replace(s.session, turn_detection=td),
    )
    chat = Chat(s)
    await asyncio.wait_for(chat.audio.opened.wait(), 5)
    mic, speaker = chat.audio.mic, chat.audio.speaker_
    assert mic is not None and speaker is not None
    for _ in range(50):  # 1 s of audio sent
        mic.sink(b"\x01\x00" * 480)
    for _ in range(50):
        await scripted.wait_for("input_audio_buffer.append")
    # audio_end_ms is 600 ms before the end of what was sent, and the speech itself ended the
    # confirmed silence_duration_ms (500) before audio_end_ms
    scripted.send(
        type="input_audio_buffer.speech_stopped", event_id="s2", audio_end_ms=400, item_id="u1"
    )
    await chat.view.wait_for("status", "thinking")
    reply_started(scripted)
    await chat.view.wait_for("assistant", "long story")
    speaker.play_ms(20)
    speaking = await chat.view.wait_for("status", "speaking")
    assert await chat.stop() == 130
    latency = json.loads((tmp_path / "stats.json").read_text())["turns"][0]["latency_ms"]
    assert 1100 <= latency < 2500, latency
    assert speaking == f"speaking · ⏱ {latency} ms"


async def test_a_reply_whose_words_ended_before_its_audio_is_written_once_heard(
    scripted: Scripted, tmp_path: Path
) -> None:
    s = dataclasses.replace(settings(scripted.port), transcript=tmp_path / "t.jsonl")
    chat = Chat(s)
    await asyncio.wait_for(chat.audio.opened.wait(), 5)
    speaker = chat.audio.speaker_
    assert speaker is not None
    reply_started(scripted)
    scripted.send(
        type="response.audio_transcript.done",
        event_id="e4",
        response_id="resp_1",
        item_id="item_1",
        output_index=0,
        content_index=0,
        transcript="Let me tell you a long story",
    )  # all the words are in; the audio has barely started
    await chat.view.wait_for("assistant_end")
    speaker.play_ms(60)
    assert (tmp_path / "t.jsonl").read_text() == ""  # not yet known how much will be heard
    chat.type("enough")
    await scripted.wait_for("conversation.item.create")
    assert await chat.stop() == 130
    lines = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [(e["role"], e.get("interrupted"), e.get("heard_ms")) for e in lines] == [
        ("assistant", True, 60),
        ("user", None, None),
    ]
