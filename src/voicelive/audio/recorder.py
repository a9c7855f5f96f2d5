"""``--record FILE.wav``: the whole conversation in one stereo WAV, on one time line.

Channel 0 (left) is the microphone as captured, channel 1 (right) the assistant audio as it
really played at the same instant, silences included: the same pairs the echo reference sends
(:class:`~voicelive.audio.echo_reference.EchoLink` calls :meth:`ConversationRecorder.write`
with each stereo block), 24 kHz PCM16, lined up to within a block.

Valid on every exit, a forced one included: the file is written unbuffered (each block reaches
the operating system at once) and the header's RIFF and data sizes are patched after every
block, so a process that dies mid-run (a second Ctrl+C, a kill) leaves a file whose header
matches its data; :meth:`~ConversationRecorder.close` patches once more. The file holds a
canonical 44-byte header and samples, nothing else: no metadata, no paths, no keys.

Thread: :meth:`~ConversationRecorder.write` runs on the event loop thread (a few small
unbuffered writes per 20 ms block). A write error (disk full) stops the recording with one
warning in the log and :attr:`~ConversationRecorder.failed` set; the chat goes on.
"""

from __future__ import annotations

import io
import logging
import struct
from pathlib import Path
from typing import Final, Self

from voicelive.errors import ConfigError
from voicelive.private_files import open_write_binary
from voicelive.protocol.pcm import BYTES_PER_SAMPLE, SAMPLE_RATE

log = logging.getLogger(__name__)

CHANNELS: Final = 2
FRAME_BYTES: Final = CHANNELS * BYTES_PER_SAMPLE
HEADER_BYTES: Final = 44
MAX_DATA_BYTES: Final = 0xFFFF_FFFF - HEADER_BYTES - 8
"""A RIFF size is 32 bits: about 12 hours at 96 kB/s. The recording stops there."""


def wav_header(data_bytes: int) -> bytes:
    """The canonical 44-byte header of a 24 kHz stereo PCM16 WAV holding ``data_bytes``."""
    byte_rate = SAMPLE_RATE * FRAME_BYTES
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, CHANNELS, SAMPLE_RATE, byte_rate, FRAME_BYTES, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class ConversationRecorder:
    """Writes ``path`` between ``__enter__`` and ``__exit__``; see the module docstring.

    ``__enter__`` creates (or truncates) the file and raises :class:`ConfigError` naming it
    when that fails. :meth:`write` before ``__enter__`` or after :meth:`close` is ignored.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: io.FileIO | None = None
        self.data_bytes = 0
        self.failed: str | None = None
        """Why the recording stopped early (a write error, the size limit), else None."""

    @property
    def seconds(self) -> float:
        """Length of what was recorded."""
        return self.data_bytes / FRAME_BYTES / SAMPLE_RATE

    def __enter__(self) -> Self:
        if not self.path.parent.is_dir():
            raise ConfigError(
                f"--record {self.path}: the folder {self.path.parent} does not exist."
            )
        try:
            self._file = open_write_binary(self.path)
            self._file.write(wav_header(0))
        except OSError as exc:
            self._close_file()
            raise ConfigError(
                f"Cannot write --record {self.path} ({exc.strerror or exc})."
            ) from None
        log.info("recording the conversation to %s", self.path)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, stereo: bytes) -> None:
        """Append interleaved stereo PCM16 frames (mic, reference). Loop thread."""
        if self._file is None:
            return
        if len(stereo) % FRAME_BYTES:
            raise ValueError(f"a stereo PCM16 block has whole frames of {FRAME_BYTES} bytes")
        if self.data_bytes + len(stereo) > MAX_DATA_BYTES:
            self._stop("the WAV size limit (4 GiB) was reached")
            return
        try:
            self._file.write(stereo)
            self.data_bytes += len(stereo)
            self._patch_header()
        except OSError as exc:
            self._stop(f"writing failed ({exc.strerror or exc})")

    def _patch_header(self) -> None:
        assert self._file is not None
        self._file.seek(4)
        self._file.write(struct.pack("<I", 36 + self.data_bytes))
        self._file.seek(40)
        self._file.write(struct.pack("<I", self.data_bytes))
        self._file.seek(0, io.SEEK_END)

    def _stop(self, why: str) -> None:
        self.failed = why
        log.warning(
            "--record %s: %s; the recording stops here (%.1f s)", self.path, why, self.seconds
        )
        self.close()

    def close(self) -> None:
        """Patch the header and close the file. Idempotent; never raises."""
        if self._file is None:
            return
        try:
            self._patch_header()
        except OSError as exc:
            log.warning("--record %s: could not finish the header (%s)", self.path, exc)
        self._close_file()
        log.info("recording written: %s (%.1f s)", self.path, self.seconds)

    def _close_file(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                log.debug("error closing %s", self.path, exc_info=True)
