"""The real client (run_chat, WAV audio) against the real simulator on 127.0.0.1:0.

No sound server is needed: ``--input-file``/``--output-file`` replace the devices, streamed in
real time, so the whole client path runs (connection, session set-up, sender, receiver,
conversation, jitter buffer, pacing). Faults come from the simulator's fault scenarios.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.chat_process import finish
from tests.fakes import RecordingView
from tests.simulator_helpers import best_correlation, silence, speech_like, utterance
from voicelive.chat import run_chat
from voicelive.config.settings import (
    AudioSettings,
    ConnectionSettings,
    LogSettings,
    Secret,
    Settings,
)
from voicelive.errors import ConnectionLost
from voicelive.quit import Quit
from voicelive.simulator import Simulator, SimulatorOptions

pytestmark = pytest.mark.slow  # the real client against the simulator, seconds each

RATE = 24_000


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (RATE, 1)
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.int16)


def settings(sim: Simulator, tmp_path: Path, input_wav: Path, **audio: Any) -> Settings:
    return Settings(
        connection=ConnectionSettings(endpoint=sim.endpoint, api_key=Secret("sim-key")),
        audio=AudioSettings(input_file=input_wav, output_file=tmp_path / "out.wav", **audio),
        log=LogSettings(log_file=None),
    )


def loud_span(samples: np.ndarray, level: int = 300) -> tuple[int, int]:
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > level)
    assert loud.size, "no sound at all"
    return int(loud[0]), int(loud[-1]) + 1


async def test_a_spoken_turn_comes_back_as_the_parrot_reply(tmp_path: Path) -> None:
    spoken = speech_like(1.5)
    wav = write_wav(tmp_path / "in.wav", np.concatenate([silence(0.4), spoken]))
    view = RecordingView()
    async with Simulator(SimulatorOptions(speedup=4.0)) as sim:
        code = await asyncio.wait_for(
            run_chat(settings(sim, tmp_path, wav), view=view, stdin_fd=None), 30
        )
        appends = [e for e in sim.received_events if e["type"] == "input_audio_buffer.append"]
    assert code == 0
    out = read_wav(tmp_path / "out.wav")
    start, end = loud_span(out)
    reply = out[start:end]
    # The reply is the user's utterance (plus the simulator's prefix padding): same length
    # within 0.5 s, and the spoken audio is found in it sample for sample.
    assert abs(len(reply) - len(spoken)) < RATE // 2
    assert best_correlation(reply, spoken[RATE // 10 : -RATE // 10]) > 0.99
    assert len(appends) >= 1.9 / 0.02  # 20 ms appends covering the whole file
    assert any(k == "status" and t.startswith("speaking") for k, t in view.lines)
    assert any(k == "user" for k, _ in view.lines)


async def test_input_at_another_rate_and_in_stereo_is_converted(tmp_path: Path) -> None:
    mono = speech_like(1.2, seed=3)
    at_48k = np.repeat(mono, 2)  # crude upsample: what matters is the client's conversion
    stereo = np.column_stack([at_48k, at_48k]).ravel()
    wav = write_wav(
        tmp_path / "in48.wav",
        np.concatenate([np.zeros(2 * 19200, np.int16), stereo]),
        rate=48_000,
        channels=2,
    )
    async with Simulator() as sim:
        code = await asyncio.wait_for(
            run_chat(settings(sim, tmp_path, wav), view=RecordingView(), stdin_fd=None), 30
        )
    assert code == 0
    start, end = loud_span(read_wav(tmp_path / "out.wav"))
    assert abs((end - start) / RATE - 1.2) < 0.5


def hiss(seconds: float, seed: int = 7) -> np.ndarray:
    """Quiet noise (about -60 dBFS): far below the VAD level, but never digital silence."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    return (rng.choice([-1, 1], n) * rng.integers(10, 60, n)).astype(np.int16)


