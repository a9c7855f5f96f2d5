"""Every performance figure of voicelive, each against its floor, in one command:

    python3 benchmarks/run.py [--runs 3] [--quick] [--client-src DIR]

From a fresh clone it sets up what is missing (``.venv`` through scripts/bootstrap.sh, the
Debian audio packages through scripts/virtual-audio.sh, as root or with password-less sudo),
starts a private virtual sound card, measures, prints, and stops the card. Nothing is asserted:
each figure is printed with its median, spread and sample count, its floor measured in the
same run, the ratio, and the target it is held to.

The client is always the ``voicelive`` console script with default settings (only
``--endpoint``/``--api-key`` point it at the local server) in its own process, through
PortAudio -> ALSA -> PulseAudio. ``--client-src DIR`` runs another checkout's code through
the same script (PYTHONPATH=DIR/src), e.g. the code before a change.

Figures (floors in brackets):

- ``voicelive --help`` wall time [``python -c pass``];
- launch -> ``session.update`` received by a scripted server [the least websockets client:
  connect, session.update];
- first ``response.audio.delta`` sent -> sound on the speaker, and ``speech_started`` sent ->
  speaker silent, with the scripted server (tests/scripted_server.py) and the speaker recorded
  with parec; each reply comes after a second of quiet, as after a user's turn [a bare
  PortAudio output stream started / silenced on a line from a pipe];
- CPU while listening (nothing playing, the microphone streaming to ``voicelive simulate``),
  interleaved windows, in a quiet room (-60 dBFS RMS white noise played into the microphone),
  an office with a fan (-50 dBFS; both below the quiet band, so the client batches) and a
  noisy room (-40 dBFS: above it, so every 20 ms block is sent) [a do-nothing 20 ms input
  stream under the same noise; for reference, the same plus a do-nothing output stream; in
  the noisy room also the least sender (floor.py ``sender``): each block handed to an event
  loop that sends it as JSON over websockets to the same simulator, nothing else];
- memory (RSS) of the client over a soak of spoken turns against the simulator;
- replies through a jittery network (``voicelive simulate --jitter-ms 100``): underruns per
  reply and the prefill hold the client learned (from its log);
- replies through impaired links (``--only links``, benchmarks/links.py): per link profile,
  the gaps of the first and of later replies, the playout delay and the truncate error.

Latencies include the recorder's own 10 ms and the loopback hop, for the floors too.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
import links as links_bench
from procs import (
    FLOOR,
    REPO,
    Client,
    Figure,
    FloorProcess,
    RecordTail,
    client_env,
    cpu_window,
    loadavg,
    machine,
    rss_mb,
    timed_runs,
    voicelive,
)

if TYPE_CHECKING:
    from tests.audio_bed import AudioBed, SpeakerRecorder

VENV = REPO / ".venv"
Figures = dict[str, Figure]
SECTIONS = ("help", "latency", "idle", "jitter", "soak", "links")
GAP_S = 1.0
"""Quiet before each measured reply: the speaker has stopped, as after a user's turn."""


