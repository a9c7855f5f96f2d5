"""Processes and their costs, for ``benchmarks/run.py``: the client as a user runs it, the
floors, the simulator; CPU time and memory read from ``/proc``; figures with their spread.

Every wall time is ``time.monotonic()`` (CLOCK_MONOTONIC: comparable between processes).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLOOR = Path(__file__).resolve().with_name("floor.py")
API_KEY = "benchmark-key"
_CLEAN_PREFIXES = ("AZURE_VOICELIVE_", "AZURE_VOICE_LIVE_", "VOICELIVE_", "VOICE_LIVE_")


def voicelive() -> str:
    """The ``voicelive`` console script of this interpreter's environment."""
    return str(Path(sys.executable).with_name("voicelive"))


def client_env(base: Mapping[str, str], src: Path | None) -> dict[str, str]:
    """``base`` without any voicelive configuration of the person running the benchmark;
    with ``src``, the client's code comes from ``src/src`` (another checkout)."""
    env = {k: v for k, v in base.items() if not k.startswith(_CLEAN_PREFIXES)}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(src / "src"), env.get("PYTHONPATH", "")) if p
        )
    return env


# ------------------------------------------------------------------------------- /proc


def cpu_seconds(pid: int) -> float:
    """CPU time of every living thread of ``pid`` (ns-exact from schedstat where there is one)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[0]) / 1e9
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _busy_jiffies() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


@dataclass
class Window:
    """CPU use of one process over a window, and how busy the whole machine was meanwhile."""

    percent: float
    """Of one core."""
    machine_percent: float
    """Of all cores together (100 = every core busy)."""


def cpu_window(pid: int, seconds: float) -> Window:
    busy0, total0 = _busy_jiffies()
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)  # sleep-ok: the measuring window itself
    cpu1, wall1 = cpu_seconds(pid), time.monotonic()
    busy1, total1 = _busy_jiffies()
    return Window(
        (cpu1 - cpu0) / (wall1 - wall0) * 100,
        (busy1 - busy0) / max(1, total1 - total0) * 100,
    )


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise OSError(f"no VmRSS for {pid}")


def machine() -> str:
    """One line: cores, OS, Python."""
    pretty = "unknown OS"
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip('"')
    cores = os.cpu_count()
    python = sys.version.split()[0]
    return f"{cores} cores, {pretty}, Python {python}, PulseAudio virtual sound card"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class RecordTail:
    """Counts events of one type in a growing simulator record (JSONL), reading only what was
    appended since the last look: a soak's record grows by 50 lines a second."""

    def __init__(self, path: Path, event_type: str) -> None:
        self._path = path
        self._needle = f'"type":"{event_type}"'.encode()
        self._needle_spaced = f'"type": "{event_type}"'.encode()
        self._offset = 0
        self._partial = b""
        self.count = 0

    def poll(self) -> int:
        with contextlib.suppress(FileNotFoundError), self._path.open("rb") as f:
            f.seek(self._offset)
            data = self._partial + f.read()
            self._offset = f.tell()
            *lines, self._partial = data.split(b"\n")
            self.count += sum(
                1 for line in lines if self._needle in line or self._needle_spaced in line
            )
        return self.count


# ------------------------------------------------------------------------------- processes


