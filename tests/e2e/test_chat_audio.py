"""The real client, the real simulator, real audio: ``voicelive chat`` heard and spoken to.

Each test starts ``voicelive simulate`` (a subprocess) and ``voicelive chat`` in a private tmux
terminal with the audio bed's ``PULSE_SERVER``, plays espeak-ng speech into the virtual
microphone and records the virtual speaker. The simulator parrots each user turn back, so the
reply on the speaker must be the user's own audio: that is what these tests compare.
Measured figures are printed (``pytest -s`` or ``-rA`` shows them).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.audio_bed import AudioBed, SpeakerRecorder, read_wav, with_noise_floor, write_wav
from tests.e2e.chat_harness import (
    Simulator,
    TmuxClient,
    audio_sent,
    events_of,
    read_record,
    report,
    session_members,
    voicelive_command,
    wait_for,
)
from tests.e2e.sound_analysis import RATE, Samples, find_envelope, find_waveform, gaps, sound_span

pytestmark = pytest.mark.e2e

API_KEY = "test-key"
SENTENCE = "The quick brown fox jumps over the lazy dog"
STORY = "Once upon a time a little robot listened to long stories about the sea"
INTERRUPTION = "Wait, stop please"
NOISE_DB = -56.0
"""Detection level for signals carrying the -48 dBFS noise floor of ``with_noise_floor``."""
NOISE_LEAD_S = 0.6
MARGIN = RATE // 10
READY_TIMEOUT_S = 20.0
QUIT_BOUND_S = 3.0
"""How long a quit (q + Enter, SIGINT, Ctrl+C) may take until the process has exited."""
SILENCE_BOUND_S = 0.6
"""Barge-in: from the interruption's first sound in the microphone to a silent speaker. The
simulator needs 200 ms of voiced audio (``speech_duration_ms``) before ``speech_started``."""
TRUNCATE_TOLERANCE_MS = 40
"""``audio_end_ms`` against the audio that reached the speaker recording."""


def client_env(bed: AudioBed) -> dict[str, str]:
    """The bed's environment without any voicelive configuration of the person running tests."""
    prefixes = ("AZURE_VOICELIVE_", "AZURE_VOICE_LIVE_", "VOICELIVE_", "VOICE_LIVE_")
    return {k: v for k, v in bed.env.items() if not k.startswith(prefixes)}