def ensure_venv() -> None:
    """Re-run this script with the project's ``.venv`` (created by bootstrap.sh if missing)."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "voicelive").exists():
        subprocess.run(["bash", str(REPO / "scripts" / "bootstrap.sh")], check=True)
    os.execv(python, [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def start_bed(directory: Path) -> AudioBed:
    """The virtual sound card in ``directory`` (installing its packages when needed)."""
    from tests.audio_bed import AudioBed

    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "virtual-audio.sh"), "up", str(directory)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"run.py: the virtual sound card did not start:\n{result.stderr.strip()}")
    exports = {}
    for line in result.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            exports[name] = value
    return AudioBed(exports, directory, owned=True)


# ------------------------------------------------------------------------------- latency


def tone(seconds: float) -> bytes:
    from tests.audio_bed import tone as make_tone

    return make_tone(1000, seconds).astype("<i2").tobytes()


async def scripted_section(
    bed: AudioBed, env: dict[str, str], work: Path, opts: argparse.Namespace, figures: Figures
) -> None:
    """Launch times, then the latency trials on the last client, then the floors'."""
    from tests.e2e.sound_analysis import last_sound_end
    from tests.scripted_server import Scripted
    from websockets.asyncio.server import serve

    server = Scripted()
    loop = asyncio.get_running_loop()
    async with serve(server.handler, "127.0.0.1", 0) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        for n in range(-1, opts.launches):  # the first of each is a warm-up, not counted
            started = time.monotonic()
            # created on the loop on purpose: the launch is timed from here, as a client's
            floor = subprocess.Popen([sys.executable, str(FLOOR), "connect", url], env=env)  # noqa: ASYNC220
            await server.wait_for("session.update", timeout=30)
            if n >= 0:
                figures["launch"].floor.append(time.monotonic() - started)
            await loop.run_in_executor(None, floor.wait)
            client = Client(url, env, work / f"launch{n + 1}").start()
            await server.wait_for("session.update", timeout=30)
            if n >= 0:
                figures["launch"].values.append(time.monotonic() - client.started)
            if n < opts.launches - 1:
                await loop.run_in_executor(None, client.quit)
        since = len(server.received)
        while not any(e["type"] == "input_audio_buffer.append" for e in server.received[since:]):
            server.arrived.clear()  # listening: the last client streams its microphone
            await asyncio.wait_for(server.arrived.wait(), 30)
        with bed.record_speaker() as rec:
            for n in range(opts.trials):
                await asyncio.sleep(GAP_S)  # sleep-ok: the quiet before a reply
                rid, iid = f"resp_{n}", f"item_{n}"
                server.send(
                    type="response.created",
                    event_id="e",
                    response={"id": rid, "status": "in_progress", "output": []},
                )
                await asyncio.sleep(0.05)  # sleep-ok: pacing, as the service does
                pcm = tone(2.0)
                mark = rec.index_at(time.monotonic())
                sent_at = time.monotonic()
                for i in range(0, len(pcm), 4800):
                    server.send(
                        type="response.audio.delta",
                        event_id="e",
                        response_id=rid,
                        item_id=iid,
                        output_index=0,
                        content_index=0,
                        delta=base64.b64encode(pcm[i : i + 4800]).decode(),
                    )
                onset = await loop.run_in_executor(None, rec.wait_for_sound, mark, 5.0)
                if onset is not None:
                    figures["first"].values.append(rec.time_at(onset) - sent_at)
                await asyncio.sleep(0.3)  # sleep-ok: let the reply play before interrupting
                stop_at = time.monotonic()
                server.send(
                    type="input_audio_buffer.speech_started",
                    event_id="e",
                    audio_start_ms=0,
                    item_id=f"user_{n}",
                )
                await server.wait_for("conversation.item.truncate", timeout=10)
                end = await silence_after(rec, stop_at, last_sound_end)
                if end is not None:
                    figures["bargein"].values.append(rec.time_at(end) - stop_at)
                server.send(
                    type="response.done", event_id="e", response={"id": rid, "status": "cancelled"}
                )
            await loop.run_in_executor(None, client.quit)
            speaker = await loop.run_in_executor(None, FloorProcess, "speaker", env)
            try:
                for _ in range(opts.trials):
                    await asyncio.sleep(GAP_S)  # sleep-ok: the quiet before a reply
                    mark = rec.index_at(time.monotonic())
                    sent_at = speaker.send("play")
                    onset = await loop.run_in_executor(None, rec.wait_for_sound, mark, 5.0)
                    if onset is not None:
                        figures["first"].floor.append(rec.time_at(onset) - sent_at)
                    await asyncio.sleep(0.3)  # sleep-ok: as above
                    stop_at = speaker.send("stop")
                    end = await silence_after(rec, stop_at, last_sound_end)
                    if end is not None:
                        figures["bargein"].floor.append(rec.time_at(end) - stop_at)
                    speaker.send("halt")
            finally:
                await loop.run_in_executor(None, speaker.close)
    stats = client.log_lines("playback:")
    if stats:
        print(f"  client after the trials: {stats[-1].split('playback: ', 1)[-1]}")


async def silence_after(
    rec: SpeakerRecorder, when: float, last_sound_end: Callable[..., int | None]
) -> int | None:
    """The sample where the sound ended after ``when`` (sample-exact), or None."""
    loop = asyncio.get_running_loop()
    start = rec.index_at(when) - 2400
    end = await loop.run_in_executor(None, rec.wait_for_silence, start, 0.3, 5.0)
    if end is None:
        return None
    low = max(0, end - 480)  # wait_for_silence is window-aligned
    precise = last_sound_end(rec.samples()[low : end + 480])
    return low + precise if precise is not None else end


# ------------------------------------------------------------------------------- simulator


