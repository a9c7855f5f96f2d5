"""The doctor's pure judgements on synthetic audio: the level, the headset heuristic, the echo
finder; and the output forms (text lines, the --json document)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from voicelive.doctor import signal_analysis as sa
from voicelive.doctor.check import Check, not_checked
from voicelive.doctor.render import LiveLevel, check_lines, json_document, summary

RATE = 24_000


def noise(seconds: float, dbfs: float, seed: int = 3, rate: int = RATE) -> sa.Samples:
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(int(seconds * rate)) * (10 ** (dbfs / 20) * 32768)
    return np.clip(np.round(data), -32768, 32767).astype(np.int16)


def test_exact_zeros_are_reported_as_zeros() -> None:
    level = sa.measure_level(np.zeros(2 * RATE, np.int16), RATE)
    assert level.all_zero
    assert sa.judge_level(level, spoken=False).problem == "zeros"
    assert sa.judge_level(level, spoken=True).problem == "zeros"


def test_a_single_nonzero_sample_is_not_digital_silence() -> None:
    samples = np.zeros(2 * RATE, np.int16)
    samples[100] = 1
    assert not sa.measure_level(samples, RATE).all_zero


def test_room_noise_is_a_good_ambient_level() -> None:
    level = sa.measure_level(noise(2, -48), RATE)
    assert level.rms_dbfs == pytest.approx(-48, abs=0.5)
    verdict = sa.judge_level(level, spoken=False)
    assert verdict.problem is None
    assert "-48 dBFS" in verdict.detail


def test_an_almost_silent_room_is_too_low() -> None:
    verdict = sa.judge_level(sa.measure_level(noise(2, -95), RATE), spoken=False)
    assert verdict.problem == "low"


def test_speech_must_be_louder_than_a_room() -> None:
    quiet = noise(2, -45)  # fine as a room, too quiet for a voice
    assert sa.judge_level(sa.measure_level(quiet, RATE), spoken=False).problem is None
    assert sa.judge_level(sa.measure_level(quiet, RATE), spoken=True).problem == "low"
    speech = quiet.copy()
    speech[RATE // 2 : RATE] = noise(0.5, -18, seed=4)
    assert sa.judge_level(sa.measure_level(speech, RATE), spoken=True).problem is None


def test_clipping_is_reported() -> None:
    t = np.arange(2 * RATE) / RATE
    loud = np.clip(2.0 * np.sin(2 * np.pi * 200 * t), -1, 1) * 32767
    verdict = sa.judge_level(sa.measure_level(loud.astype(np.int16), RATE), spoken=True)
    assert verdict.problem == "clipping"
    assert "clipped" in verdict.detail


@pytest.mark.parametrize(
    ("name", "rate", "expected"),
    [
        ("Headset (WH-1000XM4 Hands-Free AG Audio)", 16000, True),
        ("AirPods Pro", 8000, True),
        ("bluez_input.00_11_22_33_44_55.headset-head-unit", 16000, True),
        ("AirPods Pro", 48000, False),  # not in the call profile
        ("MacBook Pro Microphone", 16000, False),  # a call rate, but not a headset
        ("default", 44100, False),
        ("Bluetooth Headset", 44100, False),
    ],
)
def test_headset_heuristic(name: str, rate: float, expected: bool) -> None:
    assert sa.looks_like_headset(name, rate) is expected


@pytest.mark.parametrize("rate", [16_000, 24_000, 48_000])
def test_the_probe_is_found_at_its_delay_and_level(rate: int) -> None:
    template = sa.probe(rate)
    recording = noise(1.5, -48, rate=rate).astype(np.float64)
    delay = int(0.437 * rate)
    recording[delay : delay + template.size] += 0.1 * 32767 * template  # -20 dB of the probe
    found = sa.find_probe(np.clip(recording, -32768, 32767).astype(np.int16), template)
    assert found is not None
    assert abs(found.index - delay) <= 1
    assert found.level_db == pytest.approx(-20, abs=0.5)
    assert found.correlation > 0.9


def test_room_noise_alone_is_not_an_echo() -> None:
    for seed in range(5):
        assert sa.find_probe(noise(1.5, -30, seed=seed), sa.probe(RATE)) is None


def test_a_steady_tone_is_not_taken_for_the_probe() -> None:
    t = np.arange(int(1.5 * RATE)) / RATE
    hum = (0.3 * 32767 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    assert sa.find_probe(hum, sa.probe(RATE)) is None


def test_a_faint_echo_under_loud_noise_is_still_found() -> None:
    template = sa.probe(RATE)
    recording = noise(1.5, -30).astype(np.float64)
    recording[6000 : 6000 + template.size] += 0.05 * 32767 * template  # about -29 dBFS RMS
    found = sa.find_probe(recording.astype(np.int16), template)
    assert found is not None and abs(found.index - 6000) <= 1


def test_text_lines_put_the_fix_under_the_detail() -> None:
    text = check_lines(Check("echo", "warn", "heard after 43 ms", "use headphones"))
    first, second = text.splitlines()
    assert first.split() == ["warn", "echo", "heard", "after", "43", "ms"]
    assert second.strip() == "fix: use headphones"
    assert second.index("fix:") == first.index("heard")
    assert check_lines(Check("python", "ok", "Python 3.11")).count("\n") == 0


def test_the_json_document_is_a_list_of_the_four_keys() -> None:
    checks = [Check("python", "ok", "Python 3.11"), not_checked("handshake", "no credential")]
    parsed = json.loads(json_document(checks))
    assert parsed == [
        {"name": "python", "status": "ok", "detail": "Python 3.11", "fix": ""},
        {
            "name": "handshake",
            "status": "fail",
            "detail": "not checked: no credential",
            "fix": "fix the failure above first, then run doctor again",
        },
    ]
    assert summary(checks) == "1 ok, 0 warn, 1 fail"


class Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_the_live_level_redraws_one_line_on_a_terminal_only() -> None:
    screen = Terminal(tty=True)
    meter = LiveLevel(screen)
    meter.show(0.5, -30.0)
    meter.show(1.0, 0.0)
    meter.end()
    drawn = screen.getvalue()
    assert "\n" not in drawn and drawn.count("\r") == 4  # two redraws, then cleared
    half, full = drawn.split("\r")[1:3]
    assert "[" + "#" * 15 + "." * 15 + "]" in half and "-30 dBFS" in half
    assert "[" + "#" * 30 + "]" in full
    pipe = Terminal(tty=False)
    quiet = LiveLevel(pipe)
    quiet.show(0.5, -30.0)
    quiet.end()
    assert pipe.getvalue() == ""
