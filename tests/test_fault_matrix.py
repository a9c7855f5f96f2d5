"""The fault matrix: the real ``voicelive chat`` process against the simulator, one fault each.

The client runs as its own process (``python -m voicelive chat``, WAV audio so no sound card
is needed), the simulator in the test's event loop, where the test can see every event each
connection received. The input has two spoken turns far apart; the fault strikes the first
reply. Each test asserts the documented outcome: whether the client reconnected, the exact
items it replayed, that the second reply was heard, the exit code, and that nothing was lost
(the log is complete and the output WAV valid).
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.chat_process import finish, spawn_chat
from tests.simulator_helpers import silence, speech_like
from voicelive.simulator import Simulator, SimulatorOptions

pytestmark = pytest.mark.slow  # the real client against the simulator, seconds each

RATE = 24_000
KEY = "matrix-key-0123456789"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    log: str
    out: np.ndarray
    sim: Simulator

    def items(self, connection: int) -> list[tuple[str, str]]:
        """The replayed ``conversation.item.create`` items on a connection: (role, text)."""
        found = []
        for event in self.sim.connections[connection - 1].received:
            if event["type"] == "conversation.item.create":
                item = event["item"]
                found.append((item["role"], item["content"][0]["text"]))
        return found

    def replies_heard(self) -> list[float]:
        """Seconds of each stretch of reply audio in the output file (gaps over 0.3 s split)."""
        loud = np.abs(self.out.astype(np.int32)) > 300
        idx = np.flatnonzero(loud)
        if idx.size == 0:
            return []
        breaks = np.flatnonzero(np.diff(idx) > 0.3 * RATE)
        starts = np.concatenate([[idx[0]], idx[breaks + 1]])
        ends = np.concatenate([idx[breaks], [idx[-1]]])
        return [round(float(e - s) / RATE, 2) for s, e in zip(starts, ends, strict=True)]


def two_turns(path: Path) -> Path:
    samples = np.concatenate(
        [silence(0.3), speech_like(1.0, seed=1), silence(4.0), speech_like(1.2, seed=2), silence(1)]
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.astype("<i2").tobytes())
    return path


async def run_client(
    tmp_path: Path, fault: str | None, *extra: str, fault_after_s: float = 1.0
) -> Run:
    options = SimulatorOptions(api_key=KEY, fault=fault, fault_after_s=fault_after_s)
    async with Simulator(options) as sim:
        log = tmp_path / "voicelive.log"
        proc = await spawn_chat(
            sim.endpoint,
            "--input-file",
            str(two_turns(tmp_path / "in.wav")),
            "--output-file",
            str(tmp_path / "out.wav"),
            "--log-file",
            str(log),
            *extra,
            api_key=KEY,
        )
        stdout, stderr = await finish(proc, 60)
        assert proc.returncode is not None
        with wave.open(str(tmp_path / "out.wav"), "rb") as wav:  # valid on every exit
            out = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        return Run(
            proc.returncode,
            stdout.decode(),
            stderr.decode(),
            log.read_text(),
            out,
            sim,
        )


def assert_nothing_lost(run: Run) -> None:
    assert "voicelive exiting" in run.log.splitlines()[-1], run.log[-500:]
    assert KEY not in run.log and KEY not in run.stdout and KEY not in run.stderr
    assert "Traceback" not in run.stderr


def shown(run: Run, prefix: str) -> list[str]:
    return [
        line[len(prefix) :].strip() for line in run.stdout.splitlines() if line.startswith(prefix)
    ]


def assert_replayed_what_was_said(run: Run, connection: int) -> None:
    """The replay is the first turn: the user's transcript, then the words of the cut reply."""
    users = shown(run, "you:")
    assistants = shown(run, "assistant:")
    replay = run.items(connection)
    assert replay[0] == ("user", users[0])
    assert [role for role, _ in replay] == ["user", "assistant"]
    said = assistants[0].removesuffix("[interrupted]").strip()
    assert replay[1][1] and said.startswith(replay[1][1]), (replay, said)


CLOSES = [
    "close-1000-mid-reply",
    "close-1001-mid-reply",
    "drop-mid-reply",  # 1006: no close frame
    "close-1011-mid-reply",
    "close-1012-mid-reply",
    "close-1013-mid-reply",
]


@pytest.mark.parametrize("fault", CLOSES)
async def test_a_close_mid_reply_reconnects_replays_and_the_next_reply_is_heard(
    tmp_path: Path, fault: str
) -> None:
    run = await run_client(tmp_path, fault)
    assert run.code == 0, run.stderr
    assert len(run.sim.connections) == 2
    assert "reconnected after" in run.stdout
    assert_replayed_what_was_said(run, 2)
    # the second turn was answered on the new connection and played whole
    heard = run.replies_heard()
    assert heard and abs(heard[-1] - 1.2) < 0.5, heard
    # the first reply was not asked for again
    assert sum(1 for line in run.stdout.splitlines() if line.startswith("assistant:")) == 2
    assert_nothing_lost(run)


async def test_a_drop_during_the_reconnect_tries_again(tmp_path: Path) -> None:
    run = await run_client(tmp_path, "drop-during-reconnect")
    assert run.code == 0, run.stderr
    assert len(run.sim.connections) == 3
    assert run.items(2) == []  # dropped during its set-up, before any replay
    assert_replayed_what_was_said(run, 3)
    assert abs(run.replies_heard()[-1] - 1.2) < 0.5
    assert_nothing_lost(run)


async def test_a_refused_rehandshake_ends_with_its_sentence(tmp_path: Path) -> None:
    run = await run_client(tmp_path, "refuse-rehandshake")
    assert run.code == 3, run.stderr
    assert "refused the credential" in run.stderr
    assert len(run.sim.connections) == 1
    assert_nothing_lost(run)


async def test_throttling_is_retried_after_retry_after(tmp_path: Path) -> None:
    run = await run_client(tmp_path, "http-429-once")
    assert run.code == 0, run.stderr
    assert len(run.sim.connections) == 1  # the refused handshake opened no connection
    assert "throttled (429); retrying in 1." in run.log  # Retry-After: 1 honoured
    assert [round(h) for h in run.replies_heard()] == [1, 1]
    assert_nothing_lost(run)


async def test_the_session_rolls_over_before_it_expires_with_no_gap(tmp_path: Path) -> None:
    run = await run_client(tmp_path, "expire-soon", fault_after_s=4.0)
    assert run.code == 0, run.stderr
    assert len(run.sim.connections) >= 2
    assert "connection lost" not in run.stdout  # switched before the old session ended
    assert "rollover: switched to session" in run.log
    rolled = [c for c in run.sim.connections[1:] if c.received]
    assert rolled and all(c.close_code != 1001 or c is run.sim.connections[-1] for c in rolled)
    heard = run.replies_heard()
    assert len(heard) == 2 and abs(heard[0] - 1.0) < 0.5 and abs(heard[1] - 1.2) < 0.5, heard
    assert_nothing_lost(run)


async def test_without_reconnect_a_drop_ends_with_exit_5(tmp_path: Path) -> None:
    run = await run_client(tmp_path, "drop-mid-reply", "--no-reconnect")
    assert run.code == 5, run.stderr
    assert "dropped" in run.stderr
    assert len(run.sim.connections) == 1
    assert_nothing_lost(run)
