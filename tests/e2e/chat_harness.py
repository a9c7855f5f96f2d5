"""Process helpers for the end-to-end tests: waits on lines and conditions, the process table,
the simulator subprocess and its JSONL record, the client in a private tmux terminal.

Waits use a helper thread or a bounded poll of an external condition (a file, the process
table, tmux's pane state) with a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def wait_for_line(
    proc: subprocess.Popen[str], needle: str, timeout: float, lines: list[str] | None = None
) -> str:
    """Read ``proc.stdout`` until a line containing ``needle``; raise TimeoutError/EOFError.

    The read happens on a helper thread so the deadline holds even if the process is silent.
    Lines read (including the match) are appended to ``lines`` when given.
    """
    assert proc.stdout is not None
    stdout = proc.stdout
    result: list[str] = []
    done = threading.Event()

    def reader() -> None:
        for line in stdout:
            if lines is not None:
                lines.append(line)
            if needle in line:
                result.append(line)
                break
        done.set()

    threading.Thread(target=reader, name="line-reader", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"no line containing {needle!r} within {timeout} s")
    if not result:
        raise EOFError(f"process exited (code {proc.poll()}) before printing {needle!r}")
    return result[0]


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` every ``interval`` s until true or ``timeout``; for external state
    (a file, a process table) that offers nothing to block on."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)  # sleep-ok: poll interval of a bounded wait on external state


def _process_table() -> dict[int, tuple[str, int]]:
    """pid -> (state letter, parent pid) for every process, read from /proc."""
    table: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                # The command name is in parentheses and may hold spaces; fields follow the ')'.
                fields = stat[stat.rindex(")") + 2 :].split()
                table[int(entry.name)] = (fields[0], int(fields[1]))
    return table


def living_pids() -> set[int]:
    """PIDs of all processes that are not zombies."""
    return {pid for pid, (state, _) in _process_table().items() if state != "Z"}


def descendants(pid: int) -> list[int]:
    """PIDs of all living descendants of ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for child, (state, parent) in _process_table().items():
        if state != "Z":
            children.setdefault(parent, []).append(child)
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def report(name: str, seconds: float) -> float:
    """Print a measured figure so ``pytest -s``/``-rA`` shows it; returns ``seconds``."""
    print(f"[measure] {name}: {seconds * 1000:.1f} ms")
    return seconds


def session_members(sid: int) -> list[int]:
    """PIDs of living processes in session ``sid`` (children that did not ``setsid``)."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                if fields[0] != "Z" and int(fields[3]) == sid:
                    members.append(int(entry.name))
    return members


def voicelive_command() -> list[str]:
    """The ``voicelive`` console script of the running interpreter's environment."""
    script = Path(sys.executable).with_name("voicelive")
    if script.exists():
        return [str(script)]
    found = shutil.which("voicelive")
    if found is None:
        raise FileNotFoundError("the voicelive command is not installed (pip install -e .)")
    return [found]


# --------------------------------------------------------------------------------------------
# The simulator's JSONL record


@dataclass(frozen=True)
class Frame:
    """One recorded frame: the event, its direction as recorded, its time stamp if any."""

    event: dict[str, Any]
    direction: str | None
    t: float | None


_EVENT_KEYS = ("event", "frame", "message", "data", "payload")
_DIRECTION_KEYS = ("dir", "direction", "from", "source", "side")
_TIME_KEYS = ("t", "time", "ts", "timestamp", "monotonic", "at", "elapsed", "elapsed_s")


def _frame(obj: dict[str, Any]) -> Frame | None:
    event: Any = obj
    for key in _EVENT_KEYS:
        if key in obj and "type" not in obj:
            event = obj[key]
            break
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except json.JSONDecodeError:
            return None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return None
    direction = next((str(obj[k]) for k in _DIRECTION_KEYS if k in obj), None)
    stamp = next((obj[k] for k in _TIME_KEYS if isinstance(obj.get(k), int | float)), None)
    return Frame(event, direction, None if stamp is None else float(stamp))


