"""A session's first reply through a jittery link at real time, on the real speaker.

``voicelive chat`` with default settings, in its own process, plays through PortAudio into
the virtual sound card; it reaches ``voicelive simulate --speedup 1`` (a reply delivered at
real time: a slow service or network) through ``tests/impaired_link.py`` with 100 ms of
one-way delay and 0-60 ms of jitter. The spoken turn carries a noise floor, so the parrot's
reply is audible in every sample and what the client failed to play is digital silence in
the recording of the speaker (``tests/reply_audio.py``): underruns as heard. Where the client
concealed a hole (the reply's last pitch period, fading: not silence), its log says how much,
and that is not the reply's audio: it is taken out of what was heard before comparing.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.audio_bed import AudioBed
from tests.e2e.chat_harness import (
    Simulator,
    audio_sent,
    client_env,
    events_of,
    quit_with_q,
    voicelive_command,
    wait_for,
)
from tests.e2e.sound_analysis import RATE
from tests.impaired_link import ImpairedLink, ThreadedLink
from tests.reply_audio import heard_until, noisy_speech, onset_after, played_out_ms

pytestmark = pytest.mark.e2e

SEEDS = (11, 12, 13, 14)
GAPS_BOUND_MS = 20.0
HOLES_BOUND_MS = 40.0
"""Silence and concealment together: a concealed hole is softer than silence, not absent."""
MEASURED_MS = 30.0
"""The reply heard (sound minus gaps) must match the audio sent within this: the whole reply
was measured, so a gap cannot hide outside the window."""


def first_delta_read(link: ImpairedLink, since: float) -> float | None:
    """When the relay read the server's first audio delta after ``since`` (monotonic)."""
    return next((d.read_at for d in link.delivered if d.audio_deltas and d.read_at >= since), None)


def concealed_ms(log: Path) -> tuple[float, float]:
    """(ms concealed inside the first reply, ms after its last audio): the client's log."""
    line = next(x for x in log.read_text(errors="replace").splitlines() if "played out:" in x)
    inside, after, _ = played_out_ms(line)
    return inside, after


def first_reply(
    bed: AudioBed, env: dict[str, str], wav: Path, work: Path, seed: int
) -> tuple[float, float, float, float, float]:
    """(gaps, heard, sent, playout of the first sound, concealed) in ms of one session's
    first reply; heard is its sound less gaps and concealment."""
    record, log = work / "record.jsonl", work / "voicelive.log"
    with (
        bed.record_speaker() as rec,
        Simulator(record, env, "--speedup", "1") as sim,
        ThreadedLink(sim.port, delay_ms=100, jitter_ms=60, seed=seed) as link,
    ):
        proc = subprocess.Popen(
            [*voicelive_command(), "chat", "--endpoint", link.endpoint, "--api-key", "k"],
            cwd=work,  # default settings: the log is ./voicelive.log
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_for(
                lambda: (
                    proc.poll() is not None or bool(events_of(record, "input_audio_buffer.append"))
                ),
                30,
            ), "the client did not stream its microphone"
            assert proc.poll() is None, "the client exited"
            started = time.monotonic()
            mark = rec.index_at(started)
            assert bed.play_into_mic(wav).wait(timeout=30) == 0
            onset = onset_after(rec, mark, 20.0)
            assert onset is not None, "no reply on the speaker"
            assert wait_for(lambda: "played out:" in log.read_text(errors="replace"), 30)
            heard = heard_until(rec, onset, time.monotonic() + 0.25)
            assert heard is not None
            end, gaps = heard
            read_at = first_delta_read(link, started)
            assert read_at is not None, "the relay saw no audio delta"
            playout = (rec.time_at(onset) - read_at) * 1000
        finally:
            if proc.poll() is None:
                quit_with_q(proc)
    sent = sum(audio_sent(record).values()) / 2 / RATE * 1000
    inside, after = concealed_ms(log)
    return gaps, end * 1000 / RATE - gaps - inside - after, sent, playout, inside


def test_the_first_reply_through_100_ms_and_60_ms_of_jitter_at_real_time_has_few_gaps(
    audio_bed: AudioBed, tmp_path: Path
) -> None:
    wav, _ = noisy_speech("The quick brown fox jumps over the lazy dog", tmp_path / "turn.wav")
    env = client_env(audio_bed.env)
    results = {}
    for seed in SEEDS:
        work = tmp_path / f"seed{seed}"
        work.mkdir()
        results[seed] = first_reply(audio_bed, env, wav, work, seed)
        gaps, heard, sent, playout, concealed = results[seed]
        print(f"[measure] seed {seed}: first reply gaps {gaps:.1f} ms, concealed {concealed:.0f} "
              f"ms, heard {heard:.0f} ms of {sent:.0f} ms sent, first delta -> first sound "
              f"{playout:.0f} ms")  # fmt: skip
    for seed, (gaps, heard, sent, _, _) in results.items():
        assert abs(heard - sent) <= MEASURED_MS, f"seed {seed}: the reply was not measured whole"
        assert gaps <= GAPS_BOUND_MS, f"seed {seed}: {results}"
    for seed, (gaps, _, _, _, concealed) in results.items():
        assert gaps + concealed <= HOLES_BOUND_MS, f"seed {seed}: {results}"
