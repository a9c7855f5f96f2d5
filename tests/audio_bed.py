"""Test helpers for the real audio stack: a virtual sound card, test speech, a speaker recorder.

The bed is a private PulseAudio daemon started by ``scripts/virtual-audio.sh`` with a virtual
microphone (``virtual_mic``, fed through the ``virtual_mic_feed`` sink) and a virtual speaker
(``virtual_speaker``, recorded from ``virtual_speaker.monitor``), all at 24 kHz.

Clients reach it through ``PULSE_SERVER``. PortAudio enumerates devices once, at
``import sounddevice``, so a process that uses sounddevice must have ``PULSE_SERVER`` set before
that import: run the real client in a subprocess with ``env=bed.env``.

Timing: every wall time here is ``time.monotonic()``, which is CLOCK_MONOTONIC on Linux and
therefore comparable between processes (a child can print its own ``time.monotonic()``).

Nothing in this module sleeps to wait for something: waits are on a condition variable or a
process, with a deadline as the guard.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

import numpy as np

from tests.e2e.sound_analysis import RATE, Samples, first_sound, rms_db

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "virtual-audio.sh"
MIC_FEED = "virtual_mic_feed"
SPEAKER_MONITOR = "virtual_speaker.monitor"
REQUIRED_TOOLS = ("pulseaudio", "pactl", "paplay", "parec", "espeak-ng", "sox")


class AudioBedUnavailable(RuntimeError):
    """The virtual sound card cannot be used here; ``str()`` says why and how to fix it."""


# --------------------------------------------------------------------------------------------
# The bed


def _parse_exports(text: str) -> dict[str, str]:
    """``export NAME=value`` lines (the script's stdout) to a dict."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export ") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            found[name.strip()] = value.strip()
    return found


def _server_has_bed(server: str) -> bool:
    """True when the PulseAudio server at ``server`` answers and has the bed's devices."""
    env = {**os.environ, "PULSE_SERVER": server}
    try:
        sinks = subprocess.run(
            ["pactl", "list", "short", "sinks"],
            env=env,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    names = {line.split("\t")[1] for line in sinks.stdout.splitlines() if "\t" in line}
    return sinks.returncode == 0 and {"virtual_speaker", MIC_FEED} <= names


class AudioBed:
    """A running virtual sound card.

    ``vars`` holds only the bed's variables (``PULSE_SERVER``, ``VOICELIVE_AUDIO_DIR``);
    ``env`` is ``os.environ`` with those applied, ready for ``subprocess`` calls.
    :meth:`stop` stops the daemon only if :meth:`start` started it.
    """

    def __init__(self, variables: Mapping[str, str], directory: Path | None, owned: bool) -> None:
        self.vars = dict(variables)
        self.directory = directory
        self.owned = owned
        self.env = {**os.environ, **self.vars}
        self._remove_directory = False

    @property
    def pulse_server(self) -> str:
        return self.vars["PULSE_SERVER"]

    @classmethod
    def start(cls, directory: Path | None = None) -> AudioBed:
        """Reuse the bed named by ``PULSE_SERVER`` if it is one, else start one in ``directory``.

        Never installs packages (that is the script's ``up`` as root, or CI's job).
        Raises :class:`AudioBedUnavailable` with the reason when the bed cannot be had.
        """
        missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
        if missing:
            raise AudioBedUnavailable(
                f"missing tools {', '.join(missing)}: run `sudo scripts/virtual-audio.sh up` once"
            )
        server = os.environ.get("PULSE_SERVER")
        if server and _server_has_bed(server):
            variables = {"PULSE_SERVER": server}
            if "VOICELIVE_AUDIO_DIR" in os.environ:
                variables["VOICELIVE_AUDIO_DIR"] = os.environ["VOICELIVE_AUDIO_DIR"]
            return cls(variables, None, owned=False)
        created = directory is None
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="voicelive-audio-"))
        result = subprocess.run(
            ["bash", str(SCRIPT), "up", str(directory)],
            env={**os.environ, "VOICELIVE_AUDIO_INSTALL": "0"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            if created:
                shutil.rmtree(directory, ignore_errors=True)
            reason = result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"]
            raise AudioBedUnavailable(f"{SCRIPT.name} up failed: {reason[0]}")
        variables = _parse_exports(result.stdout)
        if "PULSE_SERVER" not in variables:
            raise AudioBedUnavailable(f"{SCRIPT.name} up printed no PULSE_SERVER")
        bed = cls(variables, directory, owned="already running" not in result.stderr)
        bed._remove_directory = created
        return bed

    def stop(self) -> None:
        """Stop the daemon if this object started it; idempotent."""
        if self.owned and self.directory is not None:
            subprocess.run(
                ["bash", str(SCRIPT), "down", str(self.directory)],
                capture_output=True,
                timeout=30,
                check=False,
            )
            self.owned = False
        if self._remove_directory and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self._remove_directory = False

    def play_into_mic(self, wav_path: Path) -> subprocess.Popen[bytes]:
        """Start playing ``wav_path`` into the virtual microphone; see :func:`play_into_mic`."""
        return play_into_mic(wav_path, self.env)

    def record_speaker(self) -> SpeakerRecorder:
        """A :class:`SpeakerRecorder` on this bed's speaker (use it as a context manager)."""
        return SpeakerRecorder(self.env)


def play_into_mic(wav_path: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``paplay`` of ``wav_path`` into the virtual microphone and return the process.

    Sound reaches a client's input callback 10-16 ms after this returns (measured).
    """
    return subprocess.Popen(
        ["paplay", f"--device={MIC_FEED}", str(wav_path)],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# --------------------------------------------------------------------------------------------
# WAV files and test speech


def speech_wav(text: str, path: Path, rate: int = RATE, words_per_minute: int = 160) -> Path:
    """Synthesize ``text`` with espeak-ng into ``path`` as a ``rate`` Hz mono 16-bit WAV."""
    raw = path.with_name(path.stem + ".espeak.wav")
    subprocess.run(
        ["espeak-ng", "-s", str(words_per_minute), "-w", str(raw), text],
        check=True,
        capture_output=True,
        timeout=30,
    )
    subprocess.run(
        [
            "sox",
            str(raw),
            "-r",
            str(rate),
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    raw.unlink()
    return path


def read_wav(path: Path) -> tuple[Samples, int]:
    """Samples (mono int16; the first channel of a multi-channel file) and the rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit samples, got {8 * wav.getsampwidth()}-bit")
        channels = wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return data[::channels].astype(np.int16), wav.getframerate()


def write_wav(path: Path, samples: Samples, rate: int = RATE) -> Path:
    """Write mono int16 ``samples`` as a WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return path


def tone(freq_hz: float, seconds: float, amplitude: float = 0.5, rate: int = RATE) -> Samples:
    """A sine tone as int16 samples."""
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16)


def with_noise_floor(
    samples: Samples,
    lead_s: float = 0.6,
    tail_s: float = 0.2,
    level_db: float = -48.0,
    seed: int = 1,
    rate: int = RATE,
) -> Samples:
    """``samples`` with ``lead_s``/``tail_s`` of room noise around them and under them.

    Speech has silent gaps (stops, pauses between words): where playback is cut inside one,
    a recording cannot tell when it stopped. A steady noise floor (``level_db`` RMS, below the
    simulator's -40 dBFS voice threshold, above the -56 dBFS detection level used in the tests)
    makes every played sample audible, so the start and the end of playback are sample-exact.
    The leading noise is longer than the prefix padding, so a reply item starts inside it.
    """
    rng = np.random.default_rng(seed)
    body = np.concatenate(
        [np.zeros(int(lead_s * rate)), samples.astype(np.float64), np.zeros(int(tail_s * rate))]
    )
    noise = rng.standard_normal(body.size) * (10 ** (level_db / 20) * 32768)
    return np.clip(np.round(body + noise), -32768, 32767).astype(np.int16)


# --------------------------------------------------------------------------------------------
# The speaker recorder


class SpeakerRecorder:
    """Records the virtual speaker with ``parec`` and maps sample indices to wall time.

    Use as a context manager. A reader thread appends parec's output; :attr:`t0` is the
    estimated ``time.monotonic()`` of sample 0: every chunk arrives after its last sample was
    rendered, so ``arrival - end_index / rate`` is an upper bound of t0 and the smallest bound
    over all chunks is the estimate (exact to within parec's 10 ms latency).
    Methods may be called from any thread.
    """

    def __init__(self, env: Mapping[str, str], rate: int = RATE) -> None:
        self.rate = rate
        self._env = dict(env)
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._t0 = float("inf")
        self._first_byte_time: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def __enter__(self) -> SpeakerRecorder:
        self._proc = subprocess.Popen(
            [
                "parec",
                "--raw",
                "--format=s16le",
                f"--rate={self.rate}",
                "--channels=1",
                "--latency-msec=10",
                "-d",
                SPEAKER_MONITOR,
            ],
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
        )
        self._thread = threading.Thread(target=self._read, name="parec-reader", daemon=True)
        self._thread.start()
        # Waiting for the first byte makes "sound played after __enter__" land in the recording.
        if not self.wait_until(lambda: self._first_byte_time is not None, timeout=5.0):
            self.__exit__(None, None, None)
            raise AudioBedUnavailable("parec delivered nothing within 5 s")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        while True:
            chunk = stdout.read(4800)
            now = time.monotonic()
            if not chunk:
                break
            with self._cond:
                if self._first_byte_time is None:
                    self._first_byte_time = now
                self._buf += chunk
                self._t0 = min(self._t0, now - (len(self._buf) // 2) / self.rate)
                self._cond.notify_all()

    @property
    def t0(self) -> float:
        """Estimated monotonic time of sample 0."""
        with self._cond:
            return self._t0

    @property
    def first_byte_time(self) -> float | None:
        with self._cond:
            return self._first_byte_time

    def samples(self) -> Samples:
        """A copy of everything recorded so far."""
        with self._cond:
            return np.frombuffer(bytes(self._buf[: len(self._buf) // 2 * 2]), dtype="<i2").copy()

    def duration(self) -> float:
        with self._cond:
            return len(self._buf) // 2 / self.rate

    def time_at(self, index: int) -> float:
        """Monotonic wall time at which sample ``index`` was rendered."""
        return self.t0 + index / self.rate

    def index_at(self, when: float) -> int:
        """Sample index rendered at monotonic time ``when`` (clamped at 0)."""
        return max(0, round((when - self.t0) * self.rate))

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` (evaluated under the lock, after each chunk) is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return False
                self._cond.wait(remaining)
            return True

    def wait_for_duration(self, seconds: float, timeout: float) -> bool:
        """Wait until at least ``seconds`` of audio have been recorded."""
        need = int(seconds * self.rate) * 2
        return self.wait_until(lambda: len(self._buf) >= need, timeout)

    def wait_for_sound(
        self, after: int = 0, timeout: float = 10.0, threshold_db: float = -50.0
    ) -> int | None:
        """Wait for the first 10 ms window at or after sample ``after`` louder than threshold.

        Returns its sample index, or None on timeout.
        """
        found: list[int] = []
        window = self.rate // 100
        scanned = [after]  # window-aligned position up to which everything was quiet

        def check() -> bool:
            start = scanned[0]
            data = np.frombuffer(bytes(self._buf[start * 2 : len(self._buf) // 2 * 2]), "<i2")
            onset = first_sound(data, self.rate, threshold_db)
            if onset is not None:
                found.append(start + onset)
                return True
            scanned[0] = start + len(data) // window * window
            return False

        self.wait_until(check, timeout)
        return found[0] if found else None

    def wait_for_silence(
        self, after: int, silence_s: float = 0.3, timeout: float = 10.0, threshold_db: float = -50.0
    ) -> int | None:
        """Wait until ``silence_s`` of silence follow the last sound at or after ``after``.

        Returns the sample index where the silence begins (end of the last sound), or None.
        """
        found: list[int] = []
        window = self.rate // 100

        def check() -> bool:
            data = np.frombuffer(bytes(self._buf[after * 2 : len(self._buf) // 2 * 2]), "<i2")
            env_db = rms_db(data, self.rate)
            loud = np.flatnonzero(env_db > threshold_db)
            end = (int(loud[-1]) + 1) * window if loud.size else 0
            if len(data) - end >= silence_s * self.rate:
                found.append(after + end)
            return bool(found)

        self.wait_until(check, timeout)
        return found[0] if found else None