@dataclass
class Chat:
    """A running client/simulator pair with the speaker being recorded."""

    bed: AudioBed
    recorder: SpeakerRecorder
    simulator: Simulator
    client: TmuxClient
    record: Path
    log: Path

    def context(self) -> str:
        """What the terminal, the log and the simulator show: for assertion messages."""
        log = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return (
            f"\n--- client terminal ---\n{self.client.screen().rstrip()}"
            f"\n--- client log (tail) ---\n{log[-3000:]}"
            f"\n--- simulator output ---\n{''.join(self.simulator.output)[-2000:]}"
        )

    def wait_event(
        self, event_type: str, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until the record holds ``count`` events of ``event_type``; return them."""
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = events_of(self.record, event_type)
            return len(found) >= count

        assert wait_for(seen, timeout), f"no {event_type} in the record{self.context()}"
        return found

    def quit_for_stats(self) -> str:
        """Quit the client (q + Enter) and return its playback statistics line from the log.

        The counters (underruns, drops, flushes) tell a client fault from a bed fault when a
        recording shows a gap.
        """
        self.client.send_keys("q", "Enter")
        assert self.client.wait_exit(QUIT_BOUND_S) is not None, f"no exit{self.context()}"
        lines = self.log.read_text(errors="replace").splitlines()
        stats = [line.split(": ", 1)[-1] for line in lines if "playback:" in line]
        print(f"[client] {stats[-1] if stats else '(no playback statistics in the log)'}")
        return stats[-1] if stats else ""

    def play(self, wav: Path) -> float:
        """Play a WAV into the microphone until it has drained; returns the start time."""
        start = time.monotonic()
        player = self.bed.play_into_mic(wav)
        assert player.wait(timeout=30) == 0, "paplay failed"
        return start


@pytest.fixture
def chat(audio_bed: AudioBed, tmux: str, tmp_path: Path) -> Iterator[Chat]:
    """``voicelive chat`` against ``voicelive simulate``, streaming from the virtual mic."""
    env = client_env(audio_bed)
    record = tmp_path / "record.jsonl"
    log = tmp_path / "voicelive.log"
    with audio_bed.record_speaker() as recorder, Simulator(record, env) as simulator:
        args = [
            *voicelive_command(),
            "chat",
            *("--endpoint", simulator.url, "--api-key", API_KEY),
            *("--log-file", str(log), "--prebuffer-ms", "40"),
        ]
        started = time.monotonic()
        with TmuxClient(args, env, tmp_path) as client:
            session = Chat(audio_bed, recorder, simulator, client, record, log)

            def streaming_or_dead() -> bool:
                if client.exit_status() != (None, None):
                    return True
                return any(
                    f.event["type"] == "input_audio_buffer.append" for f in read_record(record)
                )

            wait_for(streaming_or_dead, READY_TIMEOUT_S, interval=0.05)
            assert client.exit_status() == (None, None), f"the client exited{session.context()}"
            assert events_of(record, "input_audio_buffer.append"), (
                f"the client did not stream audio within {READY_TIMEOUT_S} s{session.context()}"
            )
            report("client start -> microphone audio streaming", time.monotonic() - started)
            yield session
            if client.exit_status() == (None, None):
                client.send_keys("q", "Enter")
                client.wait_exit(QUIT_BOUND_S)


def noisy_wav(
    speech: Callable[..., Path], text: str, path: Path, words_per_minute: int = 160
) -> tuple[Path, Samples]:
    """``text`` as speech inside a noise floor (see ``with_noise_floor``), written to ``path``."""
    spoken = read_wav(speech(text, words_per_minute))[0]
    samples = with_noise_floor(spoken, lead_s=NOISE_LEAD_S)
    return write_wav(path, samples), samples


def test_spoken_turn_is_parroted_to_the_speaker(chat: Chat, speech: Callable[..., Path]) -> None:
    wav = speech(SENTENCE)
    spoken = read_wav(wav)[0]
    span = sound_span(spoken)
    assert span is not None
    spoken = spoken[span[0] : span[1]]
    after = chat.recorder.index_at(time.monotonic())
    start = chat.play(wav)
    speech_end = start + span[1] / RATE

    onset = chat.recorder.wait_for_sound(after=after, timeout=10)
    assert onset is not None, f"no reply reached the speaker{chat.context()}"
    end = chat.recorder.wait_for_silence(after=onset, silence_s=0.4, timeout=15)
    assert end is not None, f"the reply never ended{chat.context()}"
    # Margins around the reply so the whole spoken template fits at every plausible lag.
    heard = chat.recorder.samples()[onset - MARGIN : end + MARGIN]

    envelope_r, _ = find_envelope(spoken, heard)
    ncc, _ = find_waveform(spoken, heard)
    sent_ms = sum(audio_sent(chat.record).values()) / 2 / RATE * 1000
    stats = chat.quit_for_stats()
    report("end of speech -> reply heard (includes 500 ms end-of-turn silence)",
           chat.recorder.time_at(onset) - speech_end)  # fmt: skip
    print(f"[measure] reply vs speech: envelope r {envelope_r:.4f}, waveform ncc {ncc:.4f}; "
          f"{(end - onset) / RATE:.3f} s heard, {len(spoken) / RATE:.3f} s spoken, "
          f"{sent_ms / 1000:.3f} s sent with its leading silence")  # fmt: skip
    gap_list = gaps(chat.recorder.samples()[onset:end], threshold_db=-90.0)
    assert envelope_r > 0.9, f"client: {stats}; digital-silence runs {gap_list}"
    assert ncc > 0.9, f"client: {stats}; digital-silence runs {gap_list}"
    assert abs(end - onset - len(spoken)) / RATE < 0.05
    # The key never reaches the log or the record in clear.
    assert API_KEY not in chat.log.read_text(errors="replace")
    assert API_KEY not in chat.record.read_text(errors="replace")


def test_barge_in_silences_the_speaker_and_truncates_what_was_heard(
    chat: Chat, speech: Callable[..., Path], tmp_path: Path
) -> None:
    long_wav, _ = noisy_wav(speech, SENTENCE, tmp_path / "long.wav")
    interruption = speech(INTERRUPTION)
    interruption_samples = read_wav(interruption)[0]
    interruption_span = sound_span(interruption_samples)
    assert interruption_span is not None

    after = chat.recorder.index_at(time.monotonic())
    chat.play(long_wav)
    reply_start = chat.recorder.wait_for_sound(after=after, timeout=10, threshold_db=NOISE_DB)
    assert reply_start is not None, f"no reply reached the speaker{chat.context()}"
    # Interrupt once a second of the reply has been heard.
    assert chat.recorder.wait_for_duration(reply_start / RATE + 1.0, timeout=5)
    barge_start = time.monotonic()
    player = chat.bed.play_into_mic(interruption)
    interruption_onset = barge_start + interruption_span[0] / RATE

    cut = chat.recorder.wait_for_silence(
        after=reply_start, silence_s=0.2, timeout=10, threshold_db=NOISE_DB
    )
    assert player.wait(timeout=10) == 0
    assert cut is not None, f"the speaker never fell silent{chat.context()}"
    heard_ms = (cut - reply_start) * 1000 / RATE
    silenced_after = report(
        "interruption starts -> speaker silent", chat.recorder.time_at(cut) - interruption_onset
    )
    assert silenced_after < SILENCE_BOUND_S, f"speaker silenced too late{chat.context()}"

    truncate = chat.wait_event("conversation.item.truncate", timeout=5)[0]
    frames = read_record(chat.record)
    started_t = [f.t for f in frames if f.event["type"] == "input_audio_buffer.speech_started"]
    truncate_t = [f.t for f in frames if f.event["type"] == "conversation.item.truncate"]
    if len(started_t) >= 2 and truncate_t and started_t[1] is not None and truncate_t[0]:
        # Both stamps are the simulator's clock: the client's reaction, network included.
        report("speech_started sent -> truncate received", truncate_t[0] - started_t[1])
    print(f"[measure] truncate audio_end_ms {truncate['audio_end_ms']}, "
          f"reply heard on the speaker {heard_ms:.1f} ms")  # fmt: skip
    assert abs(truncate["audio_end_ms"] - heard_ms) <= TRUNCATE_TOLERANCE_MS
    assert truncate.get("content_index", 0) == 0

    sent = audio_sent(chat.record)
    first_item = next(iter(sent))
    assert truncate["item_id"] == first_item, "the truncate names another item"
    assert truncate["audio_end_ms"] < sent[first_item] / 2 / RATE * 1000, "nothing was cut"

    # What plays next is the parrot of the interruption, not the rest of the first reply.
    next_onset = chat.recorder.wait_for_sound(after=cut, timeout=10)
    assert next_onset is not None, f"no reply to the interruption{chat.context()}"
    next_end = chat.recorder.wait_for_silence(after=next_onset, silence_s=0.3, timeout=10)
    assert next_end is not None, f"the second reply never ended{chat.context()}"
    following = chat.recorder.samples()[next_onset - MARGIN : next_end + MARGIN]
    spoken = interruption_samples[interruption_span[0] : interruption_span[0] + RATE // 2]
    ncc, _ = find_waveform(spoken, following)
    print(f"[measure] reply after barge-in vs interruption: waveform ncc {ncc:.4f}")
    assert ncc > 0.9


def test_long_reply_plays_without_loss_duplication_or_gaps(
    chat: Chat, speech: Callable[..., Path], tmp_path: Path
) -> None:
    wav, spoken = noisy_wav(speech, STORY, tmp_path / "story.wav", words_per_minute=220)
    after = chat.recorder.index_at(time.monotonic())
    chat.play(wav)
    start = chat.recorder.wait_for_sound(after=after, timeout=10, threshold_db=NOISE_DB)
    assert start is not None, f"no reply reached the speaker{chat.context()}"
    end = chat.recorder.wait_for_silence(
        after=start, silence_s=0.3, timeout=15, threshold_db=NOISE_DB
    )
    assert end is not None, f"the reply never ended{chat.context()}"
    reply = chat.recorder.samples()[start:end]

    # The reply item runs from inside the leading noise (prefix padding < NOISE_LEAD_S) to the
    # end of the last voiced frame. Compare it in 250 ms pieces: each must be found exactly
    # 250 ms after the previous one, so a dropped, repeated or late block anywhere shows.
    piece = RATE // 4
    first = int(NOISE_LEAD_S * RATE)
    _, offset = find_waveform(spoken[first : first + piece], reply)
    item_start = first - offset  # where the reply item begins in the spoken signal
    offsets: list[int] = []
    worst = 1.0
    for begin in range(item_start, item_start + len(reply) - piece + 1, piece):
        ncc, offset = find_waveform(spoken[begin : begin + piece], reply)
        worst = min(worst, ncc)
        offsets.append(offset)
    steps = sorted({int(step) for step in np.diff(offsets)})
    sent = sum(audio_sent(chat.record).values()) // 2
    silent_runs = gaps(reply, threshold_db=-60.0)
    stats = chat.quit_for_stats()
    print(f"[measure] long reply: {len(reply) / RATE:.3f} s heard, {sent / RATE:.3f} s sent; "
          f"{len(offsets)} pieces, worst ncc {worst:.4f}, piece steps {steps}, "
          f"silent gaps {silent_runs}")  # fmt: skip
    assert len(offsets) >= 12
    assert worst > 0.99, f"client: {stats}"
    assert offsets[0] == 0 and steps == [piece], f"audio dropped or repeated; client: {stats}"
    assert silent_runs == [], f"playback ran dry inside the reply; client: {stats}"
    assert abs(len(reply) - sent) / RATE < 0.01, f"heard and sent durations differ; {stats}"


def _quit_and_check(chat: Chat, how: str, expected: int) -> None:
    pid, sid = chat.client.pid, chat.client.sid
    before = session_members(sid)
    started = time.monotonic()
    if how == "q":
        chat.client.send_keys("q", "Enter")
    elif how == "ctrl-c":
        chat.client.send_keys("C-c")
    else:
        os.kill(pid, signal.SIGINT)
    status = chat.client.wait_exit(QUIT_BOUND_S)
    elapsed = time.monotonic() - started
    assert status is not None, f"still running {QUIT_BOUND_S} s after {how}{chat.context()}"
    report(f"quit with {how} -> process exited", elapsed)
    code, sig = status
    assert (code, sig) == (expected, None), f"exit {code}, signal {sig}{chat.context()}"
    # The terminal's session holds the wrapper (it exits right after recording the status),
    # the client and anything the client started; nothing may outlive the client.
    clean = wait_for(lambda: not session_members(sid), 2.0)
    assert clean, f"processes left behind: {session_members(sid)} (before quit: {before})"


@pytest.mark.parametrize(("how", "expected"), [("q", 0), ("sigint", 130), ("ctrl-c", 130)])
def test_quit_while_listening(chat: Chat, how: str, expected: int) -> None:
    _quit_and_check(chat, how, expected)


def test_quit_with_q_mid_reply(chat: Chat, speech: Callable[..., Path]) -> None:
    after = chat.recorder.index_at(time.monotonic())
    chat.play(speech(SENTENCE))
    onset = chat.recorder.wait_for_sound(after=after, timeout=10)
    assert onset is not None, f"no reply reached the speaker{chat.context()}"
    _quit_and_check(chat, "q", 0)
    # The reply stops with the process: the speaker is silent from shortly after the exit on.
    exited = chat.recorder.index_at(time.monotonic())
    assert chat.recorder.wait_for_duration(exited / RATE + 0.3, timeout=5)
    tail = chat.recorder.samples()[exited + RATE // 10 :]
    assert sound_span(tail) is None, "the speaker kept playing after the client exited"
