"""Quiet microphone audio goes to the service in batches; speech goes block by block.

``voicelive chat`` (default settings) listens through the real audio stack to a quiet room:
low noise (about -60 dBFS, every sample within the quiet band) played into the virtual
microphone. The simulator's record shows each ``input_audio_buffer.append`` and its size:
- once the first seconds (block by block, as after a sound) are over, appends carry 200 ms;
- a spoken turn over that noise goes block by block (20 ms appends), and the parrot answers;
- no audio is lost: what the simulator received covers the time the client listened.
"""

from __future__ import annotations

import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.audio_bed import AudioBed
from tests.e2e.chat_harness import (
    ListeningClient,
    appended_bytes,
    audio_received_ms,
    events_of,
    wait_for,
)

pytestmark = pytest.mark.e2e

BLOCK_BYTES = 960  # 20 ms
BATCH_BYTES = 9600  # 200 ms: the default quiet hold
LIVELY_MS = 2000  # block by block after a sound (and at the start)
PREFIX_PADDING_MS = 300  # the simulator's default, as the service's


def quiet_room(path: Path, seconds: float) -> Path:
    """Gaussian noise at -60 dBFS RMS (peaks about -46 dBFS): a quiet room on a laptop mic."""
    rng = np.random.default_rng(7)
    noise = np.clip(rng.normal(0, 32.8, int(24_000 * seconds)), -250, 250).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(noise.tobytes())
    return path


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
        # 2 s block by block after the start, then at least 2.5 s of batches
        assert wait_for(lambda: audio_received_ms(client.record) >= LIVELY_MS + 2500, 20), (
            f"the simulator stopped receiving audio{client.context()}"
        )
        quiet = appended_bytes(client.record)
        position, batched = 0, []
        for size in quiet:
            position += size
            if position > (LIVELY_MS + 200) * 48:  # past the lively start, with a margin
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
