"""``voicelive doctor`` through the real process, the virtual sound card and a simulator: room
noise in the microphone gives a clean bill, a wrong key fails the handshake (exit 9), the
speaker-to-microphone loop gives the echo warning with its delay, digital silence the zeros
warning."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.audio_bed import SCRIPT, AudioBed, with_noise_floor, write_wav
from tests.e2e.chat_harness import client_env, voicelive_command
from voicelive.simulator import Simulator
from voicelive.simulator.options import SimulatorOptions

pytestmark = pytest.mark.e2e

LOOP_DELAY_MS = 40
NAMES = [
    "python", "packages", "portaudio", "devices", "microphone-level", "headset", "echo",
    "endpoint", "tls", "credential", "handshake",
]  # fmt: skip


def doctor_env(bed: AudioBed, tmp_path: Path) -> dict[str, str]:
    """The bed's environment, with an empty config file: none of the tester's settings."""
    config = tmp_path / "config.toml"
    config.touch()
    return {**client_env(bed.env), "VOICELIVE_CONFIG": str(config)}


def run_doctor(bed: AudioBed, tmp_path: Path, *flags: str) -> tuple[int, dict[str, dict[str, Any]]]:
    result = subprocess.run(
        [*voicelive_command(), "doctor", "--json", *flags],
        env=doctor_env(bed, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    checks = json.loads(result.stdout)
    assert [c["name"] for c in checks] == NAMES, result.stderr
    return result.returncode, {c["name"]: c for c in checks}


@pytest.fixture
def room_noise(audio_bed: AudioBed, tmp_path: Path) -> Iterator[None]:
    """-48 dBFS room noise playing into the virtual microphone for the whole test."""
    wav = write_wav(tmp_path / "room.wav", with_noise_floor(np.zeros(0, np.int16), 30.0, 0.0))
    player = audio_bed.play_into_mic(wav)
    try:
        yield
    finally:
        player.terminate()
        player.wait(timeout=10)


@pytest.fixture
def echo_loop(audio_bed: AudioBed) -> Iterator[None]:
    directory = audio_bed.directory or audio_bed.vars.get("VOICELIVE_AUDIO_DIR")
    if directory is None:
        pytest.skip("the audio bed was started elsewhere without VOICELIVE_AUDIO_DIR")

    def script(*args: str) -> None:
        result = subprocess.run(
            ["bash", str(SCRIPT), *args], env=audio_bed.env, capture_output=True, text=True,
            timeout=30, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"virtual-audio.sh {args[0]}: {result.stderr}"

    script("loop-on", str(directory), str(LOOP_DELAY_MS), "0.3")
    try:
        yield
    finally:
        script("loop-off", str(directory))


@pytest.mark.usefixtures("room_noise")
def test_room_noise_and_the_simulator_give_a_clean_bill(
    audio_bed: AudioBed, tmp_path: Path
) -> None:
    code, checks = run_doctor(audio_bed, tmp_path, "--simulate")
    assert {name: c["status"] for name, c in checks.items()} == dict.fromkeys(NAMES, "ok")
    assert code == 0
    assert "24000 Hz, no resampling" in checks["devices"]["detail"]
    assert "the room: peak" in checks["microphone-level"]["detail"]
    assert "x-ms-client-request-id" in checks["handshake"]["detail"]
    assert "simulator" not in json.dumps(checks)  # the simulator's key is never shown


@pytest.mark.usefixtures("room_noise")
async def test_a_wrong_key_fails_the_handshake_with_exit_9(
    audio_bed: AudioBed, tmp_path: Path
) -> None:
    async with Simulator(SimulatorOptions(api_key="the-right-key")) as sim:
        proc = await asyncio.create_subprocess_exec(
            *voicelive_command(), "doctor", "--json", "--endpoint", sim.endpoint,
            "--api-key", "a-wrong-key-123",
            env=doctor_env(audio_bed, tmp_path), cwd=tmp_path,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 9, err
    checks = {c["name"]: c for c in json.loads(out)}
    assert checks["credential"]["status"] == "ok"  # a key is there ...
    assert checks["handshake"]["status"] == "fail"  # ... and the service refuses it
    assert "refused the credential (HTTP 401" in checks["handshake"]["fix"]
    assert b"a-wrong-key-123" not in out + err


@pytest.mark.usefixtures("room_noise", "echo_loop")
def test_the_speaker_loop_gives_the_echo_warning(audio_bed: AudioBed, tmp_path: Path) -> None:
    code, checks = run_doctor(audio_bed, tmp_path, "--simulate")
    echo = checks["echo"]
    assert echo["status"] == "warn"
    assert "--echo-reference" in echo["fix"]
    delay = int(echo["detail"].split("came back after ")[1].split(" ms")[0])
    # PulseAudio holds the loop near, not at, its latency (32-44 ms seen) plus the streams'
    assert LOOP_DELAY_MS - 15 <= delay <= LOOP_DELAY_MS + 60, echo["detail"]
    assert code == 0  # a warning is not a failure


def test_digital_silence_gives_the_zeros_warning(audio_bed: AudioBed, tmp_path: Path) -> None:
    code, checks = run_doctor(audio_bed, tmp_path, "--simulate")
    level = checks["microphone-level"]
    assert level["status"] == "warn"
    assert "exact zeros" in level["detail"]
    assert "--input-device" in level["fix"]
    assert checks["echo"]["status"] == "ok"
    assert code == 0


def test_no_endpoint_still_checks_the_sound_and_fails_the_endpoint(
    audio_bed: AudioBed, tmp_path: Path
) -> None:
    code, checks = run_doctor(audio_bed, tmp_path)
    assert code == 9
    assert checks["devices"]["status"] == "ok"
    assert checks["endpoint"]["status"] == "fail"
    assert "AZURE_VOICELIVE_ENDPOINT" in checks["endpoint"]["fix"]
    assert checks["handshake"]["detail"].startswith("not checked")
