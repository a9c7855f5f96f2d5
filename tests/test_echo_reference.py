"""The echo reference aligner: ring, stream clocks, speaker and microphone taps (pure, no I/O)."""

from __future__ import annotations

import numpy as np
import pytest

from voicelive.audio.echo_reference import (
    CLOCK_JUMP_S,
    EchoLink,
    EchoReference,
    PlayedTap,
    StreamClock,
    grid_position,
    interleave,
    microphone_channel,
    monotonic_time,
)
from voicelive.audio.resample import PullResampler

RATE = 24_000
T0 = 5000.0  # a monotonic clock value far from zero, as on a long-running machine


def pcm(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype="<i2").tobytes()


def ramp(n: int, start: int = 1) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int16)


# --------------------------------------------------------------------------------- the ring


def test_read_returns_what_played_at_that_position() -> None:
    ref = EchoReference()
    ref.played(pcm(ramp(480)), 1000)
    assert list(ref.read(1000, 480)) == list(ramp(480))
    assert list(ref.read(1100, 10)) == list(ramp(10, start=101))


def test_nothing_played_reads_as_silence() -> None:
    ref = EchoReference()
    assert not ref.read(0, 480).any()
    ref.played(pcm(ramp(100)), 1000)
    before, after = ref.read(900, 100), ref.read(1100, 100)
    assert not before.any() and not after.any(), "before the first and after the last write"
    partly = ref.read(1050, 100)
    assert list(partly[:50]) == list(ramp(50, start=51)) and not partly[50:].any()


def test_a_gap_between_writes_is_silence_and_old_audio_does_not_leak() -> None:
    ref = EchoReference(history_s=0.1)  # 2400 samples
    ref.played(pcm(np.full(2400, 7)), 0)  # fills the whole ring
    ref.played(pcm(np.full(100, 9)), 3000)  # the speaker stopped, then played again
    assert ref.gaps == 1
    assert not ref.read(2400, 600).any(), "the gap is silence, not what the ring held before"
    assert (ref.read(3000, 100) == 9).all()


def test_writes_continue_exactly_within_one_sample() -> None:
    ref = EchoReference()
    ref.played(pcm(ramp(100)), 1000)
    ref.played(pcm(ramp(100, start=101)), 1101)  # rounding put it one sample late
    ref.played(pcm(ramp(100, start=201)), 1199)  # and one early
    assert ref.gaps == 0
    assert list(ref.read(1000, 300)) == list(ramp(300))


def test_ring_wraps_and_forgets_beyond_its_history() -> None:
    ref = EchoReference(history_s=0.01)  # 240 samples
    for k in range(10):
        ref.played(pcm(ramp(100, start=100 * k + 1)), 5000 + 100 * k)
    assert list(ref.read(5900, 100)) == list(ramp(100, start=901))
    assert list(ref.read(5780, 220)) == list(ramp(220, start=781)), "across the wrap"
    assert not ref.read(5000, 100).any(), "older than the history: silence"


def test_an_overlapping_rewrite_replaces_the_audio() -> None:
    ref = EchoReference()
    ref.played(pcm(np.full(200, 5)), 1000)
    ref.played(pcm(np.full(100, 6)), 1050)  # a resync backwards
    got = ref.read(1000, 200)
    assert (got[:50] == 5).all() and (got[50:150] == 6).all() and not got[150:].any()


# --------------------------------------------------------------------------------- the clock


def test_clock_positions_follow_exact_reports() -> None:
    clock = StreamClock()
    for k in range(100):
        clock.block(T0 + k * 0.02, 480)
    assert clock.position(0) == grid_position(T0)
    assert clock.position(480 * 100) == grid_position(T0) + 48_000
    assert clock.resyncs == 0


def test_clock_ignores_wander_and_settles_on_the_average() -> None:
    """Reports wandering ±2.5 ms over seconds (measured on PulseAudio), with a first report
    4 ms off: the counted positions settle within a millisecond of the truth and move rarely."""
    rng = np.random.default_rng(3)
    clock = StreamClock()
    positions = []
    for k in range(1000):  # 20 s of 20 ms blocks
        wander = 0.0025 * np.sin(2 * np.pi * k / 130) + rng.normal(0, 0.0003)
        first = 0.004 if k == 0 else 0.0
        clock.block(T0 + k * 0.02 + wander + first, 480)
        clock.settle()  # as if every block were quiet
        positions.append(clock.position(480 * k) - 480 * k)
    truth = grid_position(T0)
    settled = np.array(positions[200:])
    assert np.abs(settled - truth).max() <= 24, "within 1 ms after 4 s"
    assert np.count_nonzero(np.diff(settled)) <= 6, "a few corrections, not one per block"
    assert clock.resyncs == 0


