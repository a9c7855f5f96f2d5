"""Headless audio: a WAV file instead of the microphone, a WAV file instead of the speaker.

``--input-file`` is read whole, converted to PCM16 mono 24 kHz (any rate or channel count;
resampled with soxr) and streamed in real time, one ``chunk_ms`` block per tick, followed by
silence so the service's VAD can close the turn. ``input_finished`` is set once the file and
a short tail of silence have been sent; the orchestrator then ends the session as soon as the
reply has finished playing. ``--output-file`` records what the speaker would have played, in
real time, silences included, so it lines up with the input (24 kHz mono PCM16).

Pacing uses the event loop clock with absolute deadlines (no drift). Everything runs on the
event loop thread; the file is written in small blocks as it plays, and closed on every exit.

With an :class:`~voicelive.audio.echo_reference.EchoLink` (``--echo-reference``, ``--record``)
the file ends place their audio on the echo reference's time line by their ideal deadlines
(the loop clock is ``time.monotonic()``, the same as a PortAudio end's): a speaker block
pulled at deadline ``t`` plays over ``[t, t + 10 ms)`` — the output file's time line — and a
microphone block sent at deadline ``t`` was captured over the ``chunk_ms`` before ``t``, as a
device delivers it after the fact. With a WAV speaker too, a microphone block waits (at most
:data:`MAX_HELD_BLOCKS`) until the speaker has written past its span: on a busy loop the late
speaker catches up one block per loop turn and the microphone's tick can come first.
"""

from __future__ import annotations

import asyncio
import io
import logging
import wave
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voicelive.audio.interfaces import MicStream, SpeakerStream
from voicelive.audio.jitter import JitterBuffer
from voicelive.config.settings import AudioSettings
from voicelive.errors import AudioDeviceError, ConfigError
from voicelive.private_files import open_write_binary
from voicelive.protocol.pcm import BYTES_PER_MS, BYTES_PER_SAMPLE, SAMPLE_RATE
from voicelive.protocol.playback import PlaybackNotice

if TYPE_CHECKING:
    from voicelive.audio.devices import PortAudioIO
    from voicelive.audio.echo_reference import EchoLink

log = logging.getLogger(__name__)

TAIL_SILENCE_MS = 1500  # longer than the default silence_duration_ms, so VAD ends the turn
MAX_HELD_BLOCKS = 5
"""Microphone blocks held back at most while a WAV speaker catches up (100 ms at 20 ms)."""


def read_wav_pcm16(path: Path) -> bytes:
    """Read a PCM WAV file (8/16/24/32-bit, any rate/channels) as PCM16 mono 24 kHz bytes.

    Raises ConfigError naming the file when it is missing or not a PCM WAV file.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise ConfigError(f"--input-file {path}: no such file.") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise ConfigError(f"--input-file {path} is not a PCM WAV file ({exc}).") from None
    if width == 1:
        samples = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        samples = np.frombuffer(frames, "<i2").astype(np.float32) / 32768
    elif width == 3:
        raw = np.frombuffer(frames, np.uint8).reshape(-1, 3)
        ints = (
            raw[:, 0].astype(np.int32)
            | raw[:, 1].astype(np.int32) << 8
            | raw[:, 2].astype(np.int32) << 16
        )
        samples = (np.where(ints >= 1 << 23, ints - (1 << 24), ints)).astype(np.float32) / (1 << 23)
    elif width == 4:
        samples = np.frombuffer(frames, "<i4").astype(np.float32) / (1 << 31)
    else:
        raise ConfigError(f"--input-file {path}: unsupported sample width {width * 8} bits.")
    mono = samples.reshape(-1, channels).mean(axis=1) if channels > 1 else samples
    if rate != SAMPLE_RATE:
        import soxr

        mono = np.asarray(soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ"), np.float32)
    pcm = np.clip(np.round(mono * 32767), -32768, 32767).astype("<i2")
    data: bytes = pcm.tobytes()
    return data


async def _ticks(period_s: float) -> AsyncIterator[tuple[int, float]]:
    """Yield ``(k, start)`` for k = 0, 1, 2, … at absolute deadlines ``start + k * period``
    on the loop clock."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    k = 0
    while True:
        yield k, start
        k += 1
        await asyncio.sleep(max(0.0, start + k * period_s - loop.time()))


def _grid(seconds: float) -> int:
    from voicelive.audio.echo_reference import grid_position

    return grid_position(seconds)


