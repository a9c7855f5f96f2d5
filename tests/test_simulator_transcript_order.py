"""Issue 20 item 5: the input transcription comes on either side of the reply's start.

The service transcribes alongside the response, so a client must not assume "transcript
first". The simulator picks the side per turn from a seeded stream (default ``either``), or
always one side when ``transcript_order`` says so.
"""

from __future__ import annotations

import pytest

from tests.simulator_helpers import RawClient, raw_client, types, utterance
from voicelive.simulator import Simulator, SimulatorOptions
from voicelive.simulator.transcription import TranscriptOrder

COMPLETED = "conversation.item.input_audio_transcription.completed"
TRANSCRIBE = {"input_audio_transcription": {"model": "azure-speech", "language": "en-US"}}


async def _turn_order(client: RawClient) -> list[str]:
    """The order of the turn's transcript events and the reply's start, as received."""
    await client.append(utterance(speech_s=0.6, lead_s=0.2, tail_s=0.7))
    events = await client.until("response.done", timeout=10)
    wanted = ("response.created", "conversation.item.input_audio_transcription.delta", COMPLETED)
    return [name for name in types(events) if name in wanted]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("before", [COMPLETED.replace("completed", "delta"), COMPLETED, "response.created"]),
        ("after", ["response.created", COMPLETED.replace("completed", "delta"), COMPLETED]),
    ],
)
async def test_a_fixed_order_is_kept(order: str, expected: list[str]) -> None:
    options = SimulatorOptions(speedup=50.0, transcript_order=order)
    async with Simulator(options) as sim, raw_client(sim) as client:
        await client.send("session.update", session=TRANSCRIBE)
        await client.until("session.updated")
        assert await _turn_order(client) == expected
        assert await _turn_order(client) == expected


async def test_by_default_both_orders_occur_and_a_seed_repeats_them() -> None:
    runs: list[list[bool]] = []
    for _ in range(2):
        async with Simulator(SimulatorOptions(speedup=50.0, seed=7)) as sim:
            async with raw_client(sim) as client:
                await client.send("session.update", session=TRANSCRIBE)
                await client.until("session.updated")
                firsts = [(await _turn_order(client))[0] == "response.created" for _ in range(6)]
            runs.append(firsts)
    assert runs[0] == runs[1], "the same seed gives the same orders"
    assert set(runs[0]) == {True, False}, "six turns see both orders"
    assert SimulatorOptions().transcript_order == "either"


def test_the_order_stream_is_seeded_and_validated() -> None:
    first, second = TranscriptOrder("either", 3), TranscriptOrder("either", 3)
    draws = [first.after_response_created() for _ in range(20)]
    assert draws == [second.after_response_created() for _ in range(20)]
    assert set(draws) == {True, False}
    with pytest.raises(ValueError, match="transcript_order"):
        TranscriptOrder("sideways")