def test_clock_follows_drift_between_device_and_monotonic_clock() -> None:
    clock = StreamClock()
    drift = 100e-6  # the device's clock runs 100 ppm fast
    errors = []
    for k in range(3000):  # 60 s
        true_start = T0 + k * 0.02 * (1 - drift)
        clock.block(true_start, 480)
        if k % 50 == 0:
            clock.settle()  # a pause once a second
        errors.append(clock.position(480 * k) - grid_position(true_start))
    assert max(abs(e) for e in errors[500:]) <= 48, "within 2 ms"


def test_clock_proposes_a_correction_and_forces_only_a_large_one() -> None:
    clock = StreamClock()
    clock.block(T0, 480)
    for k in range(1, 4):
        clock.block(T0 + k * 0.02 + 0.003, 480)  # 3 ms later than counted
    assert clock.pending and clock.position(0) == grid_position(T0), "proposed, not applied"
    clock.settle()
    assert not clock.pending and clock.corrections == 1
    # the mean of the reports after the first 40 ms (the start-up transient)
    assert abs(clock.position(0) - grid_position(T0 + 0.003)) <= 1
    for k in range(4, 40):
        clock.block(T0 + k * 0.02 + 0.012, 480)  # drifting away under continuous sound
    assert clock.corrections >= 2, "beyond CLOCK_FORCE_S it is applied without a settle"
    assert clock.resyncs == 0


def test_clock_skips_the_start_up_transient_of_a_stream() -> None:
    """Measured on PulseAudio: after a start, five 5 ms callbacks come back-to-back with DAC
    times as if the device ran; from the sixth on the reports are 1-5 ms later, and steady."""
    rng = np.random.default_rng(5)
    for later in (0.0013, 0.0033, 0.0053):
        clock = StreamClock()
        for k in range(200):  # 1 s of 5 ms blocks
            transient = 0.0 if k < 5 else later
            clock.block(T0 + k * 0.005 + transient + rng.normal(0, 0.0001), 120)
            clock.settle()
        assert abs(clock.position(0) - grid_position(T0 + later)) <= 3, "within 1/8 ms"
        assert clock.corrections == (1 if later >= 0.001 else 0), "one step, not a walk"


def test_clock_resyncs_at_once_on_a_jump() -> None:
    clock = StreamClock()
    for k in range(10):
        clock.block(T0 + k * 0.02, 480)
    jump = CLOCK_JUMP_S + 0.03
    clock.block(T0 + 10 * 0.02 + jump, 480)  # an overflow lost 55 ms
    assert clock.resyncs == 1
    assert clock.position(4800) == grid_position(T0 + 0.2 + jump)


def test_clock_without_a_block_has_no_position() -> None:
    with pytest.raises(RuntimeError):
        StreamClock().position(0)


def test_monotonic_time_moves_stream_time_onto_the_monotonic_clock() -> None:
    import time

    before = time.monotonic()
    got = monotonic_time(stream_time=1_000_000.030, current_time=1_000_000.000)
    after = time.monotonic()
    assert before + 0.030 <= got <= after + 0.030
    assert before <= monotonic_time(0.0, 0.0) <= time.monotonic(), "no times reported: now"


# --------------------------------------------------------------------------------- the taps


def test_interleave_puts_the_microphone_on_channel_0() -> None:
    stereo = np.frombuffer(interleave(pcm([1, 2, 3]), np.array([7, 8, 9], np.int16)), "<i2")
    assert list(stereo) == [1, 7, 2, 8, 3, 9]


def test_microphone_channel_takes_channel_0_back() -> None:
    stereo = interleave(pcm([1, 2, 3]), np.array([7, 8, 9], np.int16))
    assert microphone_channel(stereo) == pcm([1, 2, 3])


def test_link_hands_on_stereo_or_mono_and_records_the_pair() -> None:
    recorded: list[bytes] = []
    mono_link = EchoLink(stereo=False, record=recorded.append)
    mono_link.reference.played(pcm([5, 6]), 100)
    assert mono_link.pair(pcm([1, 2]), 100) == pcm([1, 2])
    assert recorded == [pcm([1, 5, 2, 6])]
    stereo_link = EchoLink(stereo=True)
    assert stereo_link.pair(pcm([1, 2]), 100) == pcm([1, 0, 2, 0]), "silence when nothing played"