async def test_barge_in_truncates_at_the_audio_that_was_played(tmp_path: Path) -> None:
    first = speech_like(3.0, seed=1)
    second = speech_like(0.8, seed=2)
    # The reply to the first utterance starts ~0.8 s after it ends; the second one begins
    # about 1.5 s into that reply. Pauses are hiss, not zeros, so every sample of the parrot
    # reply (its prefix padding included) is non-zero in the output file, while the output
    # file holds exact zeros wherever nothing was played.
    wav = write_wav(
        tmp_path / "in.wav", np.concatenate([hiss(0.6), first, hiss(2.3), second, hiss(0.5)])
    )
    view = RecordingView()
    async with Simulator(SimulatorOptions(speedup=4.0)) as sim:
        code = await asyncio.wait_for(
            run_chat(settings(sim, tmp_path, wav), view=view, stdin_fd=None), 40
        )
        truncates = [e for e in sim.received_events if e["type"] == "conversation.item.truncate"]
    assert code == 0
    assert len(truncates) == 1
    audio_end_ms = truncates[0]["audio_end_ms"]
    out = read_wav(tmp_path / "out.wav")
    start = int(np.flatnonzero(out)[0])
    # the end of playback: the first run of 5 ms of exact zeros (a waveform crosses zero
    # only for a sample or two)
    silent = np.convolve(out[start:] == 0, np.ones(120, dtype=int), "valid") == 120
    runs = np.flatnonzero(silent)
    played_ms = (int(runs[0]) if runs.size else len(out) - start) * 1000 // RATE
    assert 500 < audio_end_ms < 3500
    assert abs(audio_end_ms - played_ms) <= 20, (audio_end_ms, played_ms)
    assert any("interrupted" in text for _, text in view.lines)


@pytest.mark.parametrize(
    ("fault", "words"),
    [("drop-mid-reply", "dropped"), ("close-1011", "1011"), ("expire", "session expired")],
)
async def test_without_reconnect_connection_faults_end_with_connection_lost(
    tmp_path: Path, fault: str, words: str
) -> None:
    wav = write_wav(tmp_path / "in.wav", utterance(1.0, tail_s=4.0))
    options = SimulatorOptions(fault=fault, fault_after_s=0.8)
    async with Simulator(options) as sim:
        s = settings(sim, tmp_path, wav)
        s = dataclasses.replace(s, connection=dataclasses.replace(s.connection, reconnect=False))
        with pytest.raises(ConnectionLost, match=words):
            await asyncio.wait_for(run_chat(s, view=RecordingView(), stdin_fd=None), 30)
    assert (tmp_path / "out.wav").exists()  # the output file was closed properly


@pytest.mark.parametrize(
    ("fault", "expect_kind", "expect_text"),
    [
        ("malformed-frame", "warning", "malformed"),
        ("binary-frame", "warning", "binary frame"),
        ("unknown-event", None, None),
        ("huge-event", None, None),
        ("benign-error", None, None),
        ("serious-error", "error", "service error"),
    ],
)
async def test_odd_frames_and_errors_do_not_end_the_session(
    tmp_path: Path, fault: str, expect_kind: str | None, expect_text: str | None
) -> None:
    spoken = speech_like(1.0)
    wav = write_wav(tmp_path / "in.wav", np.concatenate([silence(0.3), spoken]))
    view = RecordingView()
    async with Simulator(SimulatorOptions(fault=fault, fault_after_s=0.3)) as sim:
        code = await asyncio.wait_for(
            run_chat(settings(sim, tmp_path, wav), view=view, stdin_fd=None), 30
        )
    assert code == 0
    errors = [(k, t) for k, t in view.lines if k in ("error", "warning")]
    if expect_kind is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0][0] == expect_kind and expect_text in errors[0][1]
    start, end = loud_span(read_wav(tmp_path / "out.wav"))
    assert abs((end - start) / RATE - 1.0) < 0.5  # the reply still arrived whole


async def test_sigint_while_session_created_is_late(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "in.wav", utterance(0.5))
    view = RecordingView()
    async with Simulator(SimulatorOptions(fault="slow-session-created", fault_after_s=30)) as sim:
        quit = Quit()
        task = asyncio.create_task(
            run_chat(settings(sim, tmp_path, wav), view=view, stdin_fd=None, quit=quit)
        )
        await view.wait_for("status", "starting session")
        quit.signal(130, "Ctrl+C")  # what the SIGINT handler calls; pytest is not signalled
        assert await asyncio.wait_for(task, 5) == 130


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (401, 3, "refused the credential"),
        (403, 3, "role"),
        (404, 4, "check --endpoint"),
        (429, 4, "throttling"),
    ],
)
async def test_handshake_refusals_through_the_cli(
    tmp_path: Path, status: int, code: int, words: str
) -> None:
    async with Simulator(SimulatorOptions(fault=f"http-{status}")) as sim:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voicelive",
            "chat",
            "--endpoint",
            sim.endpoint,
            "--api-key",
            "secret-key-value-123",
            "--input-file",
            str(write_wav(tmp_path / "in.wav", utterance(0.3))),
            "--output-file",
            str(tmp_path / "o.wav"),
            "--log-file",
            str(tmp_path / "vl.log"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        out, err = await finish(proc, 30)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == code
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0]
    assert "secret-key-value-123" not in err.decode() + out.decode()
    assert "secret-key-value-123" not in (tmp_path / "vl.log").read_text()


