"""Device handling through the real audio stack: listing, choices, a device that will not
run at 24 kHz, and a sound server that disappears mid-session."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.audio_bed import SCRIPT, AudioBed, read_wav
from tests.e2e.chat_harness import voicelive_command, wait_for_line
from tests.e2e.sound_analysis import sound_span

pytestmark = pytest.mark.e2e

VANISH_BOUND_S = 3.0
"""From `virtual-audio.sh down` returning to the client's exit."""


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*voicelive_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_devices_lists_what_portaudio_sees(audio_bed: AudioBed, tmp_path: Path) -> None:
    result = run_cli(["devices"], audio_bed.env, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Input devices:") and "Output devices:" in out
    assert "pulse" in out and "*" in out  # the ALSA→Pulse device, and a default marked
    assert "host API" in out
    [pulse_line] = [
        line for line in out.split("Output devices:")[0].splitlines() if "pulse" in line
    ]
    assert " ALSA " in pulse_line  # each device with its host API
    assert result.stderr == ""  # ALSA's probing chatter does not reach the user


def test_a_device_choice_that_matches_nothing_lists_the_choices(
    audio_bed: AudioBed, tmp_path: Path
) -> None:
    result = run_cli(
        ["chat", "--simulate", "--input-device", "no-such-mic", "--log-file", "none"],
        audio_bed.env,
        tmp_path,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "--input-device 'no-such-mic' matches no input device; choose one of:" in line
    assert "pulse" in line


def test_an_unknown_host_api_names_the_ones_there_are(audio_bed: AudioBed, tmp_path: Path) -> None:
    result = run_cli(
        ["chat", "--simulate", "--input-device", "pulse@CoreAudio", "--log-file", "none"],
        audio_bed.env,
        tmp_path,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "--input-device 'pulse@CoreAudio': no host API with input devices matches" in line
    assert "ALSA" in line


def test_name_at_host_api_opens_that_device(audio_bed: AudioBed, tmp_path: Path) -> None:
    log = tmp_path / "vl.log"
    proc = subprocess.Popen(
        [
            *voicelive_command(),
            "chat",
            "--simulate",
            "--input-device",
            "PULSE@alsa",
            "--output-device",
            "pulse@ALSA",
            "--log-file",
            str(log),
        ],
        env=audio_bed.env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_line(proc, "[listening]", timeout=20)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    text = log.read_text()
    # an index, not None (PortAudio's default): the named device was chosen and opened
    assert re.search(r"microphone open: device=\d+ ", text), text[-2000:]
    assert re.search(r"speaker open: device=\d+ ", text), text[-2000:]


@pytest.fixture
def private_bed(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A second PulseAudio daemon of this test's own, so stopping it harms no other test."""
    directory = tmp_path / "pulse"
    up = subprocess.run(
        ["bash", str(SCRIPT), "up", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "VOICELIVE_AUDIO_INSTALL": "0"},
        check=False,
    )
    if up.returncode != 0:
        pytest.fail(f"could not start a private PulseAudio daemon: {up.stderr.strip()}")
    env = dict(os.environ)
    for line in up.stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value.strip("'\"")
    yield env
    subprocess.run(
        ["bash", str(SCRIPT), "down", str(directory)], capture_output=True, timeout=30, check=False
    )


def test_sound_server_disappearing_ends_with_one_line_and_exit_8(
    audio_bed: AudioBed, private_bed: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "vl.log"
    proc = subprocess.Popen(
        [*voicelive_command(), "chat", "--simulate", "--log-file", str(log)],
        env=private_bed,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_line(proc, "[listening]", timeout=20)
        stopped = time.monotonic()
        subprocess.run(
            ["bash", str(SCRIPT), "down", private_bed["VOICELIVE_AUDIO_DIR"]],
            capture_output=True,
            timeout=30,
            check=True,
        )
        code = proc.wait(timeout=VANISH_BOUND_S + 5)
        took = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read() if proc.stderr else ""
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    print(f"[figure] sound server stopped -> client exited in {took * 1000:.0f} ms")
    assert code == 8 and took < VANISH_BOUND_S
    # whichever stream noticed first names itself; either way it is one line
    [line] = stderr.strip().splitlines()
    assert line in (
        f"error: The {which} stopped working (device removed or sound server gone); "
        "check it and start voicelive again."
        for which in ("microphone", "speaker")
    )
    assert "Traceback" not in stderr
    assert "websocket closed (code=1000" in log.read_text()  # still an orderly shutdown


def test_devices_opened_at_48k_are_resampled_both_ways(
    audio_bed: AudioBed, speech: Callable[[str], Path], tmp_path: Path
) -> None:
    spoken = speech("Testing the microphone at forty eight kilohertz")
    spoken_samples, _ = read_wav(spoken)
    spoken_span = sound_span(spoken_samples)
    assert spoken_span is not None
    log = tmp_path / "vl.log"
    with audio_bed.record_speaker() as recorder:
        proc = subprocess.Popen(
            [
                *voicelive_command(),
                "chat",
                "--simulate",
                "--device-rate",
                "48000",
                "--log-file",
                str(log),
            ],
            env=audio_bed.env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for_line(proc, "[listening]", timeout=20)
            mark = recorder.index_at(time.monotonic())
            audio_bed.play_into_mic(spoken).wait(timeout=30)
            onset = recorder.wait_for_sound(after=mark, timeout=15)
            assert onset is not None, "the reply never reached the speaker"
            end = recorder.wait_for_silence(after=onset, silence_s=0.5, timeout=15)
            assert end is not None
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
    text = log.read_text()
    assert "microphone open: device=None rate=48000" in text
    assert "speaker open: device=None rate=48000" in text
    reply_s = (end - onset) / 24_000
    spoken_s = (spoken_span[1] - spoken_span[0]) / 24_000
    print(f"[figure] 48 kHz devices: spoken {spoken_s:.2f} s, reply heard {reply_s:.2f} s")
    assert abs(reply_s - spoken_s) < 0.4
