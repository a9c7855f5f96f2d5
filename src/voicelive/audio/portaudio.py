"""The only module that imports ``sounddevice`` (PortAudio), lazily, and the stream base.

``import sounddevice`` raises ``OSError`` when the PortAudio library is missing and enumerates
devices once, at import; so it happens here, on first use, and every PortAudio failure is
turned into :class:`~voicelive.errors.AudioDeviceError` with a sentence that says what to do.

Threads: PortAudio calls the stream callbacks on its own thread (see
:mod:`~voicelive.audio.microphone` and :mod:`~voicelive.audio.speaker`). If the device or
sound server goes away, PortAudio simply stops calling back; the ``finished_callback`` then
sets :attr:`Stream.failed`, which the orchestrator watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from types import ModuleType
from typing import Any, Literal

from voicelive.errors import AudioDeviceError
from voicelive.protocol.pcm import SAMPLE_RATE

log = logging.getLogger(__name__)

Kind = Literal["input", "output"]

_INSTALL_HINT = (
    "install it (Debian/Ubuntu: sudo apt install libportaudio2; Fedora: sudo dnf install "
    "portaudio; macOS: brew install portaudio)"
)


def sounddevice() -> ModuleType:
    """Import and return ``sounddevice``; raises AudioDeviceError if PortAudio is missing."""
    try:
        import sounddevice as sd
    except OSError:
        raise AudioDeviceError(f"The PortAudio library was not found: {_INSTALL_HINT}.") from None
    module: ModuleType = sd
    return module


def warm_up_portaudio() -> threading.Thread:
    """Start importing ``sounddevice`` (PortAudio's initialisation: 0.06-0.1 s, in C, plus a
    ``find_library`` subprocess) on a thread, so it overlaps the chat's own imports on another
    core. The first :func:`sounddevice` call then waits for it (Python's import lock) and
    raises as usual when PortAudio is missing; the thread swallows that failure. Start it
    inside :func:`voicelive.logs.native_stderr_to_log`, like anything that starts PortAudio."""

    def load() -> None:
        with contextlib.suppress(Exception):
            import sounddevice  # noqa: F401

    thread = threading.Thread(target=load, name="portaudio-warm-up", daemon=True)
    thread.start()
    return thread


def choose_rate(device: int | None, kind: Kind, forced: int | None) -> int:
    """The rate to open ``device`` at: ``forced``, else 24 kHz if it accepts it, else its own.

    Raises AudioDeviceError when PortAudio cannot query the device at all.
    """
    if forced:
        return forced
    sd = sounddevice()
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=device, samplerate=SAMPLE_RATE, channels=1, dtype="int16")
        return SAMPLE_RATE
    except (sd.PortAudioError, ValueError) as exc:
        log.info(
            "%s device %s refuses %d Hz (%s); using its default rate",
            kind,
            device,
            SAMPLE_RATE,
            exc,
        )
    try:
        info = sd.query_devices(device, kind)
    except (sd.PortAudioError, ValueError) as exc:
        raise open_error(kind, exc) from None
    return int(info["default_samplerate"])


def open_error(kind: Kind, exc: Exception) -> AudioDeviceError:
    return AudioDeviceError(
        f"Could not open the audio {kind} device ({exc}); check {f'--{kind}-device'} "
        "(`voicelive devices` lists them) and that the sound server is running."
    )


class Stream:
    """What the microphone and the speaker share: open, report, watch for failure, close.

    ``failed`` is set (on the loop thread) when PortAudio ends the stream by itself, which is
    how a removed device or a dead sound server shows; a deliberate close or stop does not.
    """

    kind: Kind

    def __init__(self, device: int | None, device_rate: int | None) -> None:
        self._device = device
        self._device_rate = device_rate
        self.rate = SAMPLE_RATE
        self._stream: Any = None
        self.failed = asyncio.Event()
        self._closing = False
        self._stopped = False  # stopped on purpose (the speaker, with nothing to play)

    def _open(self, stream_class: str, callback: Any, block_ms: int, latency: Any) -> None:
        """Create and start the PortAudio stream; raises AudioDeviceError."""
        sd = sounddevice()
        loop = asyncio.get_running_loop()

        def finished() -> None:
            if not (self._closing or self._stopped):  # a deliberate close/stop: no failure
                loop.call_soon_threadsafe(self.failed.set)

        try:
            self._stream = getattr(sd, stream_class)(
                samplerate=self.rate,
                channels=1,
                dtype="int16",
                blocksize=self.rate * block_ms // 1000,
                device=self._device,
                latency=latency,
                callback=callback,
                finished_callback=finished,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._close()
            raise open_error(self.kind, exc) from None
        log.info(
            "%s open: device=%s rate=%d latency=%.1f ms",
            "microphone" if self.kind == "input" else "speaker",
            self._device,
            self.rate,
            self._stream.latency * 1000,
        )

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
            except Exception:
                log.debug("error closing the %s stream", self.kind, exc_info=True)

    def __exit__(self, *exc_info: object) -> None:
        self._closing = True
        self._close()