class Client:
    """``voicelive chat --endpoint URL --api-key K`` with every other setting at its default,
    in its own process, in a fresh directory (its log is the default ``voicelive.log`` there),
    its stdin a pipe (``q`` + Enter quits it), its stdout a terminal as a person's is (a pty,
    120 x 30, read by a thread here, which keeps the last screenful in :attr:`screen`): so the
    status line and its level meter are drawn, and cost what they cost."""

    def __init__(
        self, endpoint: str, env: Mapping[str, str], workdir: Path, extra: Sequence[str] = ()
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.args = [voicelive(), "chat", "--endpoint", endpoint, "--api-key", API_KEY, *extra]
        self.env = dict(env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.screen = b""
        """The last 4 KiB the client wrote to its terminal."""
        self._terminal: int | None = None

    @property
    def log(self) -> Path:
        return self.workdir / "voicelive.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Client:
        stderr = (self.workdir / "stderr.txt").open("ab")
        terminal, pty_out = pty.openpty()
        fcntl.ioctl(pty_out, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.args,
            cwd=self.workdir,
            env={**self.env, "TERM": "xterm-256color"},
            stdin=subprocess.PIPE,
            stdout=pty_out,
            stderr=stderr,
        )
        stderr.close()
        os.close(pty_out)
        self._terminal = terminal
        threading.Thread(target=self._read_terminal, args=(terminal,), daemon=True).start()
        return self

    def _read_terminal(self, fd: int) -> None:
        """Drain the client's terminal (a full pty would block its writes) until it closes."""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the client is gone and the pty hung up
                return
            if not chunk:
                return
            self.screen = (self.screen + chunk)[-4096:]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def quit(self, timeout: float = 10.0) -> int | None:
        """q + Enter; SIGINT, then SIGKILL if it does not go. Returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.write(b"q\n")
                proc.stdin.flush()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if self._terminal is not None:
            with contextlib.suppress(OSError):
                os.close(self._terminal)
            self._terminal = None
        return proc.returncode

    def log_lines(self, containing: str) -> list[str]:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if containing in line]


class FloorProcess:
    """``floor.py MODE [ARG...]``: started, waited for until it prints ``ready``; stdin
    closes it."""

    def __init__(self, mode: str, env: Mapping[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(FLOOR), mode, *args],
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"floor.py {mode} did not start")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, command: str) -> float:
        """Write one command line; returns the monotonic time just before the write."""
        assert self.proc.stdin is not None
        now = time.monotonic()
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return now

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def timed_runs(args: Sequence[str], env: Mapping[str, str], n: int) -> list[float]:
    """Wall seconds of ``n`` runs of ``args`` after one warm-up (output discarded); a failing
    run raises."""
    times = []
    for _ in range(n + 1):
        start = time.monotonic()
        subprocess.run(args, env=dict(env), stdout=subprocess.DEVNULL, check=True, timeout=60)
        times.append(time.monotonic() - start)
    return times[1:]


# ------------------------------------------------------------------------------- figures


@dataclass
class Figure:
    """One printed figure: voicelive's samples against its floor's, and its target."""

    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    floor_name: str = ""
    floor: list[float] = field(default_factory=list)
    target: float | None = None
    """voicelive's median must be at most this (``unit``; times the floor when ``relative``)."""
    relative: bool = False
    scale: float = 1.0
    """Printed values are ``value * scale`` (seconds shown as ms, say)."""
    resolution: float = 0.0
    """No ratio when the floor is below this (printed units): it would divide by noise."""

    @staticmethod
    def spread(values: list[float], scale: float) -> str:
        if not values:
            return "n/a"
        med = statistics.median(values) * scale
        low, high = min(values) * scale, max(values) * scale
        digits = 2 if abs(med) < 10 else 1
        return f"{med:.{digits}f} ({low:.{digits}f}-{high:.{digits}f}, n={len(values)})"

    @property
    def ratio(self) -> float | None:
        if not self.values or not self.floor:
            return None
        floor = statistics.median(self.floor) * self.scale
        if floor <= 0 or floor < self.resolution:
            return None
        return statistics.median(self.values) / statistics.median(self.floor)

    @property
    def verdict(self) -> str:
        if self.target is None or not self.values:
            return ""
        got = self.ratio if self.relative else statistics.median(self.values) * self.scale
        if got is None:
            return ""
        bound = f"{self.target:g}x floor" if self.relative else f"{self.target:g} {self.unit}"
        return f"{'ok' if got <= self.target else 'MISSED'} (<= {bound})"
