"""Quiet microphone audio goes to the service in batches; speech goes block by block.

``voicelive chat`` (default settings) listens through the real audio stack to a quiet room:
low noise (about -60 dBFS, every sample within the quiet band) played into the virtual
microphone. The simulator's record shows each ``input_audio_buffer.append`` and its size:
- once the first seconds (block by block, as after a sound, and as the room's noise starts
  after the silence before it) are over, appends carry 200 ms;
- a spoken turn over that noise goes block by block (20 ms appends), and the parrot answers;
- no audio is lost: what the simulator received covers the time the client listened;
- soft speech (faded in over 300 ms, peaking at -30 dBFS) over that room goes block by block
  from its first frames, as promptly as the rest of the audio (the onset delay is measured).
"""

from __future__ import annotations

import subprocess
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.audio_bed import AudioBed
from tests.e2e.chat_harness import (
    ListeningClient,
    Simulator,
    appended_bytes,
    audio_received_ms,
    client_env,
    events_of,
    quit_with_q,
    voicelive_command,
    wait_for,
)
from tests.e2e.mic_observer import MicObserver
from voicelive.audio.quiet_batcher import FLOOR_PARTS, FLOOR_WINDOW_S

pytestmark = pytest.mark.e2e

BLOCK_BYTES = 960  # 20 ms
BATCH_BYTES = 9600  # 200 ms: the default quiet hold
LIVELY_MS = 2000  # block by block after a sound (and at the start)
PREFIX_PADDING_MS = 300  # the simulator's default, as the service's


ROOM_RMS = 32.8  # -60 dBFS


def room_noise(seconds: float) -> npt.NDArray[np.float64]:
    """Gaussian noise at -60 dBFS RMS (peaks about -46 dBFS): a quiet room on a laptop mic."""
    rng = np.random.default_rng(7)
    return np.clip(rng.normal(0, ROOM_RMS, int(24_000 * seconds)), -250, 250)


def write_wav(path: Path, samples: npt.NDArray[np.float64]) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(np.round(np.clip(samples, -32768, 32767)).astype("<i2").tobytes())
    return path


def quiet_room(path: Path, seconds: float) -> Path:
    return write_wav(path, room_noise(seconds))


def test_quiet_audio_is_batched_and_speech_goes_block_by_block(
    audio_bed: AudioBed,
    listening_client: ListeningClient,
    speech: Callable[..., Path],
    tmp_path: Path,
) -> None:
    client = listening_client
    noise = audio_bed.play_into_mic(quiet_room(tmp_path / "room.wav", 30.0))
    try:
        started = time.monotonic()
        heard_at_start = audio_received_ms(client.record)
        # The room's noise after the silence before it is a rise (something started): block
        # by block until the floor has taken the room in (its window: FLOOR_WINDOW_S and one
        # part more) and 2 s after that; then at least 2.5 s of batches. (The record may lag
        # the silence before by one hold.)
        floor_ms = int(FLOOR_WINDOW_S * 1000 * (1 + 1 / FLOOR_PARTS))
        lively_until = heard_at_start + BATCH_BYTES // 48 + floor_ms + LIVELY_MS + 200
        assert wait_for(lambda: audio_received_ms(client.record) >= lively_until + 2500, 20), (
            f"the simulator stopped receiving audio{client.context()}"
        )
        quiet = appended_bytes(client.record)
        position, batched = 0, []
        for size in quiet:
            position += size
            if position > lively_until * 48:  # past the lively start, with a margin
                batched.append(size)
        assert batched, client.context()
        assert max(quiet) <= BATCH_BYTES
        assert batched.count(BATCH_BYTES) >= 0.9 * len(batched), (
            f"quiet audio not batched: {batched}{client.context()}"
        )
        assert quiet[:10] == [BLOCK_BYTES] * 10, "the first blocks after the start go one by one"

        audio_bed.play_into_mic(speech("Hello there, how are you today")).wait(timeout=30)
        assert wait_for(lambda: bool(events_of(client.record, "response.done")), 20), (
            f"no reply to the spoken turn{client.context()}"
        )
        # Where the service heard the speech, on the input's time line (ms of audio appended):
        # from its onset (audio_start_ms is the onset minus the 300 ms prefix padding) to
        # speech_stopped's audio_end_ms. Every append that starts inside went alone (20 ms);
        # the one that brought the onset may carry the quiet blocks held before it.
        onset = events_of(client.record, "input_audio_buffer.speech_started")[-1]
        stopped = events_of(client.record, "input_audio_buffer.speech_stopped")[-1]
        start_ms, end_ms = onset["audio_start_ms"] + PREFIX_PADDING_MS, stopped["audio_end_ms"]
        position, inside = 0, []
        for size in appended_bytes(client.record):
            if start_ms + 20 <= position // 48 < end_ms:
                inside.append(size)
            position += size
        assert len(inside) >= 0.8 * (end_ms - start_ms) / 20, (start_ms, end_ms, len(inside))
        assert set(inside) == {BLOCK_BYTES}, f"speech was batched: {inside}{client.context()}"

        listened_ms = (time.monotonic() - started) * 1000
        received_ms = audio_received_ms(client.record) - heard_at_start
        # Nothing lost: at most the hold (200 ms) and the path's latency behind the clock.
        assert received_ms >= listened_ms - 400, (received_ms, listened_ms)
    finally:
        noise.kill()
        noise.wait(timeout=5)