def session_settings(sim: Simulator, tmp_path: Path, wav: Path, **turn: Any) -> Settings:
    from voicelive.config.settings import SessionSettings, TurnDetectionSettings

    base = settings(sim, tmp_path, wav)
    modalities = turn.pop("modalities", ("text", "audio"))
    return Settings(
        connection=base.connection,
        session=SessionSettings(
            modalities=modalities, turn_detection=TurnDetectionSettings(**turn)
        ),
        audio=base.audio,
        log=base.log,
    )


async def test_a_setting_the_service_rejects_ends_with_its_message(tmp_path: Path) -> None:
    # The CLI refuses this range before connecting; built directly, it reaches the service.
    from voicelive.errors import ServerError

    wav = write_wav(tmp_path / "in.wav", utterance(0.3))
    async with Simulator() as sim:
        with pytest.raises(ServerError, match=r"parameter: session\.turn_detection\.threshold"):
            await asyncio.wait_for(
                run_chat(
                    session_settings(sim, tmp_path, wav, threshold=1.5),
                    view=RecordingView(),
                    stdin_fd=None,
                ),
                15,
            )


async def test_auto_truncate_leaves_truncation_to_the_service(tmp_path: Path) -> None:
    import json

    first, second = speech_like(3.0, seed=1), speech_like(0.8, seed=2)
    wav = write_wav(
        tmp_path / "in.wav",
        np.concatenate([silence(0.3), first, silence(2.3), second, silence(0.3)]),
    )
    record = tmp_path / "frames.jsonl"
    view = RecordingView()
    async with Simulator(SimulatorOptions(record_path=record)) as sim:
        code = await asyncio.wait_for(
            run_chat(
                session_settings(sim, tmp_path, wav, auto_truncate=True), view=view, stdin_fd=None
            ),
            40,
        )
        sent = [e["type"] for e in sim.received_events]
        update = await sim.wait_for_event("session.update")
    frames = [json.loads(line) for line in record.read_text().splitlines()]
    served = [f["event"]["type"] for f in frames if f["dir"] == "out"]
    assert code == 0
    assert update["session"]["turn_detection"]["auto_truncate"] is True
    assert "conversation.item.truncated" in served  # the service cut the reply itself
    assert "conversation.item.truncate" not in sent  # and the client did not cut it again
    assert any("interrupted" in text for _, text in view.lines)  # the user still sees it


async def test_manual_turns_commit_when_the_input_ends(tmp_path: Path) -> None:
    spoken = speech_like(1.0)
    wav = write_wav(tmp_path / "in.wav", np.concatenate([silence(0.2), spoken]))
    async with Simulator() as sim:
        code = await asyncio.wait_for(
            run_chat(
                session_settings(sim, tmp_path, wav, vad_type=None),
                view=RecordingView(),
                stdin_fd=None,
            ),
            30,
        )
        sent = [e["type"] for e in sim.received_events]
    assert code == 0
    assert sent.index("input_audio_buffer.commit") < sent.index("response.create")
    start, end = loud_span(read_wav(tmp_path / "out.wav"))
    assert best_correlation(read_wav(tmp_path / "out.wav")[start:end], spoken[2400:-2400]) > 0.99


async def test_text_only_replies_are_shown_and_not_played(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "in.wav", utterance(1.0, tail_s=0.2))
    view = RecordingView()
    async with Simulator() as sim:
        code = await asyncio.wait_for(
            run_chat(
                session_settings(sim, tmp_path, wav, modalities=("text",)), view=view, stdin_fd=None
            ),
            30,
        )
    assert code == 0
    assert "".join(t for k, t in view.lines if k == "assistant").startswith("You said")
    assert not np.any(read_wav(tmp_path / "out.wav"))  # nothing was played
