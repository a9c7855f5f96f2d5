"""The only module that touches PortAudio (through ``sounddevice``), imported lazily.

``import sounddevice`` raises ``OSError`` when the PortAudio library is missing and enumerates
devices once, at import; so it happens here, on first use, and every PortAudio failure is
turned into :class:`~voicelive.errors.AudioDeviceError` (or ConfigError for a device choice
that matches nothing) with a sentence that says what to do.

Threads: PortAudio calls the stream callbacks on its own thread. The microphone callback copies
each block and hands it to the event loop with ``call_soon_threadsafe``; the speaker callback
pulls from the :class:`~voicelive.audio.jitter.JitterBuffer` (which has its own lock) and
reports transitions the same way. Neither callback blocks, raises, or touches asyncio objects.
If the device or sound server goes away, PortAudio simply stops calling back; the
``finished_callback`` then sets :attr:`failed`, which the orchestrator watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final, Literal

from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.quiet_batcher import PlaybackActivity, QuietBatcher
from voicelive.config.settings import AudioSettings
from voicelive.errors import AudioDeviceError, ConfigError
from voicelive.protocol.pcm import SAMPLE_RATE
from voicelive.protocol.playback import PlaybackEvent, PlaybackNotice

if TYPE_CHECKING:
    from voicelive.audio.echo_reference import EchoLink

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


PREFERRED_HOSTAPI: Final = "Windows WASAPI" if sys.platform == "win32" else None
"""The host API whose devices are preferred when the choice leaves it open (Windows only).

