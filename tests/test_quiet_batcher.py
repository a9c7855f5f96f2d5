"""Quiet microphone blocks are batched; sound and the end of a turn are never delayed."""

from __future__ import annotations

import struct

import pytest

from tests.fakes import FakeAudio
from voicelive.audio.pipeline import AudioPipeline
from voicelive.audio.quiet_batcher import QuietBatcher, is_quiet
from voicelive.chat import QUIET_AFTER_MS, quiet_after_ms
from voicelive.connection.outbound import Outbound
from voicelive.settings import AudioSettings, TurnDetectionSettings

BLOCK = 480  # samples in 20 ms


def block(*samples: int, fill: int = 0) -> bytes:
    """A 20 ms PCM16 block: ``samples`` first, then ``fill``."""
    values = [*samples, *[fill] * (BLOCK - len(samples))]
    return struct.pack(f"<{BLOCK}h", *values)


QUIET = block(3, -7, fill=1)
LOUD = block(4000, -4000)


@pytest.mark.parametrize(
    ("sample", "quiet"),
    [(0, True), (511, True), (-512, True), (-1, True), (256, True), (512, False),
     (-513, False), (32767, False), (-32768, False)],
)  # fmt: skip
def test_quiet_means_every_sample_within_the_band(sample: int, quiet: bool) -> None:
    assert is_quiet(block(sample)) is quiet
    assert is_quiet(block(fill=sample)) is quiet


def test_quiet_blocks_wait_until_the_hold_is_full_then_go_together_in_order() -> None:
    batcher = QuietBatcher(block_ms=20, hold_ms=100, quiet_after_ms=0)
    quiet = [block(i) for i in range(5)]
    assert [batcher.feed(b) for b in quiet[:4]] == [None] * 4
    assert batcher.feed(quiet[4]) == b"".join(quiet)
    assert batcher.held_blocks == 0


def test_a_sound_goes_at_once_with_everything_held_before_it() -> None:
    batcher = QuietBatcher(block_ms=20, hold_ms=100, quiet_after_ms=0)
    assert batcher.feed(QUIET) is None
    assert batcher.feed(block(1)) is None
    assert batcher.feed(LOUD) == QUIET + block(1) + LOUD


def test_after_a_sound_blocks_go_one_by_one_until_quiet_after_ms_has_passed() -> None:
    batcher = QuietBatcher(block_ms=20, hold_ms=100, quiet_after_ms=100)
    assert batcher.feed(LOUD) == LOUD
    # the 100 ms after the sound: its 5 quiet blocks go one by one ...
    assert [batcher.feed(QUIET) for _ in range(5)] == [QUIET] * 5
    # ... and from the 6th on they are held
    assert [batcher.feed(QUIET) for _ in range(4)] == [None] * 4
    assert batcher.feed(QUIET) == QUIET * 5


def test_a_session_starts_lively() -> None:
    batcher = QuietBatcher(block_ms=20, hold_ms=100, quiet_after_ms=60)
    assert [batcher.feed(QUIET) for _ in range(4)] == [QUIET, QUIET, QUIET, None]


def test_a_hold_shorter_than_two_blocks_batches_nothing() -> None:
    batcher = QuietBatcher(block_ms=20, hold_ms=39, quiet_after_ms=0)
    assert [batcher.feed(QUIET) for _ in range(3)] == [QUIET] * 3


def test_flush_hands_on_what_is_held() -> None:
    batcher = QuietBatcher(block_ms=20, hold_ms=100, quiet_after_ms=0)
    assert batcher.flush() is None
    batcher.feed(QUIET)
    batcher.feed(block(2))
    assert batcher.flush() == QUIET + block(2)
    assert batcher.flush() is None


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="block_ms"):
        QuietBatcher(block_ms=0, hold_ms=100, quiet_after_ms=0)


def test_quiet_after_outlasts_the_services_end_of_turn_waits() -> None:
    assert quiet_after_ms(TurnDetectionSettings()) == QUIET_AFTER_MS
    assert quiet_after_ms(TurnDetectionSettings(silence_duration_ms=1500)) == 2500
    assert quiet_after_ms(TurnDetectionSettings(eou_timeout_ms=4000)) == 5000
    assert quiet_after_ms(TurnDetectionSettings(vad_type=None)) == 0  # manual turns: none
    # semantic_vad has no silence setting and may wait up to 8 s for a hesitant speaker
    assert quiet_after_ms(TurnDetectionSettings(vad_type="semantic_vad")) == 9000


def test_pausing_drops_what_is_queued_and_counts_it_in_audio() -> None:
    pipeline = AudioPipeline(FakeAudio(), AudioSettings(), Outbound())
    pipeline.resume_capture()
    pipeline.on_mic_block(QUIET * 5)
    pipeline.on_mic_block(QUIET)
    pipeline.pause_capture()
    pipeline.on_mic_block(QUIET)  # while paused: not queued
    assert pipeline.stats.dropped_paused_ms == 140


def test_audio_held_before_a_change_is_dropped_not_sent() -> None:
    """Resuming capture or unmuting drops what is held: it was recorded before the change."""
    batcher = QuietBatcher(block_ms=20, hold_ms=100, quiet_after_ms=0)
    batcher.feed(QUIET)
    batcher.feed(block(5))
    batcher.drop_held()  # loop thread: e.g. /unmute
    assert batcher.feed(LOUD) == LOUD  # the first sound after the change, alone
    assert batcher.current(batcher.batch_epoch)


def test_a_batch_handed_on_just_before_a_change_is_recognised_as_stale() -> None:
    batcher = QuietBatcher(block_ms=20, hold_ms=40, quiet_after_ms=0)
    batcher.feed(QUIET)
    assert batcher.feed(QUIET) == QUIET * 2  # on its way to the loop ...
    epoch = batcher.batch_epoch
    batcher.drop_held()  # ... when the loop thread sees the change first
    assert not batcher.current(epoch)


async def test_every_change_in_what_may_be_sent_drops_what_the_microphone_holds() -> None:
    audio = FakeAudio()
    pipeline = AudioPipeline(audio, AudioSettings(), Outbound())
    with pipeline.running(lambda notice: None):
        assert audio.mic is not None
        pipeline.resume_capture()
        pipeline.muted = True
        pipeline.muted = True  # no change
        pipeline.muted = False
        pipeline.pause_capture()
        assert audio.mic.drops == 4
