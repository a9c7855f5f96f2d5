"""The 60-minute connection cap: a rollover before it even when the service sends no
``expires_at`` (API versions before 2026-07-15), tested with the cap shortened to seconds.

The real client (run_chat, WAV audio) against the real simulator on loopback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import RecordingView
from tests.simulator_helpers import silence, speech_like
from tests.test_chat_simulator import read_wav, settings, write_wav
from voicelive.chat import run_chat
from voicelive.connection.supervisor import Timing
from voicelive.simulator import Simulator, SimulatorOptions

pytestmark = pytest.mark.slow  # two spoken turns in real time

SHORT_CAP = Timing(session_cap_s=5.0, rollover_lead_s=2.0, rollover_safety_s=0.5)


async def test_a_session_without_expires_at_rolls_over_before_the_cap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "voicelive")
    turns = [silence(0.3), speech_like(1.0, seed=1), silence(5.0), speech_like(1.2, seed=2)]
    wav = write_wav(tmp_path / "in.wav", np.concatenate([*turns, silence(1.0)]))
    view = RecordingView()
    async with Simulator(SimulatorOptions(speedup=4.0)) as sim:
        s = settings(sim, tmp_path, wav)
        s = dataclasses.replace(
            s, connection=dataclasses.replace(s.connection, api_version="2025-10-01")
        )
        code = await asyncio.wait_for(run_chat(s, view=view, stdin_fd=None, timing=SHORT_CAP), 40)
        connections = len(sim.connections)
    assert code == 0
    assert "expires_at=None" in caplog.text  # this API version announces no end
    assert connections >= 2
    assert "rollover: switched to session" in caplog.text
    assert not [text for kind, text in view.lines if "connection lost" in text.lower()]
    replies = [kind for kind, text in view.lines if kind == "assistant_end"]
    assert len(replies) == 2
    loud = np.flatnonzero(np.abs(read_wav(tmp_path / "out.wav").astype(np.int32)) > 300)
    assert loud.size > 24_000  # both replies were played, not only the first


async def test_without_reconnect_the_cap_is_warned_about(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "in.wav", np.concatenate([silence(0.3), speech_like(0.6)]))
    view = RecordingView()
    async with Simulator(SimulatorOptions(speedup=4.0)) as sim:
        s = settings(sim, tmp_path, wav)
        s = dataclasses.replace(
            s,
            connection=dataclasses.replace(s.connection, api_version="2025-10-01", reconnect=False),
        )
        task = asyncio.ensure_future(
            run_chat(
                s,
                view=view,
                stdin_fd=None,
                timing=Timing(session_cap_s=3600.0, expiry_warning_s=3600.0),
            )
        )
        warning = await view.wait_for("warning", "ends this session in", timeout=10)
        await asyncio.wait_for(task, 30)
    # 3600 s away when it was sent; a scheduling gap may round it down by one second
    assert re.match(r"The service ends this session in (3600|3599) s", warning), warning
