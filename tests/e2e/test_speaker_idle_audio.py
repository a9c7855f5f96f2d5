"""The speaker plays only when there is something to play, through the real audio stack.

``voicelive chat`` (default settings) against ``voicelive simulate``: while it listens its
speaker stream must not run (PulseAudio shows its playback stream corked, or none); a spoken
turn brings the parrot's reply, which must start the stream and be heard; once the reply has
played out the stream must stop again, and the next reply must start it again. PulseAudio's
own view (``pactl list sink-inputs``) is the judge: a running PortAudio output stream is an
uncorked sink input of the client's process.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.audio_bed import AudioBed, SpeakerRecorder
from tests.e2e.chat_harness import Simulator, events_of, voicelive_command, wait_for

pytestmark = pytest.mark.e2e

STOP_BOUND_S = 3.0
"""From the end of a reply on the speaker to its stream stopped (the client waits 0.3-0.6 s)."""


def client_env(bed: AudioBed) -> dict[str, str]:
    prefixes = ("AZURE_VOICELIVE_", "AZURE_VOICE_LIVE_", "VOICELIVE_", "VOICE_LIVE_")
    return {k: v for k, v in bed.env.items() if not k.startswith(prefixes)}


def playing_streams(bed: AudioBed, pid: int) -> int:
    """Uncorked PulseAudio playback streams of process ``pid``."""
    listing = subprocess.run(
        ["pactl", "list", "sink-inputs"],
        env=bed.env,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    running = 0
    for block in listing.split("Sink Input #")[1:]:
        if f'application.process.id = "{pid}"' in block and "Corked: no" in block:
            running += 1
    return running


class Client:
    def __init__(self, proc: subprocess.Popen[bytes], record: Path, log: Path) -> None:
        self.proc = proc
        self.record = record
        self.log = log

    def context(self) -> str:
        log = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return f"\n--- client log (tail) ---\n{log[-3000:]}"


@pytest.fixture
def client(audio_bed: AudioBed, tmp_path: Path) -> Iterator[Client]:
    env = client_env(audio_bed)
    record = tmp_path / "record.jsonl"
    log = tmp_path / "voicelive.log"
    with Simulator(record, env) as simulator:
        proc = subprocess.Popen(
            [*voicelive_command(), "chat", "--endpoint", simulator.url, "--api-key", "k"],
            cwd=tmp_path,  # default settings: the log is ./voicelive.log
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            appends = lambda: len(events_of(record, "input_audio_buffer.append"))  # noqa: E731
            # 1 s of listening: long past the speaker's set-up
            wait_for(lambda: proc.poll() is not None or appends() >= 50, 30, interval=0.05)
            assert proc.poll() is None, "the client exited"
            yield Client(proc, record, log)
        finally:
            if proc.poll() is None:
                assert proc.stdin is not None
                proc.stdin.write(b"q\n")
                proc.stdin.close()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)


def reply_to(
    bed: AudioBed, rec: SpeakerRecorder, wav: Path, client: Client, pid: int
) -> tuple[int, bool]:
    """Speak ``wav``; return where the reply starts on the speaker and whether the client's
    stream was running while it played."""
    bed.play_into_mic(wav).wait(timeout=30)
    onset = rec.wait_for_sound(rec.index_at(time.monotonic()), timeout=15)
    assert onset is not None, f"no reply on the speaker{client.context()}"
    return onset, wait_for(lambda: playing_streams(bed, pid) > 0, 2.0)


def test_speaker_runs_only_while_a_reply_plays(
    audio_bed: AudioBed, client: Client, speech: Callable[..., Path]
) -> None:
    pid = client.proc.pid
    assert playing_streams(audio_bed, pid) == 0, (
        f"the speaker runs while listening{client.context()}"
    )
    wav = speech("Hello there")
    with audio_bed.record_speaker() as rec:
        for turn in range(2):
            onset, ran = reply_to(audio_bed, rec, wav, client, pid)
            assert ran, f"turn {turn + 1}: no running speaker stream while the reply played"
            end = rec.wait_for_silence(onset, silence_s=0.4, timeout=15)
            assert end is not None, f"turn {turn + 1}: the reply never ended{client.context()}"
            assert wait_for(lambda: playing_streams(audio_bed, pid) == 0, STOP_BOUND_S), (
                f"turn {turn + 1}: the speaker kept running after the reply{client.context()}"
            )
    played = [line for line in client.log.read_text().splitlines() if "played out:" in line]
    assert len(played) == 2, client.context()
