"""Open speakers, for real: the speaker's sound comes back into the microphone.

``scripts/virtual-audio.sh loop-on`` loads a PulseAudio loopback from the virtual speaker's
monitor into the microphone feed (:data:`LOOP_DELAY_MS` of latency, :data:`LOOP_VOLUME`
gain), so ``voicelive chat`` against ``voicelive simulate`` hears its own replies, through
real PortAudio streams. Without ``--echo-reference`` the simulator's VAD hears the reply and
the assistant interrupts itself; with it the client sends what it played on channel 1 and
the simulator cancels the echo, yet a user talking over the reply still stops it. ``--record``
is checked for its layout, its alignment and its validity after a SIGINT. Measured figures
are printed (``pytest -s`` or ``-rA`` shows them).

The client is the real CLI (``python -m voicelive chat …``) in its own process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.audio_bed import SCRIPT, AudioBed, SpeakerRecorder, read_wav, write_wav
from tests.e2e.chat_harness import Simulator, events_of, read_record, report, wait_for
from tests.e2e.sound_analysis import RATE, Samples, find_waveform, sound_span

pytestmark = pytest.mark.e2e

API_KEY = "test-key"
SENTENCE = "The quick brown fox jumps over the lazy dog"
STORY = "Once upon a time a little robot listened to long stories about the sea"
INTERRUPTION = "Wait, stop please"
LOOP_DELAY_MS = 40
LOOP_VOLUME = "0.3"
"""-10.5 dB: the echo of a -20 dBFS reply arrives near -30 dBFS, far above the simulator's
-40 dBFS voice threshold (it must hear itself without a reference)."""
READY_TIMEOUT_S = 20.0
QUIT_BOUND_S = 5.0
SILENCE_BOUND_S = 0.6
"""The barge-in bound of ``test_chat_audio``: interruption onset to a silent speaker."""
BLOCK = RATE * 20 // 1000
"""One microphone block (20 ms)."""


def client_env(bed: AudioBed | None) -> dict[str, str]:
    import os

    env = dict(bed.env) if bed is not None else dict(os.environ)
    prefixes = ("AZURE_VOICELIVE_", "AZURE_VOICE_LIVE_", "VOICELIVE_", "VOICE_LIVE_")
    return {k: v for k, v in env.items() if not k.startswith(prefixes)}


class Client:
    """``voicelive chat`` as a subprocess; output to a file."""

    def __init__(self, args: list[str], env: dict[str, str], out: Path) -> None:
        self._args = [sys.executable, "-m", "voicelive", "chat", *args]
        self._env = env
        self._out = out
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Client:
        with self._out.open("wb") as out:
            self.proc = subprocess.Popen(
                self._args, env=self._env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # only after a failed test: the tests quit it themselves
            self.proc.wait(timeout=10)

    def output(self) -> str:
        return self._out.read_text(errors="replace")[-3000:]

    def interrupt(self) -> int:
        """SIGINT to the client (as Ctrl+C); returns its exit code."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=QUIT_BOUND_S)
        report("SIGINT -> client exited", time.monotonic() - started)
        return code


@dataclass
class Chat:
    bed: AudioBed
    recorder: SpeakerRecorder
    simulator: Simulator
    client: Client
    record: Path
    log: Path

    def context(self) -> str:
        log = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return (
            f"\n--- client output ---\n{self.client.output()}"
            f"\n--- client log (tail) ---\n{log[-3000:]}"
            f"\n--- simulator output ---\n{''.join(self.simulator.output)[-2000:]}"
        )

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return events_of(self.record, event_type)

    def wait_events(self, event_type: str, count: int, timeout: float) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = self.events(event_type)
            return len(found) >= count

        assert wait_for(seen, timeout), f"fewer than {count} {event_type}{self.context()}"
        return found

    def play(self, wav: Path) -> float:
        """Play ``wav`` into the microphone until it has drained; returns its start time."""
        start = time.monotonic()
        assert self.bed.play_into_mic(wav).wait(timeout=30) == 0, "paplay failed"
        return start


