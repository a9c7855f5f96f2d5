"""``--resume FILE.jsonl``: an earlier transcript becomes the first session's history."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from tests.scripted_server import Scripted
from tests.test_chat_scripted import settings
from tests.test_features import Chat
from voicelive.errors import ConfigError
from voicelive.protocol.history import History
from voicelive.transcript_file import TranscriptFile
from voicelive.transcript_resume import load_history


def yesterday(path: Path) -> Path:
    """A transcript as --transcript writes it: two turns, a cut reply, a tool call, a torn end."""
    with TranscriptFile(path) as transcript:
        transcript.user("my name is Ada", typed=True)
        transcript.assistant("Hello Ada.", interrupted=False, heard_ms=None, total_ms=None,
                             latency_ms=420)  # fmt: skip
        transcript.user("tell me about lighthouses", typed=False)
        transcript.assistant("Lighthouses guide ships at night along dangerous coasts.",
                             interrupted=True, heard_ms=1000, total_ms=2000,
                             latency_ms=None)  # fmt: skip
        transcript.tool({"role": "tool", "name": "codes.lookup_code"}, "**Tool** ...")
    with path.open("a", encoding="utf-8") as torn:
        torn.write('{"role": "user", "text": "cut off by a cra')  # the process died mid-line
    return path


def test_the_turns_go_into_the_history_in_order_a_cut_reply_as_heard(tmp_path: Path) -> None:
    history = History()
    assert load_history(yesterday(tmp_path / "y.jsonl"), history) == 4
    replay = history.replay(max_turns=20, max_chars=8000)
    assert replay.turns == [
        ("user", "my name is Ada"),
        ("assistant", "Hello Ada."),
        ("user", "tell me about lighthouses"),
        ("assistant", "Lighthouses guide ships at"),  # half of it was heard
    ]


def test_an_unreadable_file_is_one_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\xff\xfe not text")
    with pytest.raises(ConfigError, match=r"Cannot read --resume .*bad\.jsonl"):
        load_history(bad, History())


async def test_the_first_session_is_told_the_earlier_turns_before_anything_else(
    scripted: Scripted, tmp_path: Path
) -> None:
    path = yesterday(tmp_path / "y.jsonl")
    s = dataclasses.replace(settings(scripted.port), resume=path, transcript=path)
    chat = Chat(s)
    await asyncio.wait_for(chat.audio.opened.wait(), 5)
    assert "resumed 4 turn(s) from y.jsonl" in await chat.view.wait_for("info", "resumed")
    for _ in range(4):
        await scripted.wait_for("conversation.item.create")
    chat.type("what is my name?")
    await scripted.wait_for("response.create")
    items = [e["item"] for e in scripted.received if e["type"] == "conversation.item.create"]
    texts = [(i["role"], i["content"][0]["text"]) for i in items]
    assert texts == [
        ("user", "my name is Ada"),
        ("assistant", "Hello Ada."),
        ("user", "tell me about lighthouses"),
        ("assistant", "Lighthouses guide ships at"),
        ("user", "what is my name?"),
    ]
    kinds = [e["type"] for e in scripted.received]
    assert kinds.index("session.update") < kinds.index("conversation.item.create")
    assert await chat.stop() == 130
    # --transcript to the same file appends: yesterday's lines are still there, today's follow
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["text"] == "my name is Ada"
    assert json.loads(lines[-1])["text"] == "what is my name?"


@pytest.mark.slow
async def test_the_real_process_resumes_through_the_simulator(tmp_path: Path) -> None:
    import wave

    from tests.chat_process import finish, spawn_chat
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
            *("--input-file", str(quiet), "--output-file", str(tmp_path / "out.wav")),
            *("--log-file", "none", "--resume", str(yesterday(tmp_path / "y.jsonl"))),
            api_key=KEY,
            stdin=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stdin is not None

        async def until(prefix: str) -> str:
            assert proc.stdout is not None
            async with asyncio.timeout(20):
                while not (line := (await proc.stdout.readline()).decode()).startswith(prefix):
                    pass
                return line

        resumed = await until("resumed")
        proc.stdin.write(b"what is my name?\n")
        await proc.stdin.drain()
        await until("assistant:")
        proc.stdin.write(b"q\n")
        await proc.stdin.drain()
        _, stderr = await finish(proc, 10)
    assert proc.returncode == 0, stderr
    assert resumed.startswith("resumed 4 turn(s) from y.jsonl")
    sent = [e for e in sim.received_events if e["type"] != "input_audio_buffer.append"]
    kinds = [e["type"] for e in sent]
    first_reply = kinds.index("response.create")
    created = [e["item"]["content"][0]["text"] for e in sent[:first_reply]
               if e["type"] == "conversation.item.create"]  # fmt: skip
    assert created == [
        "my name is Ada",
        "Hello Ada.",
        "tell me about lighthouses",
        "Lighthouses guide ships at",
        "what is my name?",
    ]