def read_record(path: Path) -> list[Frame]:
    """Every complete, parseable frame of a simulator record (a missing file reads as empty).

    Tolerant of the exact layout (the event at top level or under ``event``/``frame``/...),
    so the tests depend only on "one JSON line per frame, with its event".
    """
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    frames: list[Frame] = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line still being written
        if isinstance(obj, dict) and (frame := _frame(obj)) is not None:
            frames.append(frame)
    return frames


def events_of(path: Path, event_type: str) -> list[dict[str, Any]]:
    """The recorded events of ``event_type``, in order."""
    return [f.event for f in read_record(path) if f.event["type"] == event_type]


# --------------------------------------------------------------------------------------------
# The simulator and the client


class Simulator:
    """``voicelive simulate --port 0 --record REC`` as a subprocess (a context manager).

    ``__enter__`` returns once the simulator printed its "listening on ws://…" line, which
    names the port it bound: asking for port 0 leaves no window in which another process can
    take a port picked beforehand.
    """

    def __init__(self, record: Path, env: Mapping[str, str], *extra: str) -> None:
        self.record = record
        self.port = 0
        self.url = ""
        self._args = [
            *voicelive_command(),
            "simulate",
            "--port",
            "0",
            "--record",
            str(record),
            *extra,
        ]
        self._env = dict(env)
        self.output: list[str] = []
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Simulator:
        self._proc = subprocess.Popen(
            self._args,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            line = wait_for_line(self._proc, "listening on", timeout=15, lines=self.output)
        except (TimeoutError, EOFError) as err:
            self.__exit__(None, None, None)
            raise RuntimeError(f"simulator did not start: {err}; output: {self.output}") from err
        found = re.search(r"listening on (ws://127\.0\.0\.1:(\d+))", line)
        assert found is not None, f"no endpoint in {line!r}"
        self.url, self.port = found.group(1), int(found.group(2))
        return self

    def __exit__(self, *exc_info: object) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


# Runs argv[2:] as a child on the same terminal and process group, writes its PID to
# argv[1].pid and, when it ends, its return code (negative: killed by that signal) to argv[1].
# A no-op SIGINT handler (not SIG_IGN, which the child would inherit) keeps the wrapper alive
# through a terminal Ctrl+C, which reaches the whole foreground process group.
_WRAPPER = """
import os, signal, subprocess, sys
signal.signal(signal.SIGINT, lambda *_: None)
status = sys.argv[1]
child = subprocess.Popen(sys.argv[2:])
with open(status + ".pid.tmp", "w") as f:
    f.write(str(child.pid))
os.replace(status + ".pid.tmp", status + ".pid")
code = child.wait()
with open(status + ".tmp", "w") as f:
    f.write(str(code))
os.replace(status + ".tmp", status)
"""

_servers = itertools.count()


class TmuxClient:
    """A command running in a private tmux server (its own socket), in a 120x40 terminal.

    The command is the child of a small wrapper that records its PID and exit status in files:
    tmux 3.3a sometimes leaves an exited pane process unreaped (a zombie with no
    ``pane_dead_status``), so tmux is used only as the terminal. The pane is its own session,
    so processes the command leaves behind can be found by session id.
    Use as a context manager; ``__exit__`` kills only this private tmux server.
    """

    def __init__(self, args: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
        number = next(_servers)
        self._socket = cwd / f"tmux{number}.sock"
        self._status = cwd / f"exit{number}"
        self._args = list(args)
        self._env = dict(env)
        self._cwd = cwd
        self.pid = 0
        """The command's PID."""
        self.sid = 0
        """The terminal's session id (the wrapper's PID)."""

    def _tmux(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["tmux", "-S", str(self._socket), "-f", "/dev/null", *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {result.stderr.strip()}")
        return result.stdout

    def __enter__(self) -> TmuxClient:
        pulse = self._env.get("PULSE_SERVER", "")
        wrapper = [sys.executable, "-c", _WRAPPER, str(self._status), *self._args]
        out = self._tmux(
            *("new-session", "-d", "-s", "chat", "-x", "120", "-y", "40", "-c", str(self._cwd)),
            *("-e", f"PULSE_SERVER={pulse}", "-P", "-F", "#{pane_pid}"),
            "exec " + shlex.join(wrapper),
        )
        self.sid = int(out.strip())
        pid_file = Path(f"{self._status}.pid")
        if not wait_for(pid_file.exists, 10):
            self.__exit__()
            raise RuntimeError("the tmux wrapper did not start the command within 10 s")
        self.pid = int(pid_file.read_text())
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Killing the server hangs up the terminal (SIGHUP to the wrapper and the command);
        # a command that survives that is killed by its PID, which this object started.
        self._tmux("kill-server", check=False)
        if (
            self.pid
            and self.exit_status() == (None, None)
            and not wait_for(lambda: self.pid not in living_pids(), 5.0)
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def send_keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "chat", *keys)

    def screen(self) -> str:
        """The visible terminal text."""
        return self._tmux("capture-pane", "-p", "-t", "chat", check=False)

    def exit_status(self) -> tuple[int | None, int | None]:
        """``(exit code, signal)`` once the command has ended, ``(None, None)`` while it runs."""
        try:
            code = int(self._status.read_text())
        except FileNotFoundError:
            return None, None
        return (code, None) if code >= 0 else (None, -code)

    def wait_exit(self, timeout: float) -> tuple[int | None, int | None] | None:
        """Wait for the command to end; ``(code, signal)`` or None on timeout."""
        return self.exit_status() if wait_for(self._status.exists, timeout) else None


def audio_sent(path: Path) -> dict[str, int]:
    """Bytes of ``response.audio.delta`` audio the simulator sent, per item id, in order."""
    sent: dict[str, int] = {}
    for event in events_of(path, "response.audio.delta"):
        delta = event.get("delta")
        size = delta.get("audio_bytes", 0) if isinstance(delta, dict) else 0
        item = str(event.get("item_id"))
        sent[item] = sent.get(item, 0) + int(size)
    return sent


def client_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without any voicelive configuration of the person running the tests."""
    prefixes = ("AZURE_VOICELIVE_", "AZURE_VOICE_LIVE_", "VOICELIVE_", "VOICE_LIVE_")
    return {k: v for k, v in env.items() if not k.startswith(prefixes)}


class ListeningClient:
    """``voicelive chat`` with default settings, in its own process, listening to a recorded
    simulator (``record``); its log is ``log``; ``q`` + Enter on its stdin quits it."""

    def __init__(self, proc: subprocess.Popen[bytes], record: Path, log: Path) -> None:
        self.proc = proc
        self.record = record
        self.log = log

    def context(self) -> str:
        log = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return f"\n--- client log (tail) ---\n{log[-3000:]}"

    @classmethod
    @contextlib.contextmanager
    def running(cls, env: Mapping[str, str], workdir: Path) -> Iterator[ListeningClient]:
        """Start the simulator and the client; yield once 1 s of microphone audio has reached
        the simulator (long past the client's set-up); quit both at the end."""
        env = client_env(env)
        record = workdir / "record.jsonl"
        log = workdir / "voicelive.log"
        with Simulator(record, env) as simulator:
            proc = subprocess.Popen(
                [*voicelive_command(), "chat", "--endpoint", simulator.url, "--api-key", "k"],
                cwd=workdir,  # default settings: the log is ./voicelive.log
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_for(
                    lambda: proc.poll() is not None or audio_received_ms(record) >= 1000,
                    30,
                    interval=0.05,
                )
                assert proc.poll() is None, "the client exited"
                yield cls(proc, record, log)
            finally:
                if proc.poll() is None:
                    quit_with_q(proc)


def quit_with_q(proc: subprocess.Popen[bytes]) -> None:
    """Quit a client whose stdin is a pipe as a user would (q + Enter); kill it if it is still
    there after 10 s."""
    assert proc.stdin is not None
    proc.stdin.write(b"q\n")
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def appended_bytes(path: Path) -> list[int]:
    """The audio size of each ``input_audio_buffer.append`` the simulator received, in order."""
    sizes = []
    for event in events_of(path, "input_audio_buffer.append"):
        audio = event.get("audio")
        sizes.append(int(audio.get("audio_bytes", 0)) if isinstance(audio, dict) else 0)
    return sizes


def audio_received_ms(path: Path) -> int:
    """Milliseconds of 24 kHz mono PCM16 microphone audio the simulator received."""
    return sum(appended_bytes(path)) // 48