@pytest.fixture
def echo_loop(audio_bed: AudioBed) -> Iterator[None]:
    """The speaker → microphone loop, on for one test."""
    directory = audio_bed.directory or audio_bed.vars.get("VOICELIVE_AUDIO_DIR")
    if directory is None:
        pytest.skip("the audio bed was started elsewhere without VOICELIVE_AUDIO_DIR")

    def script(*args: str) -> None:
        result = subprocess.run(
            ["bash", str(SCRIPT), *args],
            env=audio_bed.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, f"virtual-audio.sh {args[0]}: {result.stderr}"

    script("loop-on", str(directory), str(LOOP_DELAY_MS), LOOP_VOLUME)
    try:
        yield
    finally:
        script("loop-off", str(directory))


@contextmanager
def running_chat(bed: AudioBed, tmp_path: Path, *flags: str) -> Iterator[Chat]:
    env = client_env(bed)
    record = tmp_path / "record.jsonl"
    log = tmp_path / "voicelive.log"
    with bed.record_speaker() as recorder, Simulator(record, env) as simulator:
        args = [
            *("--endpoint", simulator.url, "--api-key", API_KEY),
            *("--log-file", str(log), "--prebuffer-ms", "40"),
            *flags,
        ]
        with Client(args, env, tmp_path / "client.out") as client:
            chat = Chat(bed, recorder, simulator, client, record, log)

            def streaming_or_dead() -> bool:
                assert client.proc is not None
                return client.proc.poll() is not None or bool(
                    events_of(record, "input_audio_buffer.append")
                )

            wait_for(streaming_or_dead, READY_TIMEOUT_S, interval=0.05)
            assert client.proc is not None and client.proc.poll() is None, (
                f"the client exited{chat.context()}"
            )
            assert chat.events("input_audio_buffer.append"), f"no audio{chat.context()}"
            yield chat


def _spoken(speech: Callable[..., Path], text: str) -> tuple[Path, Samples, tuple[int, int]]:
    wav = speech(text)
    samples = read_wav(wav)[0]
    span = sound_span(samples)
    assert span is not None
    return wav, samples, span


def _session_ok(chat: Chat, echo_reference: bool) -> None:
    """The session took (or did not take) the client reference, without an error."""
    updates = [f.event for f in read_record(chat.record) if f.event["type"] == "session.updated"]
    assert updates, f"no session.updated{chat.context()}"
    ec = updates[-1]["session"].get("input_audio_echo_cancellation") or {}
    assert (ec.get("reference_source") == "client") == echo_reference, ec
    assert not chat.events("error"), f"the simulator reported {chat.events('error')}"


# --------------------------------------------------------------------------------- the loop


@pytest.mark.usefixtures("echo_loop")
def test_without_the_reference_the_reply_comes_back_and_interrupts_itself(
    audio_bed: AudioBed, speech: Callable[..., Path], tmp_path: Path
) -> None:
    wav, _, _ = _spoken(speech, SENTENCE)
    with running_chat(audio_bed, tmp_path) as chat:
        _session_ok(chat, echo_reference=False)
        after = chat.recorder.index_at(time.monotonic())
        chat.play(wav)
        onset = chat.recorder.wait_for_sound(after=after, timeout=10)
        assert onset is not None, f"no reply reached the speaker{chat.context()}"
        # The user's turn, then the reply's own voice coming back through the loop.
        chat.wait_events("input_audio_buffer.speech_started", 2, timeout=10)
        done = chat.wait_events("response.done", 1, timeout=10)[0]["response"]
        assert done["status"] == "cancelled", done
        assert done["status_details"]["reason"] == "turn_detected", done
        cut = chat.recorder.wait_for_silence(after=onset, silence_s=0.2, timeout=10)
        assert cut is not None, f"the speaker never fell silent{chat.context()}"
        sent = chat.events("response.audio.delta")
        print(f"[measure] without the reference: the reply interrupted itself after "
              f"{(cut - onset) / RATE * 1000:.0f} ms ({len(sent)} deltas sent)")  # fmt: skip
        assert chat.client.interrupt() == 130


@pytest.mark.usefixtures("echo_loop")
def test_with_the_reference_the_reply_plays_to_the_end(
    audio_bed: AudioBed, speech: Callable[..., Path], tmp_path: Path
) -> None:
    wav, _, span = _spoken(speech, SENTENCE)
    with running_chat(audio_bed, tmp_path, "--echo-reference") as chat:
        _session_ok(chat, echo_reference=True)
        after = chat.recorder.index_at(time.monotonic())
        chat.play(wav)
        onset = chat.recorder.wait_for_sound(after=after, timeout=10)
        assert onset is not None, f"no reply reached the speaker{chat.context()}"
        end = chat.recorder.wait_for_silence(after=onset, silence_s=0.4, timeout=15)
        assert end is not None, f"the reply never ended{chat.context()}"
        done = chat.wait_events("response.done", 1, timeout=10)[0]["response"]
        # Everything the loop could still bring back has been heard by now.
        assert chat.recorder.wait_for_duration(end / RATE + 1.0, timeout=5)
        started = chat.events("input_audio_buffer.speech_started")
        heard_s, spoken_s = (end - onset) / RATE, (span[1] - span[0]) / RATE
        print(f"[measure] with the reference: reply heard {heard_s:.3f} s of "
              f"{spoken_s:.3f} s spoken; speech_started x{len(started)}")  # fmt: skip
        assert done["status"] == "completed", done
        assert len(started) == 1, f"a false barge-in{chat.context()}"
        assert abs(heard_s - spoken_s) < 0.05, "the reply was cut"
        assert chat.client.interrupt() == 130
        assert not chat.events("error")


@pytest.mark.usefixtures("echo_loop")
def test_with_the_reference_a_real_interruption_still_stops_the_reply(
    audio_bed: AudioBed, speech: Callable[..., Path], tmp_path: Path
) -> None:
    story, _, _ = _spoken(speech, STORY)
    interruption, _, interruption_span = _spoken(speech, INTERRUPTION)
    with running_chat(audio_bed, tmp_path, "--echo-reference") as chat:
        after = chat.recorder.index_at(time.monotonic())
        chat.play(story)
        reply_start = chat.recorder.wait_for_sound(after=after, timeout=10)
        assert reply_start is not None, f"no reply reached the speaker{chat.context()}"
        assert chat.recorder.wait_for_duration(reply_start / RATE + 1.0, timeout=5)
        assert len(chat.events("input_audio_buffer.speech_started")) == 1, "a false barge-in"
        barge = time.monotonic()
        player = chat.bed.play_into_mic(interruption)
        interruption_onset = barge + interruption_span[0] / RATE
        cut = chat.recorder.wait_for_silence(after=reply_start, silence_s=0.2, timeout=10)
        assert player.wait(timeout=10) == 0
        assert cut is not None, f"the speaker never fell silent{chat.context()}"
        silenced = report(
            "with the reference: interruption starts -> speaker silent",
            chat.recorder.time_at(cut) - interruption_onset,
        )
        assert silenced < SILENCE_BOUND_S, f"speaker silenced too late{chat.context()}"
        # (the simulator generates faster than real time: the reply is cut on the client)
        chat.wait_events("conversation.item.truncate", 1, timeout=5)
        assert chat.client.interrupt() == 130


def _record(path: Path) -> tuple[Samples, Samples]:
    """(microphone, reference) of a ``--record`` file, checked to be a whole stereo WAV."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
        frames = wav.getnframes()
        data = np.frombuffer(wav.readframes(frames), "<i2").reshape(-1, 2)
    assert path.stat().st_size == 44 + frames * 4, "the header covers exactly the samples"
    return data[:, 0].copy(), data[:, 1].copy()


def _lag(mic: Samples, ref: Samples, max_ms: int = 150) -> tuple[int, float]:
    """Lag (samples, 0..``max_ms``) of ``ref`` inside ``mic`` with the best normalised
    correlation, and that correlation. ``mic`` must be ``max_ms`` longer than ``ref``."""
    a = ref.astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(
        mic[: a.size + max_ms * RATE // 1000].astype(np.float64), a.size
    )
    ncc = windows @ a / (np.linalg.norm(windows, axis=1) * np.linalg.norm(a) + 1e-9)
    best = int(np.argmax(ncc))
    return best, float(ncc[best])


@pytest.mark.usefixtures("echo_loop")
def test_the_reference_lines_up_with_the_echo_in_the_microphone(
    audio_bed: AudioBed, speech: Callable[..., Path], tmp_path: Path
) -> None:
    """The record holds exactly what was sent. In it the echo (channel 0) follows the
    reference (channel 1) by the loop's latency plus the client's alignment error. PulseAudio
    keeps module-loopback at its configured latency (it reports 37.5 ms of buffer plus 3-6 ms
    of sink for 40 ms); a probe of the loop with raw PortAudio timestamps scattered 33-42 ms
    between runs, too noisy to judge a few milliseconds by."""
    wav, _, _ = _spoken(speech, STORY)
    record = tmp_path / "talk.wav"
    with running_chat(audio_bed, tmp_path, "--echo-reference", "--record", str(record)) as chat:
        after = chat.recorder.index_at(time.monotonic())
        chat.play(wav)
        onset = chat.recorder.wait_for_sound(after=after, timeout=10)
        assert onset is not None, f"no reply reached the speaker{chat.context()}"
        end = chat.recorder.wait_for_silence(after=onset, silence_s=0.4, timeout=20)
        assert end is not None, f"the reply never ended{chat.context()}"
        assert chat.client.interrupt() == 130
    mic, ref = _record(record)
    reply = sound_span(ref)
    assert reply is not None, "nothing on the reference channel"
    window = RATE // 10
    lags: list[float] = []
    voiced = 0
    for start in range(reply[0], reply[1] - window, window):
        piece = ref[start : start + window]
        if float(np.sqrt(np.mean(piece.astype(np.float64) ** 2))) < 300:  # a pause
            continue
        voiced += 1
        lag, ncc = _lag(mic[start:], piece)
        if ncc > 0.9:
            lags.append(lag * 1000 / RATE)
    assert voiced >= 20, "too little reply on the reference channel"
    median = float(np.median(lags))
    print(f"[measure] reference -> its echo in the microphone: median {median:.2f} ms, "
          f"range {min(lags):.2f}..{max(lags):.2f} ms over {len(lags)} of {voiced} voiced "
          f"100 ms windows; the loop is set to {LOOP_DELAY_MS} ms")  # fmt: skip
    assert len(lags) >= 0.9 * voiced, "the echo is not the reference (wrong pairing?)"
    # PulseAudio's loopback holds its latency near, not at, the value asked for (32-44 ms seen
    # for 40 ms, depending on load), and that is part of the acoustic path: what alignment
    # means for the canceller is that the offset stays put while the reply plays.
    # p10-p90: the loopback itself retunes its latency now and then (one 100 ms window at
    # +4.5 ms has been seen); a reference drifting against the played audio moves them all
    p10, p90 = np.percentile(lags, [10, 90])
    assert p90 - p10 < 3, "the reference drifts against the echo"
    assert abs(median - LOOP_DELAY_MS) < 12, "not lined up with what was played"
    assert max(lags) - min(lags) < 4, "the alignment moves during the reply"


# --------------------------------------------------------------------------------- --record


def test_record_holds_the_microphone_and_the_reply_lined_up_and_survives_sigint(
    audio_bed: AudioBed, speech: Callable[..., Path], tmp_path: Path
) -> None:
    wav, samples, span = _spoken(speech, SENTENCE)
    record = tmp_path / "talk.wav"
    with running_chat(audio_bed, tmp_path, "--record", str(record)) as chat:
        after = chat.recorder.index_at(time.monotonic())
        started = chat.play(wav)
        onset = chat.recorder.wait_for_sound(after=after, timeout=10)
        assert onset is not None, f"no reply reached the speaker{chat.context()}"
        end = chat.recorder.wait_for_silence(after=onset, silence_s=0.3, timeout=15)
        assert end is not None, f"the reply never ended{chat.context()}"
        # SIGINT while the conversation is still open: the file must be whole anyway.
        assert chat.client.interrupt() == 130
    mic, ref = _record(record)
    spoken = samples[span[0] : span[1]]
    ncc_mic, at_mic = find_waveform(spoken, mic)
    _, at_ref = find_waveform(spoken[: RATE // 4], ref)
    # The reply on the reference channel, in 100 ms pieces: each one there, in order. A clock
    # correction (applied in a pause) moves what follows by a millisecond or so; a piece
    # straddling that pause matches less well.
    piece = RATE // 10
    moved, scores = [], []
    for begin in range(0, spoken.size - piece, piece):
        ncc, at = find_waveform(spoken[begin : begin + piece], ref)
        scores.append(ncc)
        moved.append((at - at_ref - begin) * 1000 / RATE)
    exact = sum(score > 0.99 for score in scores)
    # The same interval measured outside the client: speech sent into the microphone (paplay
    # start + its onset in the file) to the reply's first sound on the speaker (parec).
    outside = chat.recorder.time_at(onset) - (started + span[0] / RATE)
    inside = (at_ref - at_mic) / RATE
    print(f"[measure] --record: mic vs spoken ncc {ncc_mic:.4f}; reply on the reference "
          f"channel: {exact} of {len(scores)} 100 ms pieces exact, moved "
          f"{min(moved):+.2f}..{max(moved):+.2f} ms; speech -> reply {inside * 1000:.0f} ms "
          f"in the file, {outside * 1000:.0f} ms outside (paplay/parec)")  # fmt: skip
    assert ncc_mic > 0.99, "the microphone channel is the speech that was sent"
    assert exact >= len(scores) - 3, "the reference channel is the reply as played"
    assert max(abs(x) for x in moved) < 5, "the reply's pieces are in place"
    assert abs(inside - outside) < 0.04, "mic and reply lined up within a block (+ bed slack)"
    assert not ref[:at_mic].any(), "nothing played before the user spoke: silence"


def test_record_with_wav_files_follows_the_output_file(
    speech: Callable[..., Path], tmp_path: Path
) -> None:
    """Headless (--input-file/--output-file) with --echo-reference and --record: the left
    channel is the input file, the right channel the output file's time line, within one
    block; the simulator received stereo and parroted channel 0."""
    _, samples, span = _spoken(speech, SENTENCE)
    padded = np.concatenate([np.zeros(RATE // 2, np.int16), samples])
    source = write_wav(tmp_path / "in.wav", padded)
    out, record = tmp_path / "out.wav", tmp_path / "talk.wav"
    events = tmp_path / "record.jsonl"
    env = client_env(None)
    with Simulator(events, env) as simulator:
        args = [
            *("--endpoint", simulator.url, "--api-key", API_KEY),
            *("--log-file", str(tmp_path / "voicelive.log")),
            *("--input-file", str(source), "--output-file", str(out)),
            *("--echo-reference", "--record", str(record)),
        ]
        with Client(args, env, tmp_path / "client.out") as client:
            assert client.proc is not None
            assert client.proc.wait(timeout=60) == 0, client.output()
    assert not events_of(events, "error"), events_of(events, "error")
    mic, ref = _record(record)
    played = read_wav(out)[0]
    # (--input-file is read through floats: a sample may come back 1 LSB off)
    left = mic[: padded.size].astype(np.int32) - padded
    assert np.abs(left).max() <= 1, "left: the input file, sample for sample"
    reply = sound_span(played)
    assert reply is not None, "no reply in the output file"
    piece = played[reply[0] : reply[0] + RATE]
    ncc, at = find_waveform(piece, ref)
    shift = at - reply[0]
    print(f"[measure] WAV mode: reference channel = output file shifted {shift} samples "
          f"({shift * 1000 / RATE:.1f} ms), ncc {ncc:.5f}")  # fmt: skip
    assert ncc > 0.999, "the right channel is the output file"
    assert abs(shift) <= BLOCK + RATE // 1000, "lined up within one block"
    # (the parrot ends at its last voiced frame: compare the first two seconds)
    assert find_waveform(samples[span[0] : span[0] + 2 * RATE], played)[0] > 0.99, "channel 0"
