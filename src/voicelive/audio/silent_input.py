"""Detects a microphone that delivers nothing but digital silence, and says what to check.

A muted microphone, the wrong input device, or (on macOS) a terminal app without microphone
permission all look the same from here: the stream opens and runs, and every sample is an
exact zero. Real silence from a live microphone is never exactly zero (there is always some
noise), so "only exact zeros for the first few seconds" is a reliable sign, and saying so
early spares the user a conversation in which the service never hears them.

Pure and synchronous: bytes in, at most one message out. No I/O, no clock (time is counted in
samples), no asyncio. Feed it from one thread (the event loop thread, where the microphone's
blocks arrive).

The platform's advice is chosen here, once, from ``sys.platform``: on macOS the system hands
silence to apps that are not allowed the microphone (System Settings → Privacy & Security →
Microphone); elsewhere a muted or wrong device is the usual cause.
"""

from __future__ import annotations

import sys
from typing import Final

from voicelive.protocol.pcm import SAMPLE_RATE

SILENT_INPUT_S: Final = 3.0
"""How long the microphone may deliver only exact zeros before the warning."""

_BYTES_PER_SAMPLE: Final = 2  # PCM16


def silent_input_message(seconds: float = SILENT_INPUT_S, platform: str = sys.platform) -> str:
    """The one-line warning for a microphone that gave only zeros for ``seconds``."""
    heard = f"The microphone has delivered only silence (exact zeros) for {seconds:g} s"
    if platform == "darwin":
        return (
            f"{heard}: macOS gives silence to apps without microphone access; allow your "
            "terminal app in System Settings → Privacy & Security → Microphone, then restart it."
        )
    return (
        f"{heard}: check that it is not muted and that it is the right device "
        "(`voicelive devices` lists them; choose one with --input-device)."
    )


class SilentInputDetector:
    """Reports once when the first ``seconds`` of microphone audio are all exact zeros.

    ``feed(block)`` takes PCM16 mono blocks (any length, ``rate`` samples per second) and
    returns the warning (:func:`silent_input_message`) on the block that completes
    ``seconds`` of zeros, and None otherwise. The first non-zero sample settles it: the
    microphone works, and the detector never reports. After its one report it stays quiet
    too. ``settled`` is True once either has happened, so the caller may stop feeding it.
    """

    def __init__(
        self,
        rate: int = SAMPLE_RATE,
        seconds: float = SILENT_INPUT_S,
        platform: str = sys.platform,
    ) -> None:
        if rate <= 0 or seconds <= 0:
            raise ValueError("rate and seconds must be positive")
        self._needed = round(rate * seconds)
        self._zeros = 0
        self._message = silent_input_message(seconds, platform)
        self.settled = False
        self.reported = False

    def feed(self, block: bytes | bytearray | memoryview) -> str | None:
        """Count ``block``; return the warning once when the zeros add up, else None."""
        if self.settled:
            return None
        data = bytes(block)
        if data.strip(b"\x00"):  # some byte is not zero: the microphone is live
            self.settled = True
            return None
        self._zeros += len(data) // _BYTES_PER_SAMPLE
        if self._zeros < self._needed:
            return None
        self.settled = self.reported = True
        return self._message
