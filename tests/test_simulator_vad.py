"""The simulator's voice detector is not fooled by a steady signal (issue 20, item 1).

DC (a microphone's offset, G.711 padding that decodes to a constant), a steady tone or hum and
steady noise never become a turn, and end a turn they follow; soft speech is still heard. Each
case runs through every VAD type's settings, as the session maps them onto the detector.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.simulator_helpers import RATE, silence, speech_like
from voicelive.simulator import audio as sim_audio
from voicelive.simulator.schema import VAD_TYPES
from voicelive.simulator.session import turn_detection_defaults, vad_settings
from voicelive.simulator.vad import EnergyVad, SpeechStarted, SpeechStopped, VadConfig


def _vad(vad_type: str) -> EnergyVad:
    threshold, padding, silence_ms, speech_ms = vad_settings(
        turn_detection_defaults(vad_type, "2026-07-15")
    )
    return EnergyVad(VadConfig(threshold, padding, silence_ms, speech_ms))


def _run(vad: EnergyVad, pcm: np.ndarray, chunk: int = 480) -> list[SpeechStarted | SpeechStopped]:
    events: list[SpeechStarted | SpeechStopped] = []
    for i in range(0, pcm.size, chunk):
        events += vad.feed(pcm[i : i + chunk])
    return events


def _at_dbfs(signal: np.ndarray, dbfs: float) -> np.ndarray:
    x = signal.astype(np.float64)
    rms = np.sqrt(np.mean(x * x)) / 32768
    return np.clip(np.round(x * 10 ** (dbfs / 20) / rms), -32768, 32767).astype(np.int16)


def _tone(freq: float, seconds: float, dbfs: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return _at_dbfs(np.sin(2 * np.pi * freq * t), dbfs)


def _noise(seconds: float, dbfs: float, seed: int = 3) -> np.ndarray:
    return _at_dbfs(np.random.default_rng(seed).normal(0, 1, int(seconds * RATE)), dbfs)


def _dc(seconds: float, level: int) -> np.ndarray:
    return np.full(int(seconds * RATE), level, dtype=np.int16)


STEADY = {
    "dc_offset": lambda: _dc(4.0, 3000),
    "dc_full_scale": lambda: _dc(4.0, -32124),  # what µ-law 0x00 padding decodes to
    "tone_1khz": lambda: _tone(1000, 4.0, -20),
    "hum_50hz": lambda: _tone(50, 4.0, -20),
    "hum_60hz": lambda: _tone(60, 4.0, -20),
    "white_noise": lambda: _noise(4.0, -25),
}


@pytest.mark.parametrize("vad_type", VAD_TYPES)
@pytest.mark.parametrize("kind", sorted(STEADY))
def test_a_steady_signal_never_starts_a_turn(vad_type: str, kind: str) -> None:
    pcm = np.concatenate([silence(0.3), STEADY[kind](), silence(0.2)])
    assert _run(_vad(vad_type), pcm) == []


@pytest.mark.parametrize("vad_type", VAD_TYPES)
@pytest.mark.parametrize("kind", sorted(STEADY))
def test_a_steady_signal_after_speech_ends_the_turn(vad_type: str, kind: str) -> None:
    pcm = np.concatenate([silence(0.5), speech_like(1.0), STEADY[kind]()])
    events = _run(_vad(vad_type), pcm)
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    stopped = events[1]
    assert isinstance(stopped, SpeechStopped)
    # DC goes unheard at once; a tone or noise is let go after 400 ms of steadiness.
    assert 1500 <= stopped.last_voiced_ms <= 1500 + 450


@pytest.mark.parametrize("vad_type", VAD_TYPES)
def test_soft_speech_is_heard_alone_and_over_a_dc_offset(vad_type: str) -> None:
    soft = _at_dbfs(speech_like(1.0), -36)  # 4 dB above the default threshold (-40 dBFS)
    for bed in (silence(3.0), _dc(3.0, 2500)):
        pcm = bed.copy()
        pcm[12_000 : 12_000 + soft.size] += soft
        events = _run(_vad(vad_type), pcm)
        assert [type(e) for e in events] == [SpeechStarted, SpeechStopped], vad_type
        assert events[0].onset_ms == pytest.approx(500, abs=20)  # type: ignore[union-attr]


@pytest.mark.parametrize("vad_type", VAD_TYPES)
def test_speech_over_a_steady_hum_is_heard(vad_type: str) -> None:
    hum = _tone(60, 4.0, -35)
    hum[24_000 : 24_000 + RATE] += _at_dbfs(speech_like(1.0), -20)
    events = _run(_vad(vad_type), hum)
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]


@pytest.mark.parametrize("codec", ["g711_ulaw", "g711_alaw"])
def test_g711_speech_padded_with_zero_bytes_ends_its_turn(codec: str) -> None:
    """The SDK's live suite pads G.711 clips with b"\\x00" bytes: a constant once decoded."""
    speech = np.concatenate([silence(0.3), speech_like(1.2)])
    encode = sim_audio.ulaw_encode if codec == "g711_ulaw" else sim_audio.alaw_encode
    wire = encode(sim_audio.resample(speech, RATE, 8000)) + b"\x00" * 16_000
    pcm = sim_audio.decode_input(wire, codec, 8000)
    assert np.ptp(pcm[-RATE:]) == 0 and abs(int(pcm[-1])) > 1000  # a loud constant
    events = _run(_vad("server_vad"), pcm)
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]


def test_chunking_does_not_change_the_steadiness_decisions() -> None:
    pcm = np.concatenate(
        [silence(0.4), speech_like(0.8), _tone(60, 1.5, -20), silence(0.6), _dc(1.0, 900)]
    )
    reference = _run(EnergyVad(VadConfig()), pcm)
    assert [type(e) for e in reference] == [SpeechStarted, SpeechStopped]
    for chunk in (7, 241, 4800):
        assert _run(EnergyVad(VadConfig()), pcm, chunk=chunk) == reference
