"""Every file voicelive writes is private to the user (issue 18): created 0600 under any
umask, and an existing file made 0600 when voicelive writes it again (POSIX)."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from voicelive import logs, private_files
from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.recorder import ConversationRecorder
from voicelive.audio.wavio import WavAudio
from voicelive.chat import _write_stats
from voicelive.config.settings import AudioSettings, LogSettings
from voicelive.transcript_file import TranscriptFile

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    """The common default: without care, new files are 0644 (readable by everyone)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def shared(path: Path, text: str = "old\n") -> Path:
    """An existing file readable by everyone."""
    path.write_text(text)
    path.chmod(0o644)
    return path


def test_the_openers_create_private_files(tmp_path: Path) -> None:
    with private_files.open_append_text(tmp_path / "a.txt") as text:
        text.write("x")
    with private_files.open_write_binary(tmp_path / "b.bin") as binary:
        binary.write(b"x")
    private_files.write_atomic_text(tmp_path / "c.json", "{}")
    assert [mode(tmp_path / n) for n in ("a.txt", "b.bin", "c.json")] == [0o600] * 3
    assert not (tmp_path / "c.json.tmp").exists()


def test_an_existing_file_is_made_private_when_written_again(tmp_path: Path) -> None:
    with private_files.open_append_text(shared(tmp_path / "a.txt")) as text:
        text.write("new\n")
    with private_files.open_write_binary(shared(tmp_path / "b.bin")) as binary:
        binary.write(b"new")
    private_files.write_atomic_text(shared(tmp_path / "c.json"), "{}")
    assert [mode(tmp_path / n) for n in ("a.txt", "b.bin", "c.json")] == [0o600] * 3
    assert (tmp_path / "a.txt").read_text() == "old\nnew\n"  # appended
    assert (tmp_path / "b.bin").read_bytes() == b"new"  # replaced


def test_a_stale_temporary_file_does_not_leak_its_mode(tmp_path: Path) -> None:
    shared(tmp_path / "c.json.tmp")
    private_files.write_atomic_text(tmp_path / "c.json", "{}")
    assert mode(tmp_path / "c.json") == 0o600


def test_the_log_is_private(tmp_path: Path) -> None:
    path = tmp_path / "voicelive.log"
    logs.configure(LogSettings(log_file=path))
    try:
        logging.getLogger("voicelive.test").warning("hello")
    finally:
        logs.shutdown()
    assert mode(path) == 0o600


def test_the_transcript_is_private(tmp_path: Path) -> None:
    with TranscriptFile(tmp_path / "talk.md"):
        pass
    with TranscriptFile(shared(tmp_path / "old.jsonl", "")):
        pass
    assert mode(tmp_path / "talk.md") == mode(tmp_path / "old.jsonl") == 0o600


def test_the_recording_is_private(tmp_path: Path) -> None:
    with ConversationRecorder(tmp_path / "talk.wav") as recorder:
        recorder.write(bytes(192))
    with ConversationRecorder(shared(tmp_path / "old.wav")):
        pass
    assert mode(tmp_path / "talk.wav") == mode(tmp_path / "old.wav") == 0o600


def test_the_stats_file_is_private(tmp_path: Path) -> None:
    _write_stats(tmp_path / "stats.json", {"turns": 1})
    _write_stats(shared(tmp_path / "old.json"), {"turns": 2})
    assert json.loads((tmp_path / "stats.json").read_text()) == {"turns": 1}
    assert mode(tmp_path / "stats.json") == mode(tmp_path / "old.json") == 0o600


async def test_the_wav_output_is_private(tmp_path: Path) -> None:
    path, heard = tmp_path / "reply.wav", tmp_path / "in.wav"
    with wave.open(str(heard), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(bytes(960))
    audio = WavAudio(AudioSettings(output_file=path, input_file=heard))
    audio.check()
    jitter = JitterBuffer(prefill_bytes=0, max_bytes=96_000)
    with audio.speaker(jitter, lambda notice: None):  # opens the file
        assert mode(path) == 0o600
    with wave.open(str(path), "rb") as wav:  # a whole WAV file, its header written at close
        assert wav.getframerate() == 24_000
