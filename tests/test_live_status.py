"""The live figures: paced by the microphone's blocks (no timer), drawn by the terminal view."""

from __future__ import annotations

import asyncio
import io
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeAudio, RecordingView
from tests.scripted_server import Scripted
from tests.test_chat_scripted import ctrl_c, quit_request, settings, start
from voicelive.connection.supervisor import Timing
from voicelive.stats import ChatStats
from voicelive.terminal.live_status import REDRAW_INTERVAL_S, LiveStatus, session_end_of
from voicelive.terminal.view import TerminalView

__all__ = ["quit_request"]  # the autouse fixture of the scripted chat tests


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def noise_block(amplitude: int, ms: int = 20) -> bytes:
    frames = 24 * ms
    return b"".join(
        (amplitude if i % 3 else -amplitude).to_bytes(2, "little", signed=True)
        for i in range(frames)
    )


def draws(output: str) -> list[str]:
    return re.findall(r"\r\x1b\[2m(.*?)\x1b\[0m\x1b\[K", output)


@dataclass
class Rig:
    """A terminal view (160 columns) in ``state``, its live figures on a fake clock."""

    out: io.StringIO
    clock: FakeClock
    stats: ChatStats
    live: LiveStatus


def rig(monkeypatch: pytest.MonkeyPatch, state: str, resumed: int = 0) -> Rig:
    monkeypatch.setenv("COLUMNS", "160")
    out = io.StringIO()
    view = TerminalView(out, tty=True)
    view.status(state)
    clock = FakeClock()
    stats = ChatStats(clock())
    live = LiveStatus(view, stats, lambda: None, clock=clock, resumed=resumed)
    return Rig(out, clock, stats, live)


def test_a_flood_of_blocks_is_measured_and_redrawn_at_most_four_times_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = rig(monkeypatch, "hearing you")
    out, clock, live = r.out, r.clock, r.live
    before = out.getvalue().count("\r")  # every redraw, whole or in part, starts with one
    # two seconds of 2 ms blocks whose level changes with every block: 1000 updates
    for n in range(1000):
        live.on_block(noise_block(300 + 40 * (n % 50), ms=2))
        clock.now += 0.002
    redraws = out.getvalue().count("\r") - before
    assert live.measures == math.ceil(2.0 / REDRAW_INTERVAL_S)  # one measure per interval
    assert 2 <= redraws <= live.measures  # a changed level redraws, at most that often
    assert draws(out.getvalue())[-1].startswith("[hearing you]  mic ▕")


def test_the_same_figures_are_not_redrawn_and_tokens_show_after_a_reply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = rig(monkeypatch, "listening")
    out, clock, stats, live = r.out, r.clock, r.stats, r.live
    steady = noise_block(1000)
    for _ in range(20):  # a steady level for five seconds: one redraw
        live.on_block(steady)
        clock.now += REDRAW_INTERVAL_S
    assert live.measures == 20
    assert draws(out.getvalue())[1:] == [
        "[listening]  mic ▕████    ▏ -30 dBFS  /help · q + Enter to quit"
    ]
    stats.usage({"input_tokens": 120, "output_tokens": 45})  # the dispatcher, on response.done
    live.on_block(steady)
    assert draws(out.getvalue())[-1] == (
        "[listening]  mic ▕████    ▏ -30 dBFS · tokens 120 in / 45 out  /help · q + Enter to quit"
    )
    drawn = len(draws(out.getvalue()))
    live.on_block(bytes(960))  # digital silence, but not due yet: not even measured
    assert len(draws(out.getvalue())) == drawn and live.measures == 21
    clock.now += REDRAW_INTERVAL_S
    live.on_block(bytes(960))
    assert "mic ▕--------▏ exact zeros · tokens 120 in" in draws(out.getvalue())[-1]


def test_resumed_turns_are_in_the_status_line_until_the_first_reply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = rig(monkeypatch, "listening", resumed=3)
    out, clock, stats, live = r.out, r.clock, r.stats, r.live
    live.on_block(noise_block(1000))
    assert draws(out.getvalue())[-1] == (
        "[listening]  mic ▕████    ▏ -30 dBFS · 3 turns resumed  /help · q + Enter to quit"
    )
    stats.usage({"input_tokens": 120, "output_tokens": 45})
    clock.now += REDRAW_INTERVAL_S
    live.on_block(noise_block(1000))
    assert "resumed" not in draws(out.getvalue())[-1]


@dataclass
class FakeInfo:
    expires_at: float | None


@dataclass
class FakeLive:
    info: FakeInfo
    opened_at: float

    def ends_at(self, cap_s: float) -> float:
        capped = self.opened_at + cap_s
        return capped if self.info.expires_at is None else min(self.info.expires_at, capped)


@dataclass
class FakeSupervisor:
    current: Any = None
    timing: Timing = field(default_factory=Timing)


