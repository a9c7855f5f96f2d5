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
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.audio_bed import AudioBed, SpeakerRecorder
from tests.e2e.chat_harness import ListeningClient, wait_for

pytestmark = pytest.mark.e2e

STOP_BOUND_S = 3.0
"""From the end of a reply on the speaker to its stream stopped (the client waits 0.3-0.6 s)."""


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


def reply_to(
    bed: AudioBed, rec: SpeakerRecorder, wav: Path, client: ListeningClient, pid: int
) -> tuple[int, bool]:
    """Speak ``wav``; return where the reply starts on the speaker and whether the client's
    stream was running while it played."""
    bed.play_into_mic(wav).wait(timeout=30)
    onset = rec.wait_for_sound(rec.index_at(time.monotonic()), timeout=15)
    assert onset is not None, f"no reply on the speaker{client.context()}"
    return onset, wait_for(lambda: playing_streams(bed, pid) > 0, 2.0)


def test_speaker_runs_only_while_a_reply_plays(
    audio_bed: AudioBed, listening_client: ListeningClient, speech: Callable[..., Path]
) -> None:
    client = listening_client
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
