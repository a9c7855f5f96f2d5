"""Pure parts of the simulator: the energy VAD, G.711, session validation helpers, elision."""

from __future__ import annotations

import numpy as np
import pytest

from tests.simulator_helpers import silence, speech_like
from voicelive.simulator import SimulatorOptions
from voicelive.simulator import audio as sim_audio
from voicelive.simulator.session import apply_update, default_session
from voicelive.simulator.vad import (
    EnergyVad,
    SpeechStarted,
    SpeechStopped,
    VadConfig,
    threshold_to_dbfs,
)
from voicelive.simulator.wire import elide_audio, redact_mapping


def _tone_at_dbfs(dbfs: float, seconds: float) -> np.ndarray:
    amplitude = 10 ** (dbfs / 20) * np.sqrt(2)  # sine RMS = amplitude / sqrt(2)
    t = np.arange(int(seconds * 24000)) / 24000
    return (amplitude * 32767 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)


def _run(vad: EnergyVad, pcm: np.ndarray, chunk: int = 480) -> list[SpeechStarted | SpeechStopped]:
    events: list[SpeechStarted | SpeechStopped] = []
    for i in range(0, pcm.size, chunk):
        events += vad.feed(pcm[i : i + chunk])
    return events


def test_threshold_maps_linearly_to_dbfs() -> None:
    assert threshold_to_dbfs(0.0) == -60
    assert threshold_to_dbfs(0.5) == -40
    assert threshold_to_dbfs(1.0) == -20


def _voice_at_dbfs(dbfs: float, seconds: float) -> np.ndarray:
    voice = speech_like(seconds).astype(np.float64)
    rms = np.sqrt(np.mean(voice * voice)) / 32768
    return np.round(voice * 10 ** (dbfs / 20) / rms).astype(np.int16)


@pytest.mark.parametrize(("threshold", "detected"), [(0.3, True), (0.5, False)])
def test_threshold_decides_whether_a_quiet_voice_counts(threshold: float, detected: bool) -> None:
    # A voice, not a tone: a steady tone is not speech at any level (test_simulator_vad.py).
    pcm = np.concatenate([silence(0.3), _voice_at_dbfs(-45, 0.5), silence(0.8)])
    events = _run(EnergyVad(VadConfig(threshold=threshold)), pcm)
    assert bool(events) is detected


def test_turn_times_follow_padding_silence_and_speech_duration() -> None:
    cfg = VadConfig(
        threshold=0.5, prefix_padding_ms=300, silence_duration_ms=400, speech_duration_ms=200
    )
    pcm = np.concatenate([silence(1.0), speech_like(1.0), silence(1.0)])
    started, stopped = _run(EnergyVad(cfg), pcm)
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    assert started.onset_ms == pytest.approx(1000, abs=10)
    assert started.audio_start_ms == pytest.approx(700, abs=10)
    assert stopped.last_voiced_ms == pytest.approx(2000, abs=10)
    assert stopped.audio_end_ms == pytest.approx(2400, abs=10)


def test_short_blips_do_not_start_a_turn_and_padding_is_floored() -> None:
    cfg = VadConfig(speech_duration_ms=200, prefix_padding_ms=300)
    blip = np.concatenate([silence(0.5), speech_like(0.1), silence(0.5)])
    assert _run(EnergyVad(cfg), blip) == []
    early = np.concatenate([speech_like(0.5), silence(1.0)])
    started = _run(EnergyVad(cfg), early)[0]
    assert isinstance(started, SpeechStarted) and started.audio_start_ms == 0


def test_chunk_size_does_not_change_decisions() -> None:
    pcm = np.concatenate(
        [silence(0.4), speech_like(0.7), silence(0.2), speech_like(0.3), silence(0.9)]
    )
    reference = _run(EnergyVad(VadConfig()), pcm, chunk=480)
    assert len(reference) == 2  # a 200 ms pause is shorter than the 500 ms silence: one turn
    for chunk in (7, 240, 1200, 24000):
        assert _run(EnergyVad(VadConfig()), pcm, chunk=chunk) == reference


@pytest.mark.parametrize("codec", ["ulaw", "alaw"])
def test_g711_round_trip_and_known_silence_codes(codec: str) -> None:
    encode = getattr(sim_audio, f"{codec}_encode")
    decode = getattr(sim_audio, f"{codec}_decode")
    everything = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    back = decode(encode(everything)).astype(np.int32)
    relative = np.abs(back - everything) / np.maximum(np.abs(everything.astype(np.int32)), 256)
    assert relative.max() < 0.07  # companding keeps ~6 % relative error
    assert encode(np.zeros(1, dtype=np.int16)) == (b"\xff" if codec == "ulaw" else b"\xd5")


def test_resample_keeps_duration_and_pitch() -> None:
    tone = _tone_at_dbfs(-10, 1.0)
    down = sim_audio.resample(tone, 24000, 8000)
    assert down.size == 8000
    spectrum = np.abs(np.fft.rfft(down.astype(float)))
    assert np.argmax(spectrum) == pytest.approx(300, abs=1)  # 1 s window: bin = Hz


def test_apply_update_is_all_or_nothing_and_fills_vad_defaults() -> None:
    session = default_session("sess_1", "2026-04-10", "gpt-4o")
    with pytest.raises(ValueError, match="temperature"):
        apply_update(session, {"instructions": "x", "temperature": 9}, "2026-04-10")
    assert session["instructions"] == ""
    merged = apply_update(session, {"turn_detection": {"type": "azure_semantic_vad"}}, "2026-04-10")
    assert merged["turn_detection"]["prefix_padding_ms"] == 420
    assert merged["turn_detection"]["remove_filler_words"] is False
    assert session["turn_detection"]["type"] == "server_vad"  # the input is not mutated


def test_elision_and_redaction() -> None:
    event = {"type": "response.audio.delta", "delta": "AAAAAA=="}
    assert elide_audio(event)["delta"] == {"audio_bytes": 4}
    assert event["delta"] == "AAAAAA=="
    item = {
        "type": "conversation.item.create",
        "item": {"content": [{"type": "input_audio", "audio": "AAAA"}]},
    }
    assert elide_audio(item)["item"]["content"][0]["audio"] == {"audio_bytes": 3}
    headers = redact_mapping({"API-Key": "abc", "Authorization": "Bearer t", "User-Agent": "x"})
    assert headers == {
        "API-Key": "<redacted 3 chars>",
        "Authorization": "<redacted 8 chars>",
        "User-Agent": "x",
    }


def test_options_validate_and_hide_the_key() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        SimulatorOptions(fault="explode")
    with pytest.raises(ValueError, match="speedup"):
        SimulatorOptions(speedup=0)
    assert "hunter2" not in repr(SimulatorOptions(api_key="hunter2"))