def soft_speech(
    loud: Path, peak_dbfs: float = -30.0, fade_ms: int = 300
) -> npt.NDArray[np.float64]:
    """``loud`` speech from its first audible sample, scaled to peak at ``peak_dbfs`` and
    faded in linearly over ``fade_ms``: a soft speaker starting a word gently."""
    with wave.open(str(loud), "rb") as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float64)
    samples = samples[int(np.argmax(np.abs(samples) > 0.01 * np.abs(samples).max())) :]
    fade = min(samples.size, 24 * fade_ms)
    samples[:fade] *= np.linspace(0.0, 1.0, fade)
    scaled: npt.NDArray[np.float64] = samples * (
        32768 * 10 ** (peak_dbfs / 20) / np.abs(samples).max()
    )
    return scaled


def clear_from_ms(speech: npt.NDArray[np.float64]) -> int:
    """Where ``speech`` alone first reaches twice the room's level (a 10 ms frame at -54 dBFS
    RMS, the room and it together 7 dB over the room): any detector that can tell speech
    from the room can from there; a 20 ms block holding that frame is 4.8 dB over the room.
    (Before, where the speech alone is below the room, nothing can.)"""
    frames = speech[: speech.size // 240 * 240].reshape(-1, 240)
    return int(np.argmax(np.sqrt(np.mean(frames * frames, axis=1)) >= 2 * ROOM_RMS)) * 10


def block_delays_ms(observer: MicObserver) -> list[tuple[int, float]]:
    """``(start_ms, delay_ms)`` of every 20 ms block of microphone audio the service got.

    A block's lateness is its arrival time minus its end on the input's time line (ms of
    audio appended before it, plus its own 20 ms); its delay is that lateness minus the least
    lateness of any block: how much later than the most prompt block it reached the service.
    A block held in a batch arrives with the batch's last block, late by the time it waited.
    """
    lateness: list[tuple[int, float]] = []
    position = 0
    for append in observer.appends:
        for start in range(position, position + len(append.pcm), BLOCK_BYTES):
            lateness.append((start // 48, append.at * 1000 - (start + BLOCK_BYTES) / 48))
        position += len(append.pcm)
    least = min(late for _, late in lateness)
    return [(start, late - least) for start, late in lateness]


def appends_within(observer: MicObserver, first_ms: int, end_ms: int) -> list[int]:
    """Sizes of the appends that carry audio from ``first_ms`` on and start before
    ``end_ms``."""
    position, sizes = 0, []
    for append in observer.appends:
        size = len(append.pcm)
        if (position + size) // 48 > first_ms and position // 48 < end_ms:
            sizes.append(size)
        position += size
    return sizes


def where(observer: MicObserver, played: npt.NDArray[np.int16]) -> int:
    """The sample index at which ``played`` starts in what the service got (the virtual
    microphone is bit-exact and silent before it)."""
    got = observer.samples()
    first = int(np.argmax(got != 0))
    head = played[:64]
    for index in range(max(0, first - 64), first + 1):
        if np.array_equal(got[index : index + 64], head):
            return index
    raise AssertionError("the played WAV is not in the audio the service got (not bit-exact?)")


@contextmanager
def observed_client(bed: AudioBed, workdir: Path) -> Iterator[MicObserver]:
    """``voicelive chat`` (default settings) -> a :class:`MicObserver` -> the simulator."""
    env = client_env(bed.env)
    with (
        Simulator(workdir / "record.jsonl", env) as simulator,
        MicObserver(simulator.url) as observer,
    ):
        proc = subprocess.Popen(
            [*voicelive_command(), "chat", "--endpoint", observer.url, "--api-key", "k"],
            cwd=workdir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert observer.wait_audio_ms(500, 30), "no microphone audio reached the service"
            yield observer
        finally:
            quit_with_q(proc)


ROOM_BEFORE_S = 7.0


def test_soft_speech_over_a_quiet_room_goes_block_by_block_from_its_onset(
    audio_bed: AudioBed, speech: Callable[..., Path], tmp_path: Path
) -> None:
    """Issue 18: speech faded in over 300 ms to a -30 dBFS peak, after 6 s of a -60 dBFS
    room, reached the service up to 64 ms late, held in a batch with the room before it.

    One WAV holds the room and, from 7 s on, the soft speech over it, so where the speech
    lies on the input's time line is known to the sample."""
    voice = soft_speech(speech("Hello there, how are you today"))
    mixed = room_noise(ROOM_BEFORE_S + voice.size / 24_000 + 1.0)
    offset = int(ROOM_BEFORE_S * 24_000)
    mixed[offset : offset + voice.size] += voice
    wav = write_wav(tmp_path / "soft.wav", mixed)
    played = np.round(np.clip(mixed, -32768, 32767)).astype("<i2")
    with observed_client(audio_bed, tmp_path) as observer:
        player = audio_bed.play_into_mic(wav)
        try:
            before = observer.audio_ms()
            total_ms = before + mixed.size // 24 + 500  # with the client's start, at most
            assert observer.wait_audio_ms(total_ms, 30), "the service stopped receiving audio"
        finally:
            player.kill()
            player.wait(timeout=5)
        start_ms = where(observer, played) // 24
        speech_ms = start_ms + int(ROOM_BEFORE_S * 1000)
        clear_ms = speech_ms + clear_from_ms(voice)
        end_ms = speech_ms + voice.size // 24
        # batched from the floor's window and 2 s after the room started (module docstring)
        floor_ms = int(FLOOR_WINDOW_S * 1000 * (1 + 1 / FLOOR_PARTS))
        room = appends_within(observer, start_ms + floor_ms + LIVELY_MS + 200, speech_ms - 200)
        assert len(room) >= 4, room
        assert room.count(BATCH_BYTES) >= 0.8 * len(room), f"the room was not batched: {room}"

        # The block that brings the onset may carry the room held before it; it ends by
        # clear_ms + 20 at the latest. Every append with audio after that is one block.
        inside = appends_within(observer, clear_ms + 20, end_ms)
        assert len(inside) >= 0.9 * (end_ms - clear_ms) / 20, (clear_ms, end_ms, inside)
        assert set(inside) == {BLOCK_BYTES}, f"soft speech was batched: {inside[:12]}"

        delays = block_delays_ms(observer)
        onset = [d for start, d in delays if clear_ms <= start < speech_ms + 300]
        fade = [d for start, d in delays if speech_ms <= start < speech_ms + 300]
        rest = sorted(d for start, d in delays if speech_ms + 300 <= start < end_ms)
        p90 = rest[len(rest) * 9 // 10]
        print(
            f"[measure] soft speech clear {clear_ms - speech_ms} ms into its fade; delay "
            f"from there to 300 ms: max {max(onset):.1f} ms; whole fade: max {max(fade):.1f} "
            f"ms; rest of the speech: median {rest[len(rest) // 2]:.1f} ms, p90 {p90:.1f} ms"
        )
        # Held in a batch, a block is late by the time it waited (up to the 200 ms hold);
        # handed on at once, it is as prompt as the rest of the speech.
        assert max(onset) <= p90 + 20, (onset, p90)


def test_nothing_is_batched_while_the_assistant_is_heard(
    audio_bed: AudioBed, speech: Callable[..., Path], tmp_path: Path
) -> None:
    """A barge-in must not wait: while the speaker plays the parrot's reply, every append is
    one block, though the room in the microphone is quiet; once it has played out (and
    quiet_after_ms past it) the room is batched again.

    The reply (as long as the turn, about 5 s) outlasts the 2 s block by block after the
    turn's last sound, so without the speaker's word the room under its tail would wait."""
    turn = speech("Hello there how are you today tell me a long story about the sea please")
    with observed_client(audio_bed, tmp_path) as observer, audio_bed.record_speaker() as rec:
        noise = audio_bed.play_into_mic(quiet_room(tmp_path / "room.wav", 40.0))
        try:
            audio_bed.play_into_mic(turn).wait(timeout=30)
            onset = rec.wait_for_sound(rec.index_at(time.monotonic()), timeout=15)
            assert onset is not None, "no reply on the speaker"
            end = rec.wait_for_silence(onset, silence_s=0.8, timeout=30)  # past any pause
            assert end is not None, "the reply never ended"
            heard = (rec.time_at(onset), rec.time_at(end))
            assert heard[1] - heard[0] > 3.0, heard  # longer than the 2 s after the turn
            after = observer.audio_ms() + LIVELY_MS + 1500
            assert observer.wait_audio_ms(after, 20), "the service stopped receiving audio"
        finally:
            noise.kill()
            noise.wait(timeout=5)
        during = [len(a.pcm) for a in observer.appends if heard[0] <= a.at <= heard[1]]
        assert len(during) >= 0.8 * (heard[1] - heard[0]) * 50, (len(during), heard)
        assert set(during) == {BLOCK_BYTES}, f"batched while the reply played: {during}"
        resumed = [len(a.pcm) for a in observer.appends if a.at > heard[1] + 2.6]
        assert BATCH_BYTES in resumed, f"the room after the reply was not batched: {resumed}"
