"""The simulator's client echo reference: session rules, the canceller, and what its VAD hears.

A "room" plays the simulator's own reply back into the microphone (delayed, attenuated, a
little muffled): without a reference the simulator must hear itself and start a turn, as the
service does on open speakers; with the reference on channel 1 it must not, while a user
talking over the reply is still heard (and parroted) from channel 0.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from tests.simulator_helpers import (
    RATE,
    RawClient,
    best_correlation,
    raw_client,
    silence,
    speech_like,
    types,
    utterance,
)
from voicelive.simulator import Simulator, SimulatorOptions
from voicelive.simulator.echo import (
    BLOCK,
    EchoCanceller,
    delay_filter,
    estimate_path,
    split_stereo,
)
from voicelive.simulator.session import parse_features
from voicelive.simulator.vad import threshold_to_dbfs

FAST = SimulatorOptions(speedup=50.0)
FEATURES = "client_ec_reference:true"
CLIENT_EC = {"type": "server_echo_cancellation", "reference_source": "client", "channels": 2}
LOOP_DELAY_S = 0.0405
LOOP_GAIN = 0.3  # -10 dB, what the e2e tests' PulseAudio loop uses
VAD_DBFS = threshold_to_dbfs(0.5)  # -40 dBFS, the default server_vad threshold


def room(played: np.ndarray, delay_s: float = LOOP_DELAY_S, gain: float = LOOP_GAIN) -> np.ndarray:
    """What the microphone hears of ``played``: a fractional delay, a gain, a soft low-pass,
    and a -65 dBFS noise floor."""
    x = played.astype(np.float64)
    delayed = np.convolve(x, delay_filter(delay_s * RATE, gain, int(delay_s * RATE) + 32))
    muffled = np.convolve(delayed, [0.25, 0.5, 0.25])[: x.size]
    noise = np.random.default_rng(0).normal(0, 32768 * 10 ** (-65 / 20), x.size)
    return np.clip(np.round(muffled + noise), -32768, 32767).astype(np.int16)


def other_voice(seconds: float, amplitude: float = 0.2, seed: int = 5) -> np.ndarray:
    """A second talker, uncorrelated with ``speech_like`` (whose pitch track is the same for
    every seed): a higher, differently wandering pitch and its own syllable rate."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = 230 + 40 * np.sin(2 * np.pi * 0.7 * t + 1.0)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    wave = sum(np.sin(k * phase + k) / k for k in range(1, 5))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.1 * t) ** 2
    out = amplitude * 32767 * (wave / 2.1 * envelope + rng.normal(0, 0.05, t.size))
    return np.clip(out, -32768, 32767).astype(np.int16)


