"""The status line of the real ``voicelive chat --simulate`` in a real terminal (tmux), with
sound played into the virtual microphone: the level meter follows it, exact zeros get their
own mark, the tokens appear after a reply, and what the user is typing stays on screen while
the meter moves.

The lines seen are printed (``pytest -s`` or ``-rA`` shows them).
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.audio_bed import AudioBed, write_wav
from tests.e2e.chat_harness import TmuxClient, client_env, voicelive_command, wait_for

pytestmark = pytest.mark.e2e

ZEROS = "mic ▕--------▏ exact zeros"
METER = re.compile(r"mic ▕.{8}▏ (-?\d+) dBFS")
TOKENS = re.compile(r"tokens (\d+) in / (\d+) out")
NOISE_DBFS = -50.0
"""Room noise: below the simulator's voice threshold (-40 dBFS), above the bar's floor."""


def status_line(client: TmuxClient) -> str:
    """The status line as the terminal shows it (the last line that starts with ``[``)."""
    lines = [line for line in client.screen().splitlines() if line.startswith("[")]
    return lines[-1] if lines else ""


def level(line: str) -> float | None:
    """The meter's dBFS in ``line`` (``-inf`` for exact zeros), None without a meter."""
    if ZEROS in line:
        return -math.inf
    found = METER.search(line)
    return float(found.group(1)) if found else None


def room(line: str) -> bool:
    """The meter shows the room's noise (within 4 dB)."""
    lv = level(line)
    return lv is not None and abs(lv - NOISE_DBFS) <= 4


def loud(line: str) -> bool:
    """The meter shows something well above the room: speech."""
    lv = level(line)
    return lv is not None and lv >= NOISE_DBFS + 15


def noise_wav(path: Path, dbfs: float, seconds: float) -> Path:
    rms = 32768 * 10 ** (dbfs / 20)
    noise = np.random.default_rng(7).normal(0, rms, int(24_000 * seconds))
    return write_wav(path, np.clip(noise, -32768, 32767).astype(np.int16))


@pytest.fixture
def chat_in_tmux(audio_bed: AudioBed, tmux: str, tmp_path: Path) -> Iterator[TmuxClient]:
    args = [*voicelive_command(), "chat", "--simulate", "--log-file", str(tmp_path / "v.log")]
    with TmuxClient(args, client_env(audio_bed.env), tmp_path) as client:
        yield client


def test_the_meter_follows_the_microphone_and_the_tokens_appear_after_a_reply(
    audio_bed: AudioBed,
    chat_in_tmux: TmuxClient,
    speech: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    client = chat_in_tmux
    seen: list[str] = []

    def shows(check: Callable[[str], bool]) -> Callable[[], bool]:
        def look() -> bool:
            line = status_line(client)
            if line and (not seen or seen[-1] != line):
                seen.append(line)
            return check(line)

        return look

    def context() -> str:
        return (
            "\n--- status lines seen ---\n"
            + "\n".join(seen)
            + f"\n--- screen ---\n{client.screen()}"
        )

    # nothing plays into the virtual microphone: digital silence
    assert wait_for(shows(lambda line: ZEROS in line), 30, interval=0.1), context()
    assert "[listening" in seen[-1] and TOKENS.search(seen[-1]) is None, context()
    noise: subprocess.Popen[bytes] = audio_bed.play_into_mic(
        noise_wav(tmp_path / "noise.wav", NOISE_DBFS, 40.0)
    )
    try:
        assert wait_for(shows(room), 10, interval=0.1), context()
        # speech over the noise: the meter rises well above the room while it plays
        player = audio_bed.play_into_mic(speech("Hello there, can you hear me now"))
        assert wait_for(shows(loud), 10, interval=0.05), context()
        assert player.wait(timeout=30) == 0
        # the simulator's reply is played; its response.done brings the usage
        assert wait_for(shows(lambda line: "[speaking" in line), 20, interval=0.05), context()
        assert wait_for(shows(lambda line: bool(TOKENS.search(line))), 20, interval=0.1), context()
        after = seen[-1]
        tokens = TOKENS.search(after)
        assert tokens is not None and int(tokens.group(1)) > 0 and int(tokens.group(2)) > 0
        assert re.search(r"· \d+ min left", after), context()  # the simulator sends expires_at
        assert wait_for(shows(lambda line: "[listening" in line and room(line)), 20), context()
        # typed, not yet sent: the terminal echoes it after the status line, and the meter's
        # redraws leave it there
        client.send_keys("hello")
        assert wait_for(shows(lambda line: line.endswith("quithello")), 5), context()
        typed_from = len(seen) - 1
        assert wait_for(shows(lambda _: len(seen) >= typed_from + 4), 10), context()
        assert all(line.endswith("quithello") for line in seen[typed_from:]), context()
        assert len({level(line) for line in seen[typed_from:]}) >= 2, context()
        client.send_keys("C-u")  # the line is erased, never sent
    finally:
        noise.kill()
        noise.wait(timeout=5)
    # the noise stops: back to exact zeros, the tokens still shown
    assert wait_for(shows(lambda line: ZEROS in line and bool(TOKENS.search(line))), 10), context()
    print("\n[status lines seen]\n" + "\n".join(seen))
    client.send_keys("q", "Enter")
    assert client.wait_exit(10) == (0, None), context()
