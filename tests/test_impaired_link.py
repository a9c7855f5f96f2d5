"""The real client (run_chat, WAV audio) through an impaired loopback link to the simulator:
a stall mid-reply shorter than the keepalive is ridden out; a longer one reconnects."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import RecordingView
from tests.impaired_link import ImpairedLink
from tests.simulator_helpers import silence, speech_like
from tests.test_chat_simulator import settings, write_wav
from voicelive.chat import run_chat
from voicelive.config.settings import Settings
from voicelive.simulator import Simulator, SimulatorOptions

pytestmark = pytest.mark.slow  # real-time replies and a 3 s stall


def through(link: ImpairedLink, s: Settings, **conn: object) -> Settings:
    connection = dataclasses.replace(s.connection, endpoint=link.endpoint, **conn)  # type: ignore[arg-type]
    return dataclasses.replace(s, connection=connection)


async def stall_mid_reply(view: RecordingView, link: ImpairedLink, seconds: float) -> None:
    await view.wait_for("assistant", timeout=20)  # the reply has begun arriving
    link.stall(seconds)


async def test_a_3_s_stall_mid_reply_does_not_reconnect_and_the_reply_goes_on(
    tmp_path: Path,
) -> None:
    wav = write_wav(
        tmp_path / "in.wav", np.concatenate([silence(0.3), speech_like(2.0), silence(6)])
    )
    view = RecordingView()
    async with (
        Simulator(SimulatorOptions(speedup=1.0)) as sim,
        ImpairedLink(sim.port, delay_ms=50, jitter_ms=20) as link,
    ):
        s = through(link, settings(sim, tmp_path, wav))
        chat = asyncio.ensure_future(run_chat(s, view=view, stdin_fd=None))
        await stall_mid_reply(view, link, 3.0)
        code = await asyncio.wait_for(chat, 40)
    assert code == 0
    assert link.connections == 1 and len(sim.connections) == 1
    assert [text for kind, text in view.lines if kind == "assistant_end"] == [""]  # not cut
    assert not [text for _, text in view.lines if "connection lost" in text]


async def test_a_stall_longer_than_the_keepalive_reconnects(tmp_path: Path) -> None:
    wav = write_wav(
        tmp_path / "in.wav", np.concatenate([silence(0.3), speech_like(2.0), silence(8)])
    )
    view = RecordingView()
    async with (
        Simulator(SimulatorOptions(speedup=1.0)) as sim,
        ImpairedLink(sim.port, delay_ms=50, jitter_ms=20) as link,
    ):
        s = through(link, settings(sim, tmp_path, wav), keepalive_s=0.5)
        chat = asyncio.ensure_future(run_chat(s, view=view, stdin_fd=None))
        await stall_mid_reply(view, link, 3.0)
        lost = await view.wait_for("warning", "connection lost", timeout=20)
        reconnected = await view.wait_for("info", "reconnected after", timeout=20)
        code = await asyncio.wait_for(chat, 40)
    assert code == 0, view.lines
    assert link.connections == 2 and len(sim.connections) == 2
    assert "no close frame" in lost  # the keepalive gave up on the silent link
    assert reconnected