def levels_db(pcm: np.ndarray) -> np.ndarray:
    """10 ms frame levels in dBFS, as the simulator's VAD measures them."""
    frames = pcm[: pcm.size // 240 * 240].astype(np.float64).reshape(-1, 240) / 32768
    return np.asarray(20 * np.log10(np.sqrt((frames * frames).mean(axis=1)) + 1e-12))


def cancel(canceller: EchoCanceller, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
    chunks = [
        canceller.process(mic[i : i + 480], ref[i : i + 480]) for i in range(0, mic.size, 480)
    ]
    return np.concatenate(chunks)


def stereo(mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.stack([mic, ref], axis=1).reshape(-1).astype(np.int16)


# --------------------------------------------------------------------------------- the canceller


def test_estimate_path_finds_a_fractional_delay_and_its_gain() -> None:
    ref = speech_like(0.6, seed=3).astype(np.float64)
    mic = room(ref.astype(np.int16), delay_s=0.0623, gain=0.5).astype(np.float64)
    found = estimate_path(mic, ref, max_lag=4000)
    assert found is not None
    delay, gain = found
    assert abs(delay - (0.0623 * RATE + 1)) < 0.5  # the low-pass adds one sample
    assert gain == pytest.approx(0.5, rel=0.2)
    assert estimate_path(np.random.default_rng(1).normal(size=ref.size), ref, 4000) is None


def test_the_echo_stays_below_the_vad_threshold_from_the_start() -> None:
    ref = np.concatenate([silence(0.5), speech_like(3.0, seed=2), silence(0.3)])
    residual = cancel(EchoCanceller(), room(ref), ref)
    assert residual.size == ref.size, "20 ms chunks come back whole"
    assert levels_db(room(ref)).max() > VAD_DBFS + 10, "the echo itself would start a turn"
    assert levels_db(residual).max() < VAD_DBFS, "not one 10 ms frame of echo left above it"
    assert levels_db(residual[RATE:]).max() < VAD_DBFS - 20, "converged: > 30 dB down"


def test_a_user_talking_over_the_reply_passes_and_the_filter_holds() -> None:
    ref = np.concatenate([silence(0.5), speech_like(3.0, seed=2), silence(0.3)])
    near = np.zeros(ref.size, dtype=np.int16)
    near[2 * RATE : 2 * RATE + int(0.8 * RATE)] = other_voice(0.8)
    mic = np.clip(room(ref).astype(np.int32) + near, -32768, 32767).astype(np.int16)
    canceller = EchoCanceller()
    residual = cancel(canceller, mic, ref)
    talk = slice(2 * RATE, 2 * RATE + int(0.8 * RATE))
    assert (levels_db(residual[talk]) > VAD_DBFS).mean() > 0.9, "the user is heard"
    assert best_correlation(residual[talk], near[talk][RATE // 10 : -RATE // 10]) > 0.95
    after = residual[talk.stop + RATE // 10 : 3 * RATE + RATE // 2]
    assert levels_db(after).max() < VAD_DBFS, "the echo is still cancelled after double talk"


def test_a_jump_of_the_reference_is_followed_quickly() -> None:
    """A client's clock correction shifts the reference by 1 ms mid-reply: the simulator's
    VAD needs 200 ms of voice for a turn, the canceller leaks for well under that."""
    ref = np.concatenate([silence(0.5), speech_like(3.0, seed=2), silence(0.3)])
    cut = int(1.7 * RATE)
    sent = np.concatenate([ref[:cut], ref[cut - 24 : -24]])  # the reference repeats 1 ms
    residual = cancel(EchoCanceller(), room(ref), sent)
    voiced = levels_db(residual) >= VAD_DBFS
    assert voiced.sum() <= 12, f"{voiced.sum() * 10} ms of echo above the VAD threshold"


def test_without_any_echo_the_user_is_not_held_down() -> None:
    """Headphones: the reference plays, nothing comes back; a quiet user is heard."""
    ref = np.concatenate([silence(0.2), speech_like(2.0, seed=2)])
    near = np.zeros(ref.size, dtype=np.int16)
    near[RATE : RATE + RATE // 2] = other_voice(0.5, amplitude=0.05)  # about -30 dBFS
    canceller = EchoCanceller()
    residual = cancel(canceller, near, ref)
    assert canceller.seeds == 0
    talk = slice(RATE, RATE + RATE // 2)
    assert best_correlation(residual[talk], near[talk]) > 0.99
    gain_db = 10 * np.log10(
        np.mean(residual[talk].astype(float) ** 2) / np.mean(near[talk].astype(float) ** 2)
    )
    assert abs(gain_db) < 1.0, f"the user comes through at {gain_db:+.1f} dB"


def test_process_keeps_a_partial_block_for_the_next_chunk() -> None:
    canceller = EchoCanceller()
    zeros = np.zeros(BLOCK + 100, dtype=np.int16)
    assert canceller.process(zeros, zeros).size == BLOCK
    assert canceller.process(zeros[:140], zeros[:140]).size == BLOCK
    with pytest.raises(ValueError):
        canceller.process(zeros, zeros[:10])


def test_split_stereo_and_features() -> None:
    mic, ref = split_stereo(np.array([1, -1, 2, -2], dtype="<i2").tobytes())
    assert np.frombuffer(mic, "<i2").tolist() == [1, 2]
    assert np.frombuffer(ref, "<i2").tolist() == [-1, -2]
    assert parse_features("client_ec_reference:true, other:False") == {
        "client_ec_reference": "true",
        "other": "false",
    }
    assert parse_features(None) == {}


# --------------------------------------------------------------------------------- session rules


async def _update(client: RawClient, session: dict[str, Any]) -> dict[str, Any]:
    await client.send("session.update", session=session)
    event = (await client.until("session.updated", where=None))[-1]
    return event


async def _update_error(client: RawClient, session: dict[str, Any]) -> dict[str, Any]:
    await client.send("session.update", event_id="cli-ec", session=session)
    return dict((await client.until("error"))[-1]["error"])


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        (
            {"input_audio_echo_cancellation": {"type": "server_echo_cancellation", "channels": 2}},
            "invalid_ec_channels_requires_client",
            "session.input_audio_echo_cancellation.channels",
        ),
        (
            {
                "input_audio_echo_cancellation": {
                    "type": "server_echo_cancellation",
                    "reference_source": "client",
                    "channels": 1,
                }
            },
            "invalid_ec_reference_channels",
            "session.input_audio_echo_cancellation.channels",
        ),
        (
            {
                "input_audio_echo_cancellation": {
                    "type": "server_echo_cancellation",
                    "reference_source": "client",
                }
            },
            "invalid_ec_reference_channels",
            "session.input_audio_echo_cancellation.channels",
        ),
        (
            {"input_audio_echo_cancellation": {**CLIENT_EC, "channels": 3}},
            "invalid_ec_reference_channels",
            "session.input_audio_echo_cancellation.channels",
        ),
        (
            {"input_audio_echo_cancellation": {**CLIENT_EC, "reference_source": "browser"}},
            "invalid_value",
            "session.input_audio_echo_cancellation.reference_source",
        ),
        (
            {"input_audio_echo_cancellation": CLIENT_EC, "input_audio_format": "g711_ulaw"},
            "invalid_ec_channels_format",
            "session.input_audio_format",
        ),
    ],
)
async def test_invalid_echo_reference_configurations_are_refused(
    session: dict[str, Any], code: str, param: str
) -> None:
    async with Simulator(FAST) as sim, raw_client(sim, features=FEATURES) as client:
        error = await _update_error(client, session)
        assert (error["code"], error["param"], error["event_id"]) == (code, param, "cli-ec")
        updated = await _update(client, {"instructions": "still open"})
        assert updated["session"]["input_audio_echo_cancellation"] is None, "nothing changed"


async def test_a_client_reference_needs_the_features_flag() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        error = await _update_error(client, {"input_audio_echo_cancellation": CLIENT_EC})
        assert error["code"] == "invalid_value"
        assert "features=client_ec_reference:true" in error["message"]


async def test_a_client_reference_needs_2026_06_01_preview_or_later() -> None:
    async with (
        Simulator(FAST) as sim,
        raw_client(sim, api_version="2026-04-10", features=FEATURES) as client,
    ):
        error = await _update_error(client, {"input_audio_echo_cancellation": CLIENT_EC})
        assert error["code"] == "unknown_parameter"
    for version in ("2026-06-01-preview", "2026-07-15"):
        async with (
            Simulator(FAST) as sim,
            raw_client(sim, api_version=version, features=FEATURES) as client,
        ):
            updated = await _update(client, {"input_audio_echo_cancellation": CLIENT_EC})
            assert updated["session"]["input_audio_echo_cancellation"] == CLIENT_EC


async def test_the_channel_count_is_fixed_once_audio_was_sent() -> None:
    async with Simulator(FAST) as sim, raw_client(sim, features=FEATURES) as client:
        await _update(client, {"input_audio_echo_cancellation": CLIENT_EC})
        await client.append(stereo(silence(0.1), silence(0.1)), chunk_bytes=1920)
        error = await _update_error(client, {"input_audio_echo_cancellation": None})
        assert error["code"] == "change_in_ec_channels_not_allowed"
        await _update(client, {"input_audio_echo_cancellation": dict(CLIENT_EC)})  # same: fine


async def test_a_stereo_append_must_hold_whole_frames() -> None:
    async with Simulator(FAST) as sim, raw_client(sim, features=FEATURES) as client:
        await _update(client, {"input_audio_echo_cancellation": CLIENT_EC})
        audio = base64.b64encode(bytes(6)).decode()
        await client.send("input_audio_buffer.append", audio=audio)
        error = (await client.until("error"))[-1]["error"]
        assert error["code"] == "invalid_value" and "stereo frames" in error["message"]


# --------------------------------------------------------------------------------- what it hears


def _reply_audio(events: list[dict[str, Any]]) -> np.ndarray:
    chunks = [base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"]
    return np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.int16)


async def _first_reply(client: RawClient, with_reference: bool) -> np.ndarray:
    """Speak one utterance (nothing playing) and return the parrot reply's audio."""
    spoken = utterance(speech_s=1.5, lead_s=0.3, tail_s=0.8, seed=1)
    if with_reference:
        await client.append(stereo(spoken, np.zeros_like(spoken)), chunk_bytes=1920)
    else:
        await client.append(spoken)
    return _reply_audio(await client.until("response.done", timeout=10))


async def _play_back(
    client: RawClient, reply: np.ndarray, with_reference: bool, near: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """The reply plays on open speakers: send what the microphone hears (plus ``near``) for
    its length and 0.8 s after, then the events the simulator sent meanwhile."""
    played = np.concatenate([reply, silence(0.8)])
    mic = room(played).astype(np.int32)
    if near is not None:
        mic[: near.size] += near
    heard = np.clip(mic, -32768, 32767).astype(np.int16)
    if with_reference:
        await client.append(stereo(heard, played), chunk_bytes=1920)
    else:
        await client.append(heard)
    # A marker: a session change waits until all audio appended before it has been heard.
    await client.send("session.update", session={"instructions": "marker"})
    return await client.until("session.updated", timeout=10)


async def test_without_a_reference_the_simulator_hears_its_own_reply() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        reply = await _first_reply(client, with_reference=False)
        assert levels_db(room(reply)).max() > VAD_DBFS + 10
        events = await _play_back(client, reply, with_reference=False)
        assert "input_audio_buffer.speech_started" in types(events)


async def test_with_the_reference_its_own_reply_does_not_start_a_turn() -> None:
    async with Simulator(FAST) as sim, raw_client(sim, features=FEATURES) as client:
        await _update(client, {"input_audio_echo_cancellation": CLIENT_EC})
        reply = await _first_reply(client, with_reference=True)
        assert best_correlation(reply, utterance(1.5, 0.3, 0.8)[RATE // 2 : RATE]) > 0.99
        events = await _play_back(client, reply, with_reference=True)
        assert "input_audio_buffer.speech_started" not in types(events)


async def test_with_the_reference_a_user_talking_over_the_reply_is_heard_and_parroted() -> None:
    async with Simulator(FAST) as sim, raw_client(sim, features=FEATURES) as client:
        await _update(client, {"input_audio_echo_cancellation": CLIENT_EC})
        reply = await _first_reply(client, with_reference=True)
        near = np.concatenate([silence(0.6), other_voice(0.7)])
        events = await _play_back(client, reply, with_reference=True, near=near)
        started = [e for e in events if e["type"] == "input_audio_buffer.speech_started"]
        assert len(started) == 1, types(events)
        second = _reply_audio(events) if "response.done" in types(events) else None
        if second is None or second.size == 0:
            second = _reply_audio(await client.until("response.done", timeout=10))
        talk = near[int(0.6 * RATE) + RATE // 10 : -RATE // 10]
        assert best_correlation(second, talk) > 0.9, "the parrot repeats the user, not the echo"
