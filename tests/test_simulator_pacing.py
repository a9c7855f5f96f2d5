"""Appended audio is heard at the pace of speech (speedup x real time), not all at once.

Microsoft's live suite appends two questions in one message and expects a spoken reply to
the first: the reply must get to speak before the second question barges in.
"""

from __future__ import annotations

import asyncio
import base64

import numpy as np
import pytest

from tests.simulator_helpers import RATE, raw_client, silence, speech_like, types, utterance
from voicelive.simulator import Simulator, SimulatorOptions


async def test_two_questions_in_one_append_get_a_reply_before_the_barge_in() -> None:
    two = np.concatenate([silence(0.2), speech_like(1.0), silence(1.5), speech_like(1.0, seed=2)])
    async with Simulator(SimulatorOptions(speedup=4.0)) as sim, raw_client(sim) as client:
        await client.append(two, chunk_bytes=two.size * 2)  # one message, as the suite does
        await client.until("input_audio_buffer.speech_started")
        events = await client.until("input_audio_buffer.speech_started", timeout=10)
    names = types(events)
    assert "response.audio.delta" in names, names  # the first reply spoke before the barge-in
    assert names.index("response.created") < names.index("response.audio.delta")


async def test_a_whole_recording_is_heard_no_faster_than_speedup_times_real_time() -> None:
    speedup = 10.0
    pcm = utterance(speech_s=1.0, lead_s=0.5, tail_s=0.8)  # speech_stopped at 2.0 s of audio
    async with Simulator(SimulatorOptions(speedup=speedup)) as sim, raw_client(sim) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.append(pcm, chunk_bytes=pcm.size * 2)
        stopped = (await client.until("input_audio_buffer.speech_stopped"))[-1]
        elapsed = loop.time() - started
    assert stopped["audio_end_ms"] == pytest.approx(2000, abs=20)
    assert elapsed >= 0.9 * 2.0 / speedup


async def test_commit_and_session_update_hear_everything_appended_before_them() -> None:
    async with Simulator(SimulatorOptions(speedup=1.0)) as sim, raw_client(sim) as client:
        await client.send("session.update", session={"turn_detection": None})
        await client.until("session.updated")
        one_second = speech_like(1.0)
        await client.append(one_second, chunk_bytes=one_second.size * 2)
        await client.send("input_audio_buffer.commit")  # at once: 1 s of audio takes 1 s to hear
        committed = (await client.until("input_audio_buffer.committed", timeout=2))[-1]
        await client.send("conversation.item.retrieve", item_id=committed["item_id"])
        item = (await client.until("conversation.item.retrieved"))[-1]["item"]
    audio = base64.b64decode(item["content"][0]["audio"])
    assert len(audio) // 2 == RATE


async def test_clear_forgets_audio_not_yet_heard() -> None:
    async with Simulator(SimulatorOptions(speedup=1.0)) as sim, raw_client(sim) as client:
        speech = utterance(speech_s=1.0, lead_s=0.5, tail_s=0.8)
        await client.append(speech, chunk_bytes=speech.size * 2)
        await client.send("input_audio_buffer.clear")
        await client.until("input_audio_buffer.cleared", timeout=2)
        await client.send("input_audio_buffer.commit")
        error = (await client.until("error"))[-1]["error"]
    assert error["code"] == "input_audio_buffer_commit_empty"
