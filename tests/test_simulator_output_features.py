"""Issue 20 items 2 to 4: word timestamps, visemes, the wider formats and the tolerant schema.

Real simulator on loopback, driven by the hand-rolled client; every event the new features
emit must deserialize into the SDK's own model (``check_event``).
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

import numpy as np
import pytest

from tests.simulator_helpers import RawClient, raw_client, types, utterance
from tests.test_simulator_sdk_conformance import check_event
from voicelive.simulator import Simulator, SimulatorOptions
from voicelive.simulator import audio as sim_audio
from voicelive.simulator.animation import VISEME_MS

FAST = SimulatorOptions(speedup=50.0)
ASK_BOTH = {"output_audio_timestamp_types": ["word"], "animation": {"outputs": ["viseme_id"]}}


async def _update(client: RawClient, session: dict[str, Any]) -> dict[str, Any]:
    await client.send("session.update", event_id="upd", session=session)
    last = (await client.until("session.updated", where=lambda e: True))[-1]
    return last


async def _turn(client: RawClient) -> list[dict[str, Any]]:
    await client.append(utterance(speech_s=1.2))
    return await client.until("response.done", timeout=10)


def _audio_ms(events: list[dict[str, Any]]) -> int:
    data = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"
    )
    return len(data) // 2 * 1000 // 24_000


async def test_word_timestamps_and_visemes_cover_the_reply_audio() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        updated = await _update(client, ASK_BOTH)
        assert updated["type"] == "session.updated"
        events = await _turn(client)
    names = types(events)
    stamps = [e for e in events if e["type"] == "response.audio_timestamp.delta"]
    visemes = [e for e in events if e["type"] == "response.animation_viseme.delta"]
    transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")
    audio_ms = _audio_ms(events)
    # One timestamp per transcript word, in order, tiling the reply audio.
    assert [s["text"] for s in stamps] == transcript["transcript"].split()
    assert stamps[0]["audio_offset_ms"] == 0
    for before, after in itertools.pairwise(stamps):
        assert after["audio_offset_ms"] == before["audio_offset_ms"] + before["audio_duration_ms"]
    last = stamps[-1]
    assert last["audio_offset_ms"] + last["audio_duration_ms"] == pytest.approx(audio_ms, abs=2)
    # Visemes at a steady step over the audio, closed by a silence viseme at its end.
    offsets = [v["audio_offset_ms"] for v in visemes]
    assert offsets[:-1] == list(range(0, audio_ms, VISEME_MS))
    assert visemes[-1]["viseme_id"] == 0 and offsets[-1] == pytest.approx(audio_ms, abs=2)
    assert all(0 <= v["viseme_id"] <= 21 for v in visemes)
    assert len({v["viseme_id"] for v in visemes}) > 3  # the mouth moves
    # Each stream is closed before the audio's own .done, and all use the SDK's shapes.
    audio_done = names.index("response.audio.done")
    assert names.index("response.audio_timestamp.done") < audio_done
    assert names.index("response.animation_viseme.done") < audio_done
    assert max(events.index(e) for e in stamps + visemes) < audio_done
    ids = {(e["response_id"], e["item_id"]) for e in stamps + visemes}
    assert len(ids) == 1
    for event in events:
        if "timestamp" in event["type"] or "viseme" in event["type"]:
            check_event(event)


async def test_without_asking_there_are_no_timestamps_or_visemes() -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        events = await _turn(client)
    assert not [n for n in types(events) if "timestamp" in n or "viseme" in n]


@pytest.mark.parametrize(
    ("fmt", "rate"),
    [
        ("pcm16_22050hz", 22_050),
        ("pcm16_24000hz", 24_000),
        ("pcm16_44100hz", 44_100),
        ("pcm16_48000hz", 48_000),
        ("pcm16_8000hz", 8_000),
    ],
)
async def test_pcm16_output_formats_carry_audio_at_their_rate(fmt: str, rate: int) -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        }
        await client.send("conversation.item.create", item=item)
        await client.send("response.create")
        reference = await client.until("response.done")
        updated = await _update(client, {"output_audio_format": fmt})
        assert updated["session"]["output_audio_format"] == fmt
        await client.send("response.create")
        events = await client.until("response.done")
    seconds = _audio_ms(reference) / 1000
    wire = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"
    )
    assert len(wire) // 2 == pytest.approx(seconds * rate, rel=0.01)
    assert sim_audio.output_rate(fmt) == rate


async def test_input_at_44_1_khz_is_heard_where_it_was_said() -> None:
    pcm = utterance(speech_s=1.0, lead_s=0.5, tail_s=0.8)
    at_44k = sim_audio.resample(pcm, 24_000, 44_100)
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        updated = await _update(client, {"input_audio_sampling_rate": 44_100})
        assert updated["session"]["input_audio_sampling_rate"] == 44_100
        await client.append(at_44k, chunk_bytes=1764)  # 20 ms at 44.1 kHz
        events = await client.until("input_audio_buffer.speech_stopped")
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    assert started["audio_start_ms"] == pytest.approx(500 - 400, abs=20)  # onset - padding
    assert events[-1]["audio_end_ms"] == pytest.approx(1500 + 500, abs=20)


@pytest.mark.parametrize("api_version", ["2025-10-01", "2026-07-15"])
@pytest.mark.parametrize(
    "session",
    [
        # What Microsoft's live suite sends; the service takes it (accepted and logged).
        {
            "turn_detection": {
                "type": "azure_semantic_vad",
                "speech_duration_assistant_speaking_ms": 800,
            }
        },
        {"turn_detection": {"type": "server_vad", "speech_duration_assistant_speaking_ms": 0}},
        {
            "input_audio_echo_cancellation": {
                "type": "server_echo_cancellation",
                "reference_source": "server",
                "channels": 1,
            }
        },
    ],
)
async def test_what_the_live_suite_sends_is_accepted(
    api_version: str, session: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="voicelive.simulator.session")
    async with Simulator(FAST) as sim, raw_client(sim, api_version=api_version) as client:
        updated = await _update(client, session)
    assert updated["type"] == "session.updated", updated
    key = next(iter(session))
    assert updated["session"][key] == {**updated["session"][key], **session[key]}
    if "turn_detection" in session or api_version == "2025-10-01":
        assert "session.update: accepted" in caplog.text


@pytest.mark.parametrize(
    ("session", "param"),
    [
        (
            {
                "turn_detection": {
                    "type": "server_vad",
                    "speech_duration_assistant_speaking_ms": "x",
                }
            },
            "session.turn_detection.speech_duration_assistant_speaking_ms",
        ),
        ({"output_audio_format": "pcm16_12345hz"}, "session.output_audio_format"),
        ({"input_audio_sampling_rate": 48_000}, "session.input_audio_sampling_rate"),
    ],
)
async def test_what_no_evidence_supports_is_still_refused(
    session: dict[str, Any], param: str
) -> None:
    async with Simulator(FAST) as sim, raw_client(sim) as client:
        await client.send("session.update", event_id="upd", session=session)
        error = (await client.until("error"))[-1]["error"]
    assert error["param"] == param


def test_word_timings_are_proportional_to_word_length() -> None:
    from voicelive.simulator.animation import word_timings

    timings = word_timings("a bbb", 600)
    assert [(t.text, t.audio_offset_ms, t.audio_duration_ms) for t in timings] == [
        ("a", 0, 200),
        ("bbb", 200, 400),
    ]
    assert np.sum([t.audio_duration_ms for t in word_timings("one two three", 1001)]) == 1001