def test_link_summary_counts_each_sides_corrections_and_the_gaps() -> None:
    link = EchoLink(stereo=True)
    tap = link.played_tap(lambda view: None, 24_000)
    tap.block(T0, 120)
    tap.pull_into(memoryview(bytearray(240)))
    tap.block(T0 + 1.0, 120)  # the stream was stopped for a second
    tap.pull_into(memoryview(bytearray(240)))
    link.capture_tap(lambda block: None, 24_000)
    assert link.summary() == (
        "echo reference: speaker clock 0 correction(s), 1 resync(s); "
        "microphone clock 0 correction(s), 0 resync(s); 1 gap(s) in playback"
    )


def test_played_tap_writes_what_it_pulls_at_its_dac_time() -> None:
    link = EchoLink(stereo=True)
    source = iter(range(1, 10_000))

    def pull(view: memoryview) -> str:
        view[:] = pcm([next(source) for _ in range(len(view) // 2)])
        return "notice"

    tap = link.played_tap(pull, 24_000)
    out = bytearray(240)
    for k in range(3):
        tap.block(T0 + 0.03 + k * 0.005, 120)
        assert tap.pull_into(memoryview(out)) == "notice"
    start = grid_position(T0 + 0.03)
    assert list(link.reference.read(start, 360)) == list(range(1, 361))


class _World:
    """A room at the device rate: what the speaker put out at each instant, heard at once by
    the microphone (no acoustic delay). Positions are device-rate samples of monotonic time."""

    def __init__(self, rate: int, seconds: float) -> None:
        self.rate = rate
        self.air = np.zeros(int((T0 + seconds + 1) * rate) - int(T0 * rate), dtype=np.int16)

    def index(self, t: float) -> int:
        return round(t * self.rate) - int(T0 * self.rate)


@pytest.mark.parametrize(
    ("rate", "out_block", "in_block"), [(24_000, 120, 480), (48_000, 441, 960)]
)
def test_resampled_devices_pair_the_microphone_with_what_played_at_that_instant(
    rate: int, out_block: int, in_block: int
) -> None:
    """Speaker and microphone at ``rate`` (resampled to 24 kHz when it is 48 kHz), odd block
    sizes, the speaker's DAC time 30 ms ahead of its callback: the echo in channel 0 and the
    reference in channel 1 line up to within a sample or two."""
    seconds = 3.0
    rng = np.random.default_rng(7)
    signal = (rng.normal(0, 3000, int(seconds * RATE))).astype(np.int16)  # session rate
    world = _World(rate, seconds)
    link = EchoLink(stereo=True)
    offset = [0]

    def pull(view: memoryview) -> None:
        n = len(view) // 2
        view[:] = pcm(signal[offset[0] : offset[0] + n]).ljust(len(view), b"\0")
        offset[0] += n

    tap = PlayedTap(link.reference, pull, rate)
    fill = tap.pull_into if rate == RATE else PullResampler(RATE, rate, tap.pull_into).fill
    delivered: list[bytes] = []
    capture = link.capture_tap(delivered.append, rate)

    out_t, in_t = T0, T0  # device stream start times
    out = bytearray(out_block * 2)
    while in_t < T0 + seconds - 0.1:
        if out_t <= in_t + in_block / rate:  # the speaker runs first: it writes ahead
            dac = out_t + 0.030
            tap.block(dac, out_block)
            fill(memoryview(out))
            i = world.index(dac)
            world.air[i : i + out_block] = np.frombuffer(out, "<i2")
            out_t += out_block / rate
        else:
            i = world.index(in_t)
            capture(world.air[i : i + in_block].tobytes(), in_t)
            in_t += in_block / rate

    stereo = np.frombuffer(b"".join(delivered), "<i2").reshape(-1, 2).astype(np.float64)
    mic, ref = stereo[RATE // 2 :, 0], stereo[RATE // 2 :, 1]  # after the start-up
    assert np.abs(ref).max() > 0 and np.abs(mic).max() > 0
    lags = range(-24, 25)
    corr = [float(np.dot(mic[24:-24], np.roll(ref, lag)[24:-24])) for lag in lags]
    best = list(lags)[int(np.argmax(corr))]
    assert abs(best) <= 1, f"echo and reference {best} samples apart"
    if rate == RATE:
        assert np.array_equal(mic, ref), "no resampling: bit-exact"
