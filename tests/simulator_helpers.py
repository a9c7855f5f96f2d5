"""Test helpers for the simulator: synthetic utterances and a raw WebSocket client.

The raw client speaks the wire protocol by hand (plain ``websockets``), independent of the
voicelive client, so simulator tests check the simulator alone. Every wait is bounded by a
timeout; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from voicelive.simulator import Simulator

RATE = 24_000
CHUNK_BYTES = 960  # 20 ms of PCM16 at 24 kHz
TIMEOUT = 5.0

Event = dict[str, Any]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def speech_like(seconds: float, amplitude: float = 0.3, seed: int = 1) -> np.ndarray:
    """A deterministic voiced signal: harmonics of a wandering pitch with a syllable envelope.

    About -16 dBFS RMS, far above the default VAD threshold (-40 dBFS), and never silent for
    more than a few ms, so it forms one VAD turn.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    pitch = 140 + 30 * np.sin(2 * np.pi * 1.3 * t) + rng.uniform(-5, 5)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2
    noise = rng.normal(0, 0.05, n)
    out = amplitude * 32767 * (wave / 2.3 * envelope + noise)
    return np.clip(out, -32768, 32767).astype(np.int16)


def utterance(
    speech_s: float = 1.0, lead_s: float = 0.5, tail_s: float = 0.8, seed: int = 1
) -> np.ndarray:
    return np.concatenate([silence(lead_s), speech_like(speech_s, seed=seed), silence(tail_s)])


def decode_pcm(b64_chunks: list[str]) -> np.ndarray:
    data = b"".join(base64.b64decode(c) for c in b64_chunks)
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def best_correlation(reference: np.ndarray, signal: np.ndarray) -> float:
    """Peak normalised cross-correlation of ``signal`` inside ``reference`` (1.0 = identical)."""
    ref = reference.astype(np.float64)
    sig = signal.astype(np.float64)
    if sig.size == 0 or ref.size < sig.size:
        return 0.0
    best = 0.0
    # Coarse search over offsets in 10 ms steps is enough: the simulator copies whole samples.
    for offset in range(0, ref.size - sig.size + 1, 240):
        window = ref[offset : offset + sig.size]
        denom = np.linalg.norm(window) * np.linalg.norm(sig)
        if denom > 0:
            best = max(best, float(np.dot(window, sig) / denom))
    return best


def url(
    sim: Simulator, api_version: str = "2026-07-15", model: str | None = "gpt-4o", **extra: str
) -> str:
    query = f"api-version={api_version}"
    if model is not None:
        query += f"&model={model}"
    for key, value in extra.items():
        query += f"&{key.replace('_', '-')}={value}"
    return f"{sim.endpoint}/voice-live/realtime?{query}"


class RawClient:
    """A hand-rolled protocol client; keeps every server event it has read in ``events``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[Event] = []

    async def send(self, type_: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"type": type_, **fields}))

    async def recv(self, timeout: float = TIMEOUT) -> Event:
        message = await asyncio.wait_for(self.ws.recv(), timeout)
        event = json.loads(message)
        self.events.append(event)
        return event

    async def until(
        self, type_: str, timeout: float = TIMEOUT, where: Callable[[Event], bool] | None = None
    ) -> list[Event]:
        """Read events up to and including the first of ``type_``; returns them all."""
        seen: list[Event] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self.recv(timeout)
                seen.append(event)
                if event["type"] == type_ and (where is None or where(event)):
                    return seen

    async def append(self, pcm: np.ndarray, chunk_bytes: int = CHUNK_BYTES) -> None:
        data = pcm.astype("<i2").tobytes()
        for i in range(0, len(data), chunk_bytes):
            audio = base64.b64encode(data[i : i + chunk_bytes]).decode()
            await self.send("input_audio_buffer.append", audio=audio)


@asynccontextmanager
async def raw_client(
    sim: Simulator,
    api_version: str = "2026-07-15",
    headers: dict[str, str] | None = None,
    model: str | None = "gpt-4o",
    **extra: str,
) -> AsyncIterator[RawClient]:
    """Connected client that has already read ``session.created`` (``client.events[0]``)."""
    hdrs = {"api-key": "test-key"} if headers is None else headers
    async with connect(
        url(sim, api_version, model, **extra),
        additional_headers=hdrs,
        max_size=None,
        open_timeout=TIMEOUT,
    ) as ws:
        client = RawClient(ws)
        first = await client.recv()
        assert first["type"] == "session.created"
        yield client


def types(events: list[Event]) -> list[str]:
    return [e["type"] for e in events]


def without_deltas(events: list[Event]) -> list[str]:
    """Event types with consecutive delta runs collapsed (for order assertions)."""
    out: list[str] = []
    for name in types(events):
        if name.endswith(".delta") and out and out[-1].endswith(".delta"):
            if name not in out[-2:]:
                out.append(name)
            continue
        out.append(name)
    return out
