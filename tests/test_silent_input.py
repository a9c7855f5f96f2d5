"""The silent-microphone detector: blocks in, one warning out, only for exact zeros."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from voicelive.audio.silent_input import (
    SILENT_INPUT_S,
    SilentInputDetector,
    silent_input_message,
)

RATE = 24_000
BLOCK = bytes(RATE // 50 * 2)  # 20 ms of PCM16 zeros
BLOCKS_IN_3_S = 150


def feed_all(detector: SilentInputDetector, blocks: list[bytes]) -> list[tuple[int, str]]:
    return [(i, m) for i, b in enumerate(blocks) if (m := detector.feed(b)) is not None]


def test_three_seconds_of_exact_zeros_report_once_on_the_block_that_completes_them() -> None:
    detector = SilentInputDetector(RATE)
    reports = feed_all(detector, [BLOCK] * (BLOCKS_IN_3_S * 2))
    assert [i for i, _ in reports] == [BLOCKS_IN_3_S - 1]
    assert detector.reported and detector.settled
    assert SILENT_INPUT_S == 3.0


def test_block_sizes_do_not_matter_only_the_samples_counted() -> None:
    detector = SilentInputDetector(RATE, seconds=1.0)
    assert detector.feed(bytes(2 * (RATE - 1))) is None  # one sample short
    assert detector.feed(bytes(2)) is not None


def test_a_live_microphone_is_never_reported_even_when_quiet() -> None:
    quiet = np.zeros(RATE // 50, dtype="<i2")
    quiet[100] = 1  # one LSB of noise: a real microphone in a silent room
    detector = SilentInputDetector(RATE)
    blocks = [BLOCK] * 10 + [quiet.tobytes()] + [BLOCK] * (BLOCKS_IN_3_S * 2)
    assert feed_all(detector, blocks) == []
    assert detector.settled and not detector.reported


def test_a_negative_sample_counts_as_sound_too() -> None:
    detector = SilentInputDetector(RATE, seconds=0.02)
    assert detector.feed(np.array([0, -1, 0], dtype="<i2").tobytes()) is None
    assert detector.feed(BLOCK) is None


def test_fewer_zeros_than_the_threshold_say_nothing() -> None:
    detector = SilentInputDetector(RATE)
    assert feed_all(detector, [BLOCK] * (BLOCKS_IN_3_S - 1)) == []
    assert not detector.settled


def test_memoryview_and_bytearray_blocks_are_accepted() -> None:
    detector = SilentInputDetector(RATE, seconds=0.04)
    assert detector.feed(memoryview(BLOCK)) is None
    assert detector.feed(bytearray(BLOCK)) is not None


def test_macos_says_where_the_permission_is() -> None:
    message = silent_input_message(3.0, "darwin")
    assert "System Settings → Privacy & Security → Microphone" in message
    assert "terminal app" in message and "3 s" in message
    assert "\n" not in message


@pytest.mark.parametrize("platform", ["linux", "win32"])
def test_elsewhere_it_says_muted_or_wrong_device(platform: str) -> None:
    message = silent_input_message(3.0, platform)
    assert "muted" in message and "--input-device" in message and "voicelive devices" in message
    assert "Privacy" not in message and "\n" not in message


def test_the_detector_gives_this_platforms_message() -> None:
    detector = SilentInputDetector(RATE, seconds=0.02)
    assert detector.feed(BLOCK) == silent_input_message(0.02, sys.platform)


def test_nonsense_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        SilentInputDetector(0)
    with pytest.raises(ValueError):
        SilentInputDetector(RATE, seconds=0)