def wait_listening(client: Client, record: Path, timeout: float = 30.0) -> None:
    from tests.e2e.chat_harness import events_of, wait_for

    if not wait_for(
        lambda: not client.alive() or bool(events_of(record, "input_audio_buffer.append")),
        timeout,
        interval=0.05,
    ):
        raise RuntimeError("the client did not start streaming")
    if not client.alive():
        raise RuntimeError(f"the client exited; see {client.workdir}")


ROOMS = (("idle", -60.0), ("idle_office", -50.0), ("idle_noisy", -40.0))
"""Noise played into the microphone while idle CPU is measured (figure, dBFS RMS): a quiet
room on a laptop microphone, one with a fan, then a noisy one (a cafe) above the quiet band
the client batches in (peaks beyond -36 dBFS)."""


def room_noise(path: Path, dbfs: float, seconds: float) -> Path:
    """White noise at ``dbfs`` RMS as a 24 kHz mono 16-bit WAV."""
    import wave

    import numpy as np

    rms = 32768 * 10 ** (dbfs / 20)
    noise = np.random.default_rng(1).normal(0, rms, int(24_000 * seconds))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(np.clip(noise, -32768, 32767).astype("<i2").tobytes())
    return path


def idle_section(
    bed: AudioBed, env: dict[str, str], sim_env: dict[str, str], work: Path,
    opts: argparse.Namespace, figures: Figures,
) -> None:  # fmt: skip
    """For each room: the client listening (its noise in the microphone, nothing playing),
    interleaved with the floors' windows under the same noise."""
    from tests.e2e.chat_harness import Simulator

    seconds = 10 + opts.runs * (3 * opts.window + 4)
    for name, dbfs in ROOMS:
        noise = bed.play_into_mic(room_noise(work / f"{name}.wav", dbfs, seconds))
        record = work / f"{name}.jsonl"
        try:
            with Simulator(record, sim_env) as sim:
                client = Client(sim.url, env, work / name).start()
                try:
                    wait_listening(client, record)
                    time.sleep(3.0)  # sleep-ok: past start-up, the silent-mic check, 2 s lively
                    for _ in range(opts.runs):
                        window = cpu_window(client.pid, opts.window)
                        figures[name].values.append(window.percent)
                        figures["machine"].values.append(window.machine_percent)
                        floors = [("input", figures[name].floor)]
                        if name == "idle":
                            floors.append(("duplex", figures["duplex"].values))
                        if name == "idle_noisy":
                            floors.append(("sender", figures["sender"].floor))
                        for mode, samples in floors:
                            url = [session_url(sim.url)] if mode == "sender" else []
                            floor = FloorProcess(mode, env, *url)
                            try:
                                time.sleep(1.0)  # sleep-ok: past the stream's start-up
                                samples.append(cpu_window(floor.pid, opts.window).percent)
                            finally:
                                floor.close()
                    print(f"  {name}: the client's status line: {status_line(client.screen)}")
                finally:
                    client.quit()
        finally:
            noise.kill()
            noise.wait(timeout=5)


def status_line(screen: bytes) -> str:
    """The last status line the client drew whole on its terminal, without escape sequences
    (a partial redraw, of the characters that changed, is not a line)."""
    import re

    text = re.sub(r"\x1b(\[[0-9;?]*[A-Za-z]|[78])", "", screen.decode(errors="replace"))
    lines = [ln.strip() for ln in re.split(r"[\r\n]", text) if re.match(r"\[[a-z]", ln.strip())]
    return lines[-1] if lines else "(none drawn)"


def session_url(endpoint: str) -> str:
    """The URL the client opens on ``endpoint`` with its default settings (for the sender)."""
    from voicelive.config.settings import DEFAULT_API_VERSION, DEFAULT_MODEL
    from voicelive.connection.client import build_url

    return build_url(endpoint, DEFAULT_API_VERSION, DEFAULT_MODEL)


