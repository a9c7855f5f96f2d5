"""Foundry agent mode end to end: the real client (flags → settings → run_chat, WAV audio)
against the real simulator on 127.0.0.1:0.

Agent sessions take Entra ID only (the client refuses an API key with --agent), so the client
gets an :class:`~voicelive.auth.Auth` that hands out a Bearer token, as ``EntraAuth`` would,
without azure-identity.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np

from tests.fakes import RecordingView
from tests.simulator_helpers import silence, speech_like
from tests.test_chat_simulator import RATE, loud_span, read_wav, write_wav
from voicelive.chat import run_chat
from voicelive.config.resolve import resolve_settings
from voicelive.config.settings import AgentSettings
from voicelive.simulator import Simulator, SimulatorOptions


def aligned_correlation(signal: np.ndarray, part: np.ndarray) -> float:
    """Normalised correlation of ``part`` with ``signal`` at the best sample offset (1.0 = the
    samples are there unchanged)."""
    sig, ref = signal.astype(np.float64), part.astype(np.float64)
    offset = int(np.argmax(np.correlate(sig, ref, "valid")))
    window = sig[offset : offset + ref.size]
    return float(np.dot(window, ref) / (np.linalg.norm(window) * np.linalg.norm(ref)))


class BearerAuth:
    """What EntraAuth sends, from a fixed token; counts its uses."""

    description = "test Entra token"

    def __init__(self) -> None:
        self.handshakes = 0
        self.closed = False

    async def headers(self) -> dict[str, str]:
        self.handshakes += 1
        return {"Authorization": "Bearer entra-token-for-tests"}

    async def close(self) -> None:
        self.closed = True


async def test_a_turn_with_an_agent_over_entra_id(tmp_path: Path) -> None:
    spoken = speech_like(1.2, seed=5)
    wav = write_wav(tmp_path / "in.wav", np.concatenate([silence(0.4), spoken]))
    flags = {
        "endpoint": "",  # replaced below, once the simulator has a port
        "agent": "trip-planner",
        "agent_project": "contoso-travel",
        "agent_version": "4",
        "conversation_id": "conv_77",
        "voice": "en-US-AvaNeural",
        "input_file": str(wav),
        "output_file": str(tmp_path / "out.wav"),
        "log_file": "none",
    }
    record = tmp_path / "frames.jsonl"
    auth = BearerAuth()
    view = RecordingView()
    async with Simulator(SimulatorOptions(speedup=4.0, record_path=record)) as sim:
        settings = resolve_settings({**flags, "endpoint": sim.endpoint}, environ={})
        assert settings.connection.agent == AgentSettings(
            "trip-planner", "contoso-travel", "4", "conv_77"
        )
        code = await asyncio.wait_for(run_chat(settings, view=view, auth=auth, stdin_fd=None), 30)
        handshake = sim.handshakes[0]
        (update,) = sim.connections[0].of_type("session.update")
    assert code == 0
    # the handshake names the agent, not a model, and carries the Entra token, not a key
    query = handshake["query"]
    assert {k: query[k] for k in ("agent-name", "agent-project-name", "agent-version")} == {
        "agent-name": "trip-planner",
        "agent-project-name": "contoso-travel",
        "agent-version": "4",
    }
    assert query["conversation-id"] == "conv_77" and "model" not in query
    headers = {name.lower() for name in handshake["headers"]}
    assert "authorization" in headers and "api-key" not in headers
    assert (auth.handshakes, auth.closed) == (1, True)
    # the session.update has no instructions, and the simulator found nothing to refuse
    assert "instructions" not in update["session"]
    assert update["session"]["voice"]["name"] == "en-US-AvaNeural"
    frames = [json.loads(line) for line in record.read_text().splitlines()]
    sent = [f["event"] for f in frames if f["dir"] == "out"]
    assert [e["type"] for e in sent].count("error") == 0, [e for e in sent if e["type"] == "error"]
    created = next(e for e in sent if e["type"] == "session.created")
    assert created["session"]["agent"]["thread_id"] == "conv_77"
    # and the agent's spoken reply (the simulator's parrot) reached the output file
    out = read_wav(tmp_path / "out.wav")
    start, end = loud_span(out)
    assert abs((end - start) - len(spoken)) < RATE // 2
    assert aligned_correlation(out[start:end], spoken[RATE // 10 : -RATE // 10]) > 0.99
    assert any(kind == "user" for kind, _ in view.lines)
