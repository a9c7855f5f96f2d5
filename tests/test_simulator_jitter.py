"""``SimulatorOptions.jitter_ms``: reply deltas arrive late and uneven, reproducibly with a seed.

Send times are read from the simulator's own recording (``record_path``), so they are the
server's clock, not the test client's: sleeping never ends early, so lower bounds hold on a
busy machine too.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.simulator_helpers import raw_client, utterance
from voicelive.simulator import Simulator, SimulatorOptions
from voicelive.simulator.responder import DeltaJitter

SPEEDUP = 1000.0  # nominal pacing ~0.1 ms per delta: whatever spacing there is, is the jitter
ROUNDING_S = 0.0002  # the recording rounds times to 0.1 ms


def _draws(jitter: DeltaJitter, n: int) -> list[float]:
    return [jitter.next_delay_s() for _ in range(n)]


def test_jitter_sequence_is_reproducible_and_in_range() -> None:
    a = DeltaJitter(60, seed=7)
    b = DeltaJitter(60, seed=7)
    seq_a = [a.next_delay_s() for _ in range(200)]
    assert seq_a == _draws(b, 200)
    assert seq_a != _draws(DeltaJitter(60, seed=8), 200)
    assert all(0.0 <= d <= 0.060 for d in seq_a)
    assert max(seq_a) - min(seq_a) > 0.040  # really spread over the range
    assert not DeltaJitter(0) and DeltaJitter(0).next_delay_s() == 0.0
    assert DeltaJitter(1)


def test_jitter_option_is_validated() -> None:
    assert SimulatorOptions().jitter_ms == 0 and SimulatorOptions().seed is None
    with pytest.raises(ValueError, match="jitter_ms"):
        SimulatorOptions(jitter_ms=-1)
    assert "jitter_ms=25" in repr(SimulatorOptions(jitter_ms=25, seed=3))


def _sent(record: Path) -> list[tuple[float, dict[str, Any]]]:
    lines = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    return [(line["t"], line["event"]) for line in lines if line["dir"] == "out"]


async def _one_reply(tmp_path: Path, jitter_ms: float, seed: int) -> tuple[list[float], Simulator]:
    """Server send times of the reply's audio deltas, relative to its ``response.created``."""
    record = tmp_path / f"jitter-{jitter_ms}-{seed}.jsonl"
    options = SimulatorOptions(speedup=SPEEDUP, jitter_ms=jitter_ms, seed=seed, record_path=record)
    async with Simulator(options) as sim, raw_client(sim) as client:
        await client.append(utterance(speech_s=1.0))
        done = (await client.until("response.done", timeout=20))[-1]
        assert done["response"]["status"] == "completed"
    sent = _sent(record)
    created = next(t for t, e in sent if e["type"] == "response.created")
    deltas = [t - created for t, e in sent if e["type"] == "response.audio.delta"]
    return deltas, sim


async def test_deltas_are_held_back_by_accumulating_jitter(tmp_path: Path) -> None:
    deltas, sim = await _one_reply(tmp_path, jitter_ms=60, seed=11)
    assert len(deltas) >= 8
    expected = _draws(DeltaJitter(60, seed=11), len(deltas) + 1)
    lateness = list(itertools.accumulate(expected[: len(deltas)]))
    # Each delta goes out no earlier than the sum of its own and all earlier delays.
    for sent_at, late in zip(deltas, lateness, strict=True):
        assert sent_at >= late - ROUNDING_S, (deltas, lateness)
    # One draw per delta, in order: the simulator's generator is exactly that far along.
    assert sim.jitter.next_delay_s() == expected[len(deltas)]
    # The gaps are uneven, as the drawn delays are.
    # (A single gap is not checked against its draw: a delta held up by a busy machine is
    # followed at once by the next one, which is already due on the accumulated schedule.)
    gaps = [b - a for a, b in itertools.pairwise(deltas)]
    assert max(gaps) - min(gaps) > 0.5 * (max(expected) - min(expected)) - 0.01


async def test_without_jitter_the_same_reply_is_not_held_back(tmp_path: Path) -> None:
    deltas, _ = await _one_reply(tmp_path, jitter_ms=0, seed=11)
    jittered_total = sum(_draws(DeltaJitter(60, seed=11), len(deltas)))
    assert deltas[-1] < jittered_total / 2  # nominal pacing at this speedup is ~1 ms in all