PortAudio's default host API on Windows is MME, whose buffers add about 100 ms each way;
WASAPI (shared mode) is the low-latency one every Windows since Vista has. So on Windows no
``--input-device``/``--output-device`` means WASAPI's default device (falling back to
PortAudio's default when WASAPI is missing or has no default of that kind), and a name that
matches the same device under several host APIs means its WASAPI entry. WASAPI shared mode
runs at the system mixer's rate (usually 48 kHz): such a device refuses 24 kHz, is opened at
its own rate and resampled (:func:`choose_rate`). Elsewhere there is one obvious host API
(ALSA on Linux, Core Audio on macOS) and PortAudio's default is kept."""


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device. ``hostapi`` is its host API's name (ALSA, Core Audio, Windows
    WASAPI, MME, …); the ``is_hostapi_default_*`` flags mark that host API's own defaults."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool
    is_hostapi_default_input: bool = False
    is_hostapi_default_output: bool = False


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio sees, with its host API. Raises AudioDeviceError."""
    sd = sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"PortAudio could not list the audio devices ({exc}).") from None
    result = []
    for dev in devices:
        index = int(dev["index"])
        hostapi = hostapis[dev["hostapi"]]
        result.append(
            DeviceInfo(
                index=index,
                name=str(dev["name"]),
                hostapi=str(hostapi["name"]),
                max_input_channels=int(dev["max_input_channels"]),
                max_output_channels=int(dev["max_output_channels"]),
                default_samplerate=float(dev["default_samplerate"]),
                is_default_input=index == default_in,
                is_default_output=index == default_out,
                is_hostapi_default_input=index == hostapi["default_input_device"],
                is_hostapi_default_output=index == hostapi["default_output_device"],
            )
        )
    return result


def _channels(dev: DeviceInfo, kind: Kind) -> int:
    return dev.max_input_channels if kind == "input" else dev.max_output_channels


def _is_default(dev: DeviceInfo, kind: Kind) -> bool:
    return dev.is_default_input if kind == "input" else dev.is_default_output


def _is_hostapi_default(dev: DeviceInfo, kind: Kind) -> bool:
    return dev.is_hostapi_default_input if kind == "input" else dev.is_hostapi_default_output


def _label(dev: DeviceInfo) -> str:
    """How a device is shown in messages: its index and the ``NAME@HOSTAPI`` one can type."""
    return f"{dev.index}: {dev.name}@{dev.hostapi}"


def resolve_device(
    spec: str | None,
    kind: Kind,
    devices: list[DeviceInfo] | None = None,
    preferred_hostapi: str | None = PREFERRED_HOSTAPI,
) -> int | None:
    """Turn ``--input-device``/``--output-device`` into a PortAudio device index.

    ``spec`` is one of (both text parts case-insensitive substrings):

    - empty / None: the default device. With ``preferred_hostapi`` (Windows: WASAPI) that
      host API's default device when it has one, else PortAudio's default (returned as None,
      checked to exist; the first usable device when there is none).
    - ``INDEX``: the device with that index, as ``voicelive devices`` lists it.
    - ``NAME``: the one device whose name contains NAME (an exact name wins; among devices
      of several host APIs, the one of ``preferred_hostapi`` wins).
    - ``NAME@HOSTAPI``: the same, among the devices of the host API(s) containing HOSTAPI
      (``Speakers@WASAPI``, ``pulse@ALSA``); the text after the last ``@`` is the host API,
      unless the whole text is exactly a device's name.
    - ``@HOSTAPI``: that host API's default device of this kind.

    Raises ConfigError when the choice matches nothing or several devices (listing the
    choices as ``INDEX: NAME@HOSTAPI``) and AudioDeviceError when there is no device of that
    kind at all. Pure apart from ``list_devices`` when ``devices`` is None.
    """
    devices = list_devices() if devices is None else devices
    usable = [d for d in devices if _channels(d, kind) > 0]
    flag = f"--{kind}-device"
    if not usable:
        raise AudioDeviceError(
            f"No audio {kind} device was found: connect one, or check that the sound server "
            "(PulseAudio/PipeWire) is running; `voicelive devices` lists what PortAudio sees."
        )
    choices = "; ".join(_label(d) for d in usable)
    if spec is None or not spec.strip():
        if preferred_hostapi is not None:
            preferred = [
                d
                for d in usable
                if d.hostapi.lower() == preferred_hostapi.lower() and _is_hostapi_default(d, kind)
            ]
            if preferred:
                log.info(
                    "default %s device: %s (%s default)", kind, preferred[0].name, preferred_hostapi
                )
                return preferred[0].index
        if not any(_is_default(d, kind) for d in usable):
            log.warning("no default %s device; using %s", kind, usable[0].name)
            return usable[0].index
        return None
    spec = spec.strip()
    if spec.isdigit():
        index = int(spec)
        if any(d.index == index for d in usable):
            return index
        raise ConfigError(f"{flag} {spec} is not an {kind} device; choose one of: {choices}.")
    name, hostapi = spec, ""
    if "@" in spec and not any(d.name.lower() == spec.lower() for d in usable):
        name, _, hostapi = (part.strip() for part in spec.rpartition("@"))
    candidates = usable
    if hostapi:
        candidates = [d for d in usable if hostapi.lower() in d.hostapi.lower()]
        if not candidates:
            apis = ", ".join(sorted({d.hostapi for d in usable}))
            raise ConfigError(
                f"{flag} {spec!r}: no host API with {kind} devices matches {hostapi!r}; "
                f"these have some: {apis}."
            )
        if not name:
            defaults = [d for d in candidates if _is_hostapi_default(d, kind)]
            if len(defaults) == 1 or len(candidates) == 1:
                return (defaults or candidates)[0].index
            several = "; ".join(_label(d) for d in candidates)
            raise ConfigError(
                f"{flag} {spec!r}: that host API has no default {kind} device; "
                f"choose one of: {several}."
            )
    matches = [d for d in candidates if name.lower() in d.name.lower()]
    chosen = _pick(matches, name, None if hostapi else preferred_hostapi)
    if chosen is not None:
        return chosen.index
    if not matches:
        raise ConfigError(f"{flag} {spec!r} matches no {kind} device; choose one of: {choices}.")
    several = "; ".join(_label(d) for d in matches)
    raise ConfigError(
        f"{flag} {spec!r} matches several {kind} devices ({several}); use the index "
        "or NAME@HOSTAPI."
    )


def _pick(matches: list[DeviceInfo], name: str, preferred_hostapi: str | None) -> DeviceInfo | None:
    """The one device meant among ``matches``: the only exact name, else the only match;
    in either group, ties across host APIs go to ``preferred_hostapi``. None if no single one."""
    exact = [d for d in matches if d.name.lower() == name.lower()]
    for group in (exact, matches):
        if len(group) == 1:
            return group[0]
        if preferred_hostapi is not None:
            preferred = [d for d in group if d.hostapi.lower() == preferred_hostapi.lower()]
            if len(preferred) == 1:
                return preferred[0]
    return None


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
        raise _open_error(kind, exc) from None
    return int(info["default_samplerate"])


def _open_error(kind: Kind, exc: Exception) -> AudioDeviceError:
    return AudioDeviceError(
        f"Could not open the audio {kind} device ({exc}); check {f'--{kind}-device'} "
        "(`voicelive devices` lists them) and that the sound server is running."
    )


class _Stream:
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
            raise _open_error(self.kind, exc) from None
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


class Microphone(_Stream):
    """Captures PCM16 mono 24 kHz blocks of ``chunk_ms`` into ``sink`` on the event loop.

    If the device refuses 24 kHz it is opened at its own rate and the blocks are resampled on
    the loop thread (never in the callback).

    ``sink`` is called on the loop thread with each block's bytes (the orchestrator puts it in
    a bounded queue). Use as a context manager from the event loop thread.

    With ``quiet_hold_ms`` of two blocks or more, quiet blocks wait in the callback thread and
    reach ``sink`` joined, once no one has made a sound for ``quiet_after_ms``
    (:class:`~voicelive.audio.quiet_batcher.QuietBatcher`); a sound reaches it at once, and
    so does everything while ``playback`` (the speaker's) says the assistant is heard.

    With ``echo`` each block goes through its capture tap, stamped with its ADC time: paired
    with what the speaker played at that instant (stereo when the session takes the echo
    reference), recorded for ``--record``.
    """

    kind: Kind = "input"

    def __init__(
        self,
        device: int | None,
        chunk_ms: int,
        sink: Callable[[bytes], None],
        device_rate: int | None = None,
        echo: EchoLink | None = None,
        quiet_hold_ms: int = 0,
        quiet_after_ms: int = 0,
        playback: PlaybackActivity | None = None,
    ) -> None:
        super().__init__(device, device_rate)
        self._playback = playback
        self._chunk_ms = chunk_ms
        self._sink = sink
        self._echo = echo
        self._quiet = (quiet_hold_ms, quiet_after_ms)
        self._batcher: QuietBatcher | None = None
        self.overflows = 0

    def drop_held(self) -> None:
        """Quiet audio held back was recorded before a change in what may be sent: drop it.
        Loop thread."""
        if self._batcher is not None:
            self._batcher.drop_held()

    def __enter__(self) -> Microphone:
        loop = asyncio.get_running_loop()
        self.rate = choose_rate(self._device, "input", self._device_rate)
        sink = self._sink
        if self.rate != SAMPLE_RATE:
            from voicelive.audio.resample import Resampler  # numpy + soxr: only when needed

            resampler = Resampler(self.rate, SAMPLE_RATE)
            session_sink = self._sink

            def sink(block: bytes) -> None:  # runs on the loop thread, not in the callback
                session_sink(resampler.process(block))

        capture = None
        if self._echo is not None:  # the tap resamples (on the loop) and pairs each block
            from voicelive.audio.echo_reference import monotonic_time

            capture, stamp = self._echo.capture_tap(self._sink, self.rate), monotonic_time

        # Quiet blocks wait in the callback thread: a block held there costs no loop wake-up
        # and no send. Not with the echo tap, which pairs each block by its own ADC time.
        batcher = None
        if capture is None and self._quiet[0] >= 2 * self._chunk_ms:
            batcher = QuietBatcher(self._chunk_ms, *self._quiet, playback=self._playback)
            self._batcher = batcher
            batch_sink = sink

            def deliver(batch: bytes, epoch: int) -> None:  # loop thread
                if batcher.current(epoch):  # else recorded before a change: never sent
                    batch_sink(batch)

        def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
            if status.input_overflow:
                self.overflows += 1
            if capture is not None:
                adc = stamp(time.inputBufferAdcTime, time.currentTime)
                loop.call_soon_threadsafe(capture, bytes(indata), adc)
                return
            block = bytes(indata)  # copy: PortAudio reuses indata
            if batcher is not None:
                batch = batcher.feed(block)
                if batch is not None:  # else held: quiet, and no sound for a while
                    loop.call_soon_threadsafe(deliver, batch, batcher.batch_epoch)
                return
            loop.call_soon_threadsafe(sink, block)

        self._open("RawInputStream", callback, self._chunk_ms, "low")
        return self


IDLE_STOP_S: Final = 0.3
"""The speaker stream stops after 0.3-0.6 s with nothing queued, played or pending."""


class Speaker(_Stream):
    """Plays from ``jitter`` through a low-latency output stream (PortAudio's thread pulls).

    ``notify`` is called on the event loop thread with each :class:`PlaybackNotice`.
    ``block_ms`` 0 lets PortAudio choose the (smallest, variable) block size; ``latency_ms``
    None means PortAudio's "low" setting.

    The stream runs only while there is something to play (``idle_stop_s`` None: always).
    Rendering silence costs a PortAudio thread waking every few milliseconds, about 4 % of a
    core here, the largest part of the client's idle cost. So the stream is opened (and its
    errors reported) on ``__enter__`` and stopped at once, then started by :meth:`wake`
    (the pipeline calls it when it queues audio) on the first delta of a reply (measured:
    opening and starting ~5 ms, an open one ~1 ms, and its first sound comes *sooner* than
    through a running stream, whose buffer is full of silence); :meth:`_check_idle` stops it
    once nothing was queued, played or pending for ``idle_stop_s`` (by then the device has
    played the tail; PortAudio drops what is still buffered on a stop).
    """

    kind: Kind = "output"

    def __init__(
        self,
        device: int | None,
        jitter: JitterBuffer,
        notify: Callable[[PlaybackNotice], None],
        block_ms: int = 0,
        device_rate: int | None = None,
        latency_ms: int | None = None,
        idle_stop_s: float | None = IDLE_STOP_S,
        echo: EchoLink | None = None,
        playback: PlaybackActivity | None = None,
    ) -> None:
        super().__init__(device, device_rate)
        self._echo = echo
        self._playback = playback
        self._jitter = jitter
        self._notify = notify
        self._block_ms = block_ms
        self._latency: float | str = "low" if latency_ms is None else latency_ms / 1000
        self._idle_stop_s = idle_stop_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._seen = (-1, -1)  # (pushed, played) bytes at the last idle check
        self._underruns_reported = 0
        self.underflows = 0
        self.starts = 0
        """How many times the stream was started (once per reply, roughly)."""

    def __enter__(self) -> Speaker:
        loop = self._loop = asyncio.get_running_loop()
        notify = self._on_notice
        self.rate = choose_rate(self._device, "output", self._device_rate)
        fill = self._jitter.pull_into
        tap = None
        if self._echo is not None:  # the echo reference: what is pulled, and when it plays
            from voicelive.audio.echo_reference import monotonic_time

            tap, stamp = self._echo.played_tap(fill, self.rate), monotonic_time
            fill = tap.pull_into
        if self.rate != SAMPLE_RATE:
            from voicelive.audio.resample import PullResampler  # numpy + soxr: only when needed

            fill = PullResampler(SAMPLE_RATE, self.rate, fill).fill
        playback = self._playback

        def callback(outdata: Any, frames: int, time: Any, status: Any) -> None:
            if status.output_underflow:
                self.underflows += 1
            if tap is not None:  # before the pull: it places the pulled audio in time
                tap.block(stamp(time.outputBufferDacTime, time.currentTime), frames)
            notice = fill(out := memoryview(outdata))
            if playback is not None:  # the microphone batches nothing while this is heard
                playback.saw_output(out)
            if notice is not None:
                loop.call_soon_threadsafe(notify, notice)

        self._open("RawOutputStream", callback, self._block_ms, self._latency)
        if self._idle_stop_s is not None:
            # Started and stopped at once: PulseAudio then holds the stream corked, while one
            # opened but never started is an uncorked, starving stream (+0.8 % of its core).
            self._stop_stream()
            self.wake()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().__exit__(*exc_info)

    # ------------------------------------------------------------------ loop thread

    def wake(self) -> None:
        """Audio was queued: start the stream if it is stopped.

        Never raises (it runs inside the dispatcher's push): a stream that will not start
        sets :attr:`failed`, which the pipeline reports as a speaker that stopped working.
        """
        stream = self._stream
        if not self._stopped or stream is None or self._closing or not self._jitter.busy:
            return
        self._stopped = False
        try:
            stream.start()
        except Exception as exc:  # PortAudioError (the device or sound server is gone)
            self._stopped = True
            log.warning("the speaker stream did not start: %s", exc)
            self.failed.set()
            return
        self.starts += 1
        self._seen = (-1, -1)
        self._arm_idle_check()

    def _arm_idle_check(self) -> None:
        assert self._loop is not None and self._idle_stop_s is not None
        self._idle_timer = self._loop.call_later(self._idle_stop_s, self._check_idle)

    def _check_idle(self) -> None:
        """Stop the stream when nothing was queued or played since the last check and
        nothing is pending; otherwise look again in ``idle_stop_s``."""
        self._idle_timer = None
        stream = self._stream
        if self._stopped or stream is None or self._closing:
            return
        stats = self._jitter.stats()
        seen = (stats.pushed_bytes, stats.played_bytes)
        if seen != self._seen or self._jitter.busy:
            self._seen = seen
            self._arm_idle_check()
            return
        self._stop_stream()

    def _stop_stream(self) -> None:
        self._stopped = True  # before abort: its finished callback is not a failure
        try:
            self._stream.abort()
        except Exception:
            log.debug("error stopping the speaker stream", exc_info=True)

    def _on_notice(self, notice: PlaybackNotice) -> None:
        """The callback's notice, on the loop thread: log a finished reply, pass it on."""
        if notice.event is PlaybackEvent.DRAINED:
            stats = self._jitter.stats()
            log.info(
                "reply %s played out: %d underrun(s), prefill hold %.0f ms, stream starts %d",
                notice.item_id,
                stats.underruns - self._underruns_reported,
                stats.hold_ms,
                self.starts,
            )
            self._underruns_reported = stats.underruns
        self._notify(notice)


class PortAudioIO:
    """The real audio ends for ``run_chat``: the chosen (or default) input and output devices.

    ``check()`` imports PortAudio and resolves the device choices, so a bad choice fails
    before any network traffic. Call everything from the event loop thread. ``echo`` (for
    ``--echo-reference``/``--record``) links the microphone to what the speaker played.
    ``quiet_after_ms`` > 0 lets the microphone batch quiet blocks (``quiet_hold_ms``) once
    no one has made a sound for that long; 0 hands on every block as it is read.
    """

    input_finished: asyncio.Event | None = None

    def __init__(
        self, settings: AudioSettings, echo: EchoLink | None = None, quiet_after_ms: int = 0
    ) -> None:
        self._settings = settings
        self._echo = echo
        self._quiet_after_ms = quiet_after_ms
        self._playback = PlaybackActivity()  # the speaker tells the microphone it plays
        self._input: int | None = None
        self._output: int | None = None

    def check(self) -> None:
        devices = list_devices()
        self._input = resolve_device(self._settings.input_device, "input", devices)
        self._output = resolve_device(self._settings.output_device, "output", devices)

    def microphone(self, sink: Callable[[bytes], None]) -> Microphone:
        s = self._settings
        return Microphone(
            self._input,
            s.chunk_ms,
            sink,
            s.device_rate,
            echo=self._echo,
            quiet_hold_ms=s.quiet_hold_ms if self._quiet_after_ms else 0,
            quiet_after_ms=self._quiet_after_ms,
            playback=self._playback,
        )

    def speaker(self, jitter: JitterBuffer, notify: Callable[[PlaybackNotice], None]) -> Speaker:
        s = self._settings
        return Speaker(
            self._output,
            jitter,
            notify,
            s.output_block_ms,
            s.device_rate,
            s.output_latency_ms,
            echo=self._echo,
            playback=self._playback,
        )