def test_the_time_left_is_the_current_connections_and_a_rollover_resets_it() -> None:
    supervisor = FakeSupervisor()
    end = session_end_of(supervisor)  # type: ignore[arg-type]
    assert end() is None  # not connected
    supervisor.current = FakeLive(FakeInfo(expires_at=None), opened_at=0.0)
    assert end() is None  # no expires_at from the service: nothing shown
    supervisor.current = FakeLive(FakeInfo(expires_at=5000.0), opened_at=2000.0)
    assert end() == 5000.0
    supervisor.current = FakeLive(FakeInfo(expires_at=9000.0), opened_at=4000.0)
    assert end() == 4000.0 + 3600  # the 60-minute cap comes first

    view = RecordingView(redraws_status=True)
    clock, wall = FakeClock(), FakeClock(1000.0)
    supervisor.current = FakeLive(FakeInfo(expires_at=1000.0 + 1800), opened_at=1000.0)
    live = LiveStatus(view, ChatStats(0.0), end, clock=clock, wall=wall)
    live.on_block(noise_block(1000))
    wall.now += 1790.0  # ten seconds before expiry
    clock.now += 1790.0
    live.on_block(noise_block(1000))
    supervisor.current = FakeLive(FakeInfo(expires_at=wall.now + 1800), opened_at=wall.now)
    clock.now += 1.0  # rolled over: the new session's own time
    wall.now += 1.0
    live.on_block(noise_block(1000))
    figures = [text for kind, text in view.lines if kind == "figures"]
    assert [text.rsplit(" · ", 1)[1] for text in figures] == [
        "30 min left",
        "0:10 left",
        "29 min left",
    ]


async def test_the_chat_sends_its_figures_to_a_terminal_view(scripted: Scripted) -> None:
    scripted.session_extra = {"expires_at": time.time() + 1800.5}
    audio, view = FakeAudio(), RecordingView(redraws_status=True)
    task = start(settings(scripted.port), audio, view)
    await asyncio.wait_for(audio.opened.wait(), 5)
    assert audio.mic is not None
    scripted.send(
        type="response.done",
        event_id="e5",
        response={
            "id": "r1",
            "status": "completed",
            "usage": {"input_tokens": 7, "output_tokens": 9},
        },
    )
    scripted.send(type="error", event_id="e6", error={"message": "marker"})
    await view.wait_for("error", "marker")  # the usage before it was handled
    audio.mic.sink(noise_block(3277))  # -20 dBFS RMS
    figures = await view.wait_for("figures")
    assert re.fullmatch(
        r"mic ▕█████▍  ▏ -20 dBFS · tokens 7 in / 9 out · (30|29) min left", figures
    ), figures
    ctrl_c()
    assert await asyncio.wait_for(task, 5) == 130


async def test_a_plain_view_gets_no_figures(scripted: Scripted) -> None:
    audio, view = FakeAudio(), RecordingView()
    task = start(settings(scripted.port), audio, view)
    await asyncio.wait_for(audio.opened.wait(), 5)
    assert audio.mic is not None
    audio.mic.sink(noise_block(3277))
    await scripted.wait_for("input_audio_buffer.append")  # the block went through the pipeline
    ctrl_c()
    assert await asyncio.wait_for(task, 5) == 130
    assert [kind for kind, _ in view.lines if kind == "figures"] == []


async def test_a_rollover_resets_the_time_left_real_client_and_simulator(tmp_path: Path) -> None:
    # every session expires 4 s after it starts: the client rolls over before that, and the
    # time left shown is the new session's
    from tests.simulator_helpers import silence
    from tests.test_chat_simulator import settings as wav_settings
    from tests.test_chat_simulator import write_wav
    from voicelive.chat import run_chat
    from voicelive.quit import Quit
    from voicelive.simulator import Simulator, SimulatorOptions

    wav = write_wav(tmp_path / "in.wav", silence(30.0) + 30)  # a quiet room, never zeros
    view = RecordingView(redraws_status=True)
    quit = Quit()
    shown: list[int] = []

    async def time_left_goes_back_up() -> None:
        while True:
            text = await view.wait_for("figures", "left", timeout=15)
            found = re.search(r"0:0(\d) left", text)
            assert found, text
            shown.append(int(found.group(1)))
            if len(shown) >= 2 and shown[-1] > shown[-2]:
                return

    options = SimulatorOptions(fault="expire-soon", fault_after_s=4.0)
    async with Simulator(options) as sim:
        task = asyncio.ensure_future(
            run_chat(wav_settings(sim, tmp_path, wav), view=view, stdin_fd=None, quit=quit)
        )
        try:
            await asyncio.wait_for(time_left_goes_back_up(), 20)
        finally:
            quit.set(0, "test")
            await asyncio.wait_for(task, 10)
        connections = len(sim.connections)
    print(f"time left shown (s): {shown}")
    assert connections >= 2, shown
    assert max(shown) <= 4 and min(shown[:-1]) < shown[-1], shown
    assert all(kind != "error" for kind, _ in view.lines), view.lines
