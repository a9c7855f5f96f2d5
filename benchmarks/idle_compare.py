"""Listening CPU in a quiet room, this checkout's client against another's, interleaved.

Run: python3 benchmarks/idle_compare.py --client-src DIR [--rounds 3] [--window 15] [--dbfs -60]

``benchmarks/run.py --only idle`` measures one commit at a time, and its single runs move by
about ±0.3 % of a core between runs. This puts both clients in the same sound card, the same
room noise (white noise at ``--dbfs`` RMS in the microphone) and the same minutes: each round
runs the other checkout's client, this one's, and the floor (a do-nothing 20 ms input stream,
``floor.py input``), one after the other, each in its own process, the clients with default
settings and a terminal (:class:`procs.Client`). It prints the CPU of each, whole and per
thread name (``/proc/PID/task/*/schedstat``: ``loop`` is the event loop's, ``voicelive``
PortAudio's callback thread, ``threaded-ml`` PulseAudio's client threads), median and range
over the rounds. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def threads(pid: int) -> dict[str, tuple[str, int]]:
    """Thread id -> (name, CPU ns so far), the process's own thread named ``loop``."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            ns = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile
        found[task.name] = ("loop" if task.name == str(pid) else name, ns)
    return found


def window(pid: int, seconds: float) -> dict[str, float]:
    """% of a core over ``seconds``: ``total``, and the threads' by name (those of one name
    summed: PortAudio's callback thread keeps the process's name, ``voicelive``)."""
    before, start = threads(pid), time.monotonic()
    time.sleep(seconds)  # sleep-ok: the measuring window itself
    after, wall = threads(pid), time.monotonic() - start
    shares: dict[str, float] = {}
    for tid, (name, ns) in after.items():
        if tid in before:
            shares[name] = shares.get(name, 0.0) + (ns - before[tid][1]) / wall / 1e7
    return {"total": sum(shares.values()), **shares}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client-src", type=Path, required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=15.0, help="seconds per window")
    parser.add_argument("--dbfs", type=float, default=-60.0, help="room noise, RMS")
    opts = parser.parse_args()
    venv_python = REPO / ".venv" / "bin" / "python"
    if Path(sys.prefix).resolve() != venv_python.parents[1].resolve():  # as run.py: its venv
        subprocess.run(["bash", str(REPO / "scripts" / "bootstrap.sh")], check=True)
        os.execv(venv_python, [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.path[:0] = [str(REPO / "benchmarks"), str(REPO)]
    from procs import Client, FloorProcess, client_env, cpu_window
    from run import room_noise, start_bed, wait_listening
    from tests.e2e.chat_harness import Simulator

    other = opts.client_src.resolve()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="voicelive-compare-") as tmp:
        work = Path(tmp)
        bed = start_bed(work / "audio")
        seconds = opts.rounds * (2 * (opts.window + 15) + opts.window + 5) + 30
        noise = bed.play_into_mic(room_noise(work / "room.wav", opts.dbfs, seconds))
        try:
            for n in range(opts.rounds):
                for label, src in ((f"other ({other})", other), ("this checkout", None)):
                    record = work / f"{n}-{src is None}.jsonl"
                    with Simulator(record, client_env(bed.env, None)) as sim:
                        client = Client(sim.url, client_env(bed.env, src), work / f"c{n}{label}")
                        client.start()
                        try:
                            wait_listening(client, record)
                            time.sleep(4.0)  # sleep-ok: past start-up and the lively 2 s
                            for name, value in window(client.pid, opts.window).items():
                                results.setdefault(f"{label}: {name}", []).append(value)
                        finally:
                            client.quit()
                floor = FloorProcess("input", client_env(bed.env, None))
                try:
                    time.sleep(1.0)  # sleep-ok: past the stream's start-up
                    percent = cpu_window(floor.pid, opts.window).percent
                    results.setdefault("floor: do-nothing input stream", []).append(percent)
                finally:
                    floor.close()
        finally:
            noise.kill()
            noise.wait(timeout=5)
            bed.stop()
    print(f"\nlistening CPU, {opts.dbfs:g} dBFS room, % of a core, median (min-max) over rounds:")
    for key, values in results.items():
        low, high = min(values), max(values)
        median = statistics.median(values)
        print(f"  {key:60s} {median:5.2f} ({low:.2f}-{high:.2f}, n={len(values)})")


if __name__ == "__main__":
    main()