def turns_section(
    bed: AudioBed,
    env: dict[str, str],
    sim_env: dict[str, str],
    work: Path,
    turns: int,
    name: str,
    sim_args: list[str],
) -> tuple[Client, list[float]]:
    """``turns`` spoken turns against ``voicelive simulate *sim_args``; the client's RSS after
    each reply has played out."""
    from tests.audio_bed import speech_wav
    from tests.e2e.chat_harness import Simulator, wait_for

    wav = speech_wav("Hello there", work / f"{name}.wav")
    record = work / f"{name}.jsonl"
    rss: list[float] = []
    with bed.record_speaker() as rec, Simulator(record, sim_env, *sim_args) as sim:
        client = Client(sim.url, env, work / name).start()
        try:
            wait_listening(client, record)
            replies = RecordTail(record, "response.done")
            for turn in range(turns):
                done = replies.poll()
                player = bed.play_into_mic(wav)
                player.wait(timeout=30)
                mark = rec.index_at(time.monotonic())
                onset = rec.wait_for_sound(mark, 15.0)  # the parrot's reply on the speaker

                def replied(done: int = done) -> bool:
                    return replies.poll() > done

                if onset is None or not wait_for(replied, 30):
                    print(f"  {name}: turn {turn + 1} got no reply", flush=True)
                    continue
                rec.wait_for_silence(onset, 0.4, 30.0)  # played out
                rss.append(rss_mb(client.pid))
                if (turn + 1) % 10 == 0:
                    print(f"  {name}: {turn + 1} turns, RSS {rss[-1]:.1f} MB", flush=True)
        finally:
            client.quit()
    return client, rss


# ------------------------------------------------------------------------------- output


@contextlib.contextmanager
def section(title: str) -> Iterator[None]:
    """Announce a section; a failure in it is printed and the others still run."""
    print(f"{title}...", flush=True)
    try:
        yield
    except Exception as exc:
        print(f"  {title} failed: {type(exc).__name__}: {exc}", flush=True)


def print_figures(figures: Figures) -> None:
    print(f"\n{'figure':44s} {'voicelive: median (min-max, n)':32s} {'floor':44s} ratio  target")
    for figure in figures.values():
        if not figure.values:
            continue
        floor = (
            f"{Figure.spread(figure.floor, figure.scale)} {figure.floor_name}"
            if figure.floor
            else ""
        )
        ratio = f"{figure.ratio:5.2f}" if figure.ratio is not None else "     "
        print(
            f"{figure.name + ' (' + figure.unit + ')':44s} "
            f"{Figure.spread(figure.values, figure.scale):32s} {floor:44s} {ratio}  "
            f"{figure.verdict}"
        )


def print_soak(rss: list[float]) -> None:
    if len(rss) < 2:
        return
    marks = sorted({0, *range(9, len(rss), 10), len(rss) - 1})
    curve = ", ".join(f"{i + 1}: {rss[i]:.1f}" for i in marks)
    start = min(9, len(rss) - 1)
    xs = list(range(start, len(rss)))
    slope = statistics.linear_regression(xs, rss[start:]).slope if len(xs) > 1 else 0.0
    print(f"\nclient RSS (MB) after turn N of {len(rss)}: {curve}")
    print(
        f"  growth from turn {start + 1} to {len(rss)}: {rss[-1] - rss[start]:+.2f} MB; "
        f"fitted slope {slope * 1024:+.1f} KB/turn"
    )


def print_jitter(client: Client) -> None:
    replies = client.log_lines("played out:")
    underruns, holds = [], []
    for line in replies:
        text = line.split("played out: ", 1)[1]
        underruns.append(int(text.split(" underrun", 1)[0]))
        holds.append(float(text.split("prefill hold ", 1)[1].split(" ms", 1)[0]))
    print("\nreplies through 100 ms of jitter (voicelive simulate --jitter-ms 100 --seed 1):")
    if replies:
        print(f"  underruns per reply:  {underruns}")
        print(f"  prefill hold (ms):    {[round(h) for h in holds]}")
        half = len(underruns) // 2
        print(
            f"  underruns in the first {half} replies: {sum(underruns[:half])}, "
            f"in the last {len(underruns) - half}: {sum(underruns[half:])}"
        )
    stats = client.log_lines("playback:")
    if stats:
        print(f"  client totals: {stats[-1].split('playback: ', 1)[-1]}")


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="idle CPU windows per kind")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per CPU window")
    parser.add_argument("--trials", type=int, default=8, help="latency trials (each side)")
    parser.add_argument("--launches", type=int, default=5, help="launches timed (each side)")
    parser.add_argument("--soak-turns", type=int, default=100, help="0 skips the soak")
    parser.add_argument("--jitter-turns", type=int, default=12, help="0 skips the jitter test")
    parser.add_argument("--link-sessions", type=int, default=3, help="sessions per link")
    parser.add_argument("--client-src", type=Path, help="run this checkout's client code")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter samples")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run, of: {','.join(SECTIONS)} (default: all)",
    )
    opts = parser.parse_args()
    opts.only = {part.strip() for part in opts.only.split(",") if part.strip()}
    if not opts.only <= set(SECTIONS):
        parser.error(f"--only: unknown sections {sorted(opts.only - set(SECTIONS))}")
    if opts.quick:
        opts.runs, opts.window, opts.trials, opts.launches = 1, 5.0, 4, 3
        opts.soak_turns, opts.jitter_turns = min(opts.soak_turns, 20), min(opts.jitter_turns, 6)
    return opts