class _FileMicrophone:
    def __init__(
        self,
        pcm: bytes,
        chunk_bytes: int,
        sink: Callable[[bytes], None],
        finished: asyncio.Event,
        echo: EchoLink | None = None,
        wait_for_speaker: bool = False,
    ) -> None:
        self._pcm = pcm
        self._chunk = chunk_bytes
        self._sink = sink
        self._finished = finished
        self._echo = echo
        self._wait = wait_for_speaker
        self._task: asyncio.Task[None] | None = None
        self.failed = asyncio.Event()  # a file never fails mid-run

    def drop_held(self) -> None:
        """Nothing to drop: a file's blocks are never held back."""

    async def _stream(self) -> None:
        silence = bytes(self._chunk)
        tail_blocks = TAIL_SILENCE_MS * BYTES_PER_MS // self._chunk
        total = len(self._pcm)
        frames = self._chunk // BYTES_PER_SAMPLE
        held: deque[tuple[bytes, int]] = deque()
        async for k, start in _ticks(self._chunk / BYTES_PER_MS / 1000):
            offset = k * self._chunk
            if offset < total:
                block = self._pcm[offset : offset + self._chunk].ljust(self._chunk, b"\0")
            else:
                block = silence  # keep the stream alive: VAD needs trailing silence
            if self._echo is None:
                self._sink(block)
            else:  # captured over the chunk before this deadline
                held.append((block, _grid(start) + (k - 1) * frames))
                self._pair_ready(held, frames)
            if offset >= total + tail_blocks * self._chunk and not self._finished.is_set():
                log.info("input file sent (%d bytes)", total)
                self._finished.set()

    def _pair_ready(self, held: deque[tuple[bytes, int]], frames: int) -> None:
        """Pair and hand on the held blocks whose span the speaker has written (all of them
        without a WAV speaker, the oldest when too many wait)."""
        assert self._echo is not None
        while held:
            block, position = held[0]
            head = self._echo.reference.head
            written = head is not None and head >= position + frames
            if self._wait and not written and len(held) <= MAX_HELD_BLOCKS:
                return
            held.popleft()
            self._sink(self._echo.pair(block, position))

    def __enter__(self) -> _FileMicrophone:
        self._task = asyncio.ensure_future(self._stream())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()


class _FileSpeaker:
    def __init__(
        self,
        path: Path | None,
        jitter: JitterBuffer,
        notify: Callable[[PlaybackNotice], None],
        block_bytes: int,
        echo: EchoLink | None = None,
    ) -> None:
        self._path = path
        self._echo = echo
        self._jitter = jitter
        self._notify = notify
        self._block = block_bytes
        self._wav: wave.Wave_write | None = None
        self._wav_file: io.BufferedWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self.failed = asyncio.Event()

    async def _play(self) -> None:
        out = bytearray(self._block)
        view = memoryview(out)
        frames = self._block // BYTES_PER_SAMPLE
        async for k, start in _ticks(self._block / BYTES_PER_MS / 1000):
            notice = self._jitter.pull_into(view)
            if self._wav is not None:
                self._wav.writeframesraw(out)
            if self._echo is not None:  # plays over the block after this deadline
                self._echo.reference.played(out, _grid(start) + k * frames)
            if notice is not None:
                self._notify(notice)

    def wake(self) -> None:
        """Nothing to start: the file is written on a steady tick."""

    def __enter__(self) -> _FileSpeaker:
        if self._path is not None:
            try:  # private, as every file voicelive writes; wave closes only what it opened
                self._wav_file = io.BufferedWriter(open_write_binary(self._path))
                wav = wave.open(self._wav_file, "wb")
            except OSError as exc:
                raise AudioDeviceError(
                    f"Cannot write --output-file {self._path} ({exc.strerror or exc})."
                ) from None
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(SAMPLE_RATE)
            self._wav = wav
        self._task = asyncio.ensure_future(self._play())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._wav is not None:
            self._wav.close()  # patches the header with the real length
            log.info("output file written: %s", self._path)
            self._wav = None
        if self._wav_file is not None:
            self._wav_file.close()
            self._wav_file = None


class WavAudio:
    """``AudioIO`` for headless runs. With only ``--output-file``, the real microphone is used;
    with only ``--input-file``, replies are played on the real speaker. ``echo``: see the
    module docstring."""

    def __init__(self, settings: AudioSettings, echo: EchoLink | None = None) -> None:
        self._settings = settings
        self._echo = echo
        self._pcm: bytes | None = None
        self.input_finished: asyncio.Event | None = (
            asyncio.Event() if settings.input_file is not None else None
        )
        self._real: PortAudioIO | None = None
        self.real_time_speaker = settings.output_file is None  # else the file's own clock

    def check(self) -> None:
        if self._settings.input_file is not None:
            self._pcm = read_wav_pcm16(self._settings.input_file)
        out = self._settings.output_file
        if out is not None and not out.parent.exists():
            raise ConfigError(f"--output-file {out}: the folder {out.parent} does not exist.")
        if self._settings.input_file is None or out is None:
            from voicelive.audio.devices import PortAudioIO

            self._real = PortAudioIO(self._settings, self._echo)
            self._real.check()

    def microphone(self, sink: Callable[[bytes], None]) -> MicStream:
        if self._pcm is None or self.input_finished is None:
            assert self._real is not None, "check() opens the real microphone"
            return self._real.microphone(sink)
        chunk = self._settings.chunk_ms * BYTES_PER_MS
        file_speaker = self._settings.output_file is not None
        return _FileMicrophone(
            self._pcm, chunk, sink, self.input_finished, self._echo, wait_for_speaker=file_speaker
        )

    def speaker(
        self, jitter: JitterBuffer, notify: Callable[[PlaybackNotice], None]
    ) -> SpeakerStream:
        if self._settings.output_file is None:
            assert self._real is not None, "check() opens the real speaker"
            return self._real.speaker(jitter, notify)
        return _FileSpeaker(
            self._settings.output_file, jitter, notify, 10 * BYTES_PER_MS, self._echo
        )
