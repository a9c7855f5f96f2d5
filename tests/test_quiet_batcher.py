"""Quiet microphone blocks are batched; sound and the end of a turn are never delayed."""

from __future__ import annotations

import struct

import pytest

from tests.fakes import FakeAudio
from voicelive.audio.pipeline import AudioPipeline
from voicelive.audio.quiet_batcher import (
    PLAYBACK_HANGOVER_S,
    PlaybackActivity,
    QuietBatcher,
    is_quiet,
)
from voicelive.chat import QUIET_AFTER_MS, quiet_after_ms
from voicelive.config.settings import AudioSettings, TurnDetectionSettings
from voicelive.connection.outbound import Outbound

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


async def test_a_rollover_drops_nothing_the_microphone_holds() -> None:
    """A new session while capture runs (a rollover) is no change in what may be sent."""
    audio = FakeAudio()
    pipeline = AudioPipeline(audio, AudioSettings(), Outbound())
    with pipeline.running(lambda notice: None):
        assert audio.mic is not None
        pipeline.resume_capture()  # the first session
        pipeline.resume_capture()  # the next one, at a rollover
        assert audio.mic.drops == 1


# --------------------------------------------------------------------------------------------
# What may be held: certainly not speech (issue 18)


def level_block(amplitude: int) -> bytes:
    """A 20 ms block alternating +-``amplitude``: RMS = peak = ``amplitude`` / 32768."""
    return struct.pack(f"<{BLOCK}h", *[amplitude if i % 2 else -amplitude for i in range(BLOCK)])


ROOM = level_block(33)  # -60 dBFS RMS: a quiet room
"""-60 dBFS: quiet room noise, held."""


def settled(batcher: QuietBatcher, room: bytes = ROOM, blocks: int = 20) -> QuietBatcher:
    """``batcher`` after ``blocks`` of ``room``, holding nothing."""
    for _ in range(blocks):
        batcher.feed(room)
    batcher.flush()
    return batcher


def test_a_soft_block_a_vad_could_call_speech_goes_at_once_though_its_peaks_are_small() -> None:
    """-41 dBFS RMS (peaks 300, inside the old quiet band): the default VAD threshold
    (-40 dBFS per 10 ms frame in the simulator) is 1 dB away; it must not wait."""
    soft = level_block(300)
    assert is_quiet(soft)  # the peak band alone would hold it
    batcher = settled(QuietBatcher(block_ms=20, hold_ms=200, quiet_after_ms=0))
    assert batcher.feed(ROOM) is None
    assert batcher.feed(soft) == ROOM + soft


def test_a_level_rising_above_the_rooms_floor_goes_at_once_below_the_ceiling_too() -> None:
    """A soft onset at -53 dBFS, 7 dB over a -60 dBFS room: a VAD set sensitive could take it
    for speech, so it goes at once (with what was held) and the next blocks go one by one."""
    batcher = settled(QuietBatcher(block_ms=20, hold_ms=200, quiet_after_ms=100))
    for _ in range(6):  # past the 100 ms after the start
        batcher.feed(ROOM)
    assert batcher.feed(ROOM) is None
    rising = level_block(73)
    assert batcher.feed(rising) is not None
    assert batcher.held_blocks == 0
    assert batcher.feed(ROOM) == ROOM  # lively again after the rise


def test_steady_room_noise_with_small_wobbles_is_still_batched() -> None:
    batcher = settled(QuietBatcher(block_ms=20, hold_ms=200, quiet_after_ms=0))
    wobbling = [level_block(a) for a in (30, 36, 33, 39, 31, 35, 33, 38, 30, 34)]
    assert [batcher.feed(b) for b in wobbling[:9]] == [None] * 9
    assert batcher.feed(wobbling[9]) == b"".join(wobbling)


def test_the_floor_follows_a_room_that_got_louder_slowly_and_batching_resumes() -> None:
    """A fan starting (-60 -> -54 dBFS in steps): the first step is a rise, goes at once; the
    floor then follows and the louder room is batched again."""
    batcher = settled(QuietBatcher(block_ms=20, hold_ms=200, quiet_after_ms=0))
    fan = level_block(66)  # -54 dBFS
    assert batcher.feed(fan) == fan
    results = [batcher.feed(fan) for _ in range(500)]  # 10 s of the louder room
    assert results[-10:].count(None) == 9


def test_nothing_is_batched_while_the_speaker_plays_and_quiet_after_ms_past_it() -> None:
    """A barge-in must not wait: while the assistant's audio plays (and its hangover), every
    block goes at once; then, after quiet_after_ms, quiet blocks are held again."""
    now = [100.0]
    playback = PlaybackActivity(clock=lambda: now[0])
    batcher = settled(QuietBatcher(block_ms=20, hold_ms=200, quiet_after_ms=100, playback=playback))
    for _ in range(6):
        batcher.feed(ROOM)
    assert batcher.feed(ROOM) is None
    batcher.flush()
    playback.played()  # the speaker's callback handed assistant audio to the device
    assert [batcher.feed(ROOM) for _ in range(50)] == [ROOM] * 50  # 1 s: all at once
    now[0] += PLAYBACK_HANGOVER_S  # the speaker has been silent for its hangover
    assert [batcher.feed(ROOM) for _ in range(5)] == [ROOM] * 5  # quiet_after_ms after it
    assert batcher.feed(ROOM) is None


def test_the_playback_flag_is_set_only_by_audible_output() -> None:
    now = [5.0]
    playback = PlaybackActivity(clock=lambda: now[0])
    assert not playback.playing()
    playback.saw_output(bytes(960))  # silence (the jitter buffer's padding): not playing
    assert not playback.playing()
    playback.saw_output(bytes(958) + b"\x01\x00")
    assert playback.playing()
    now[0] += PLAYBACK_HANGOVER_S
    assert not playback.playing()