def main() -> None:
    opts = options()
    ensure_venv()
    sys.path.insert(0, str(REPO))
    src = opts.client_src.resolve() if opts.client_src else None
    figures: Figures = {
        "help": Figure("voicelive --help", "s", floor_name="python -c pass", target=0.3),
        "launch": Figure(
            "launch -> session.update", "s", floor_name="least ws client", target=0.5
        ),
        "first": Figure(
            "first audio delta -> sound", "ms", floor_name="bare stream start", target=30,
            scale=1000, resolution=1.0,  # the recorder resolves about a millisecond
        ),
        "bargein": Figure(
            "speech_started -> speaker silent", "ms", floor_name="bare stream silenced",
            target=30, scale=1000, resolution=1.0,
        ),
        "idle": Figure(
            "CPU listening, quiet room", "% of a core", floor_name="20 ms input stream",
            target=1.5, relative=True,
        ),
        "duplex": Figure("  ref: in + always-on out stream", "% of a core"),
        "idle_office": Figure(
            "CPU listening, office (fan)", "% of a core", floor_name="20 ms input stream",
            relative=True,
        ),
        "idle_noisy": Figure(
            "CPU listening, noisy room", "% of a core", floor_name="20 ms input stream",
            relative=True,
        ),
        "sender": Figure(
            "  noisy room against the least sender", "% of a core", floor_name="least sender",
            target=1.2, relative=True,
        ),
        "machine": Figure("  machine busy meanwhile", f"% of {os.cpu_count()} cores"),
    }  # fmt: skip
    figures["sender"].values = figures["idle_noisy"].values  # the same windows
    with tempfile.TemporaryDirectory(prefix="voicelive-bench-") as tmp:
        work = Path(tmp)
        bed = start_bed(work / "audio")
        env = client_env(bed.env, src)
        sim_env = client_env(bed.env, None)  # the simulator: always this checkout's
        # As installed (pip compiles to bytecode) or after a first run: with bytecode. Here
        # PYTHONDONTWRITEBYTECODE may be set, and another checkout may never have run.
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str((src or REPO) / "src")], check=True
        )
        load_before = loadavg()
        print(f"voicelive benchmarks: {machine()}")
        print(f"client code: {src or REPO}; load average before: {load_before}", flush=True)
        jitter_client: Client | None = None
        rss: list[float] = []
        links: dict[str, links_bench.Results] = {}
        try:
            if "help" in opts.only:
                figures["help"].values = timed_runs([voicelive(), "--help"], env, 7)
                figures["help"].floor = timed_runs([sys.executable, "-c", "pass"], sim_env, 7)
            if "latency" in opts.only:
                with section("launch and latency (scripted server)"):
                    asyncio.run(scripted_section(bed, env, work, opts, figures))
            if "idle" in opts.only:
                with section("idle CPU (simulator)"):
                    idle_section(bed, env, sim_env, work, opts, figures)
            if opts.jitter_turns and "jitter" in opts.only:
                with section("replies through a jittery network (simulator)"):
                    sim_args = ["--jitter-ms", "100", "--seed", "1"]
                    jitter_client, _ = turns_section(
                        bed, env, sim_env, work, opts.jitter_turns, "jitter", sim_args
                    )
            if opts.soak_turns and "soak" in opts.only:
                with section(f"soak: {opts.soak_turns} turns (simulator)"):
                    _, rss = turns_section(bed, env, sim_env, work, opts.soak_turns, "soak", [])
            if opts.link_sessions and "links" in opts.only:
                with section("replies through impaired links (simulator, relay)"):
                    links = links_bench.links_section(bed, env, sim_env, work, opts.link_sessions)
        finally:
            with contextlib.suppress(Exception):
                bed.stop()
        print_figures(figures)
        if jitter_client is not None:
            print_jitter(jitter_client)
        print_soak(rss)
        if links:
            links_bench.print_links(links)
        print(f"\nload average before: {load_before}; after: {loadavg()}")


if __name__ == "__main__":
    main()
