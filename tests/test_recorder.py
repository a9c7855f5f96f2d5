"""``--record``: the stereo WAV recorder (a real file, and a real process that dies mid-run)."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from voicelive.audio.echo_reference import EchoLink
from voicelive.audio.recorder import HEADER_BYTES, ConversationRecorder, wav_header
from voicelive.errors import ConfigError


def stereo_block(k: int, frames: int = 480) -> bytes:
    """Frames whose left channel counts up from ``k * frames`` and right channel counts down."""
    left = np.arange(k * frames, (k + 1) * frames) % 30000
    block = np.stack([left, -left], axis=1).astype("<i2")
    return block.tobytes()


def read_wav(path: Path) -> tuple[int, int, int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
        shape = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
    return (*shape, np.frombuffer(frames, "<i2").reshape(-1, shape[0]))


def test_records_stereo_24khz_pcm16_with_mic_left_and_reference_right(tmp_path: Path) -> None:
    path = tmp_path / "talk.wav"
    with ConversationRecorder(path) as recorder:
        for k in range(10):
            recorder.write(stereo_block(k))
    channels, width, rate, samples = read_wav(path)
    assert (channels, width, rate) == (2, 2, 24_000)
    assert samples.shape == (4800, 2)
    assert list(samples[:3, 0]) == [0, 1, 2] and list(samples[:3, 1]) == [0, -1, -2]
    assert recorder.seconds == pytest.approx(0.2)
    assert path.stat().st_size == HEADER_BYTES + 4800 * 4, "header and samples, nothing else"
    assert path.read_bytes()[:HEADER_BYTES] == wav_header(4800 * 4)


def test_the_file_is_valid_while_it_is_being_written(tmp_path: Path) -> None:
    path = tmp_path / "talk.wav"
    with ConversationRecorder(path) as recorder:
        recorder.write(stereo_block(0))
        assert read_wav(path)[3].shape == (480, 2)
        recorder.write(stereo_block(1))
        assert read_wav(path)[3].shape == (960, 2)


def test_a_process_that_dies_without_closing_leaves_a_valid_file(tmp_path: Path) -> None:
    """``os._exit`` skips every ``finally``: what a second Ctrl+C or a kill does."""
    path = tmp_path / "talk.wav"
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from voicelive.audio.recorder import ConversationRecorder\n"
        "recorder = ConversationRecorder(Path(sys.argv[1])).__enter__()\n"
        "for k in range(25):\n"
        "    recorder.write(bytes(range(256)) * 15)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)
    channels, _, _, samples = read_wav(path)
    assert channels == 2 and samples.shape == (25 * 960, 2)


def test_writes_outside_the_recording_are_ignored_and_close_is_idempotent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "talk.wav"
    recorder = ConversationRecorder(path)
    recorder.write(stereo_block(0))  # not open yet
    with recorder:
        recorder.write(stereo_block(0))
    recorder.close()
    recorder.write(stereo_block(1))
    assert read_wav(path)[3].shape == (480, 2)


def test_a_partial_frame_is_a_programming_error(tmp_path: Path) -> None:
    with ConversationRecorder(tmp_path / "talk.wav") as recorder, pytest.raises(ValueError):
        recorder.write(b"\0\0")


def test_a_missing_folder_or_unwritable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ConversationRecorder(tmp_path / "nowhere" / "talk.wav").__enter__()
    with pytest.raises(ConfigError, match="Cannot write --record"):
        ConversationRecorder(tmp_path).__enter__()  # a folder, not a file


def test_fed_by_the_echo_link_it_records_the_same_pairs(tmp_path: Path) -> None:
    path = tmp_path / "talk.wav"
    with ConversationRecorder(path) as recorder:
        link = EchoLink(stereo=False, record=recorder.write)
        link.reference.played(np.full(480, 1000, "<i2").tobytes(), 48_000)
        mic = np.full(480, -7, "<i2").tobytes()
        assert link.pair(mic, 48_000 - 240) == mic, "the mono block is handed on unchanged"
    samples = read_wav(path)[3]
    assert (samples[:, 0] == -7).all()
    assert not samples[:240, 1].any() and (samples[240:, 1] == 1000).all()
