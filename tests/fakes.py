"""Fakes for orchestrator tests: audio ends the test drives by hand (no clock, no PortAudio)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from voicelive.audio.interfaces import AudioIO, MicStream, SpeakerStream
from voicelive.audio.jitter import JitterBuffer
from voicelive.protocol.pcm import bytes_of
from voicelive.protocol.playback import PlaybackNotice
from voicelive.terminal.view import View


class FakeMic:
    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink
        self.failed = asyncio.Event()
        self.drops = 0
        """How often the pipeline asked to drop held audio."""

    def drop_held(self) -> None:
        self.drops += 1

    def __enter__(self) -> FakeMic:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class FakeSpeaker:
    """Plays only when the test calls :meth:`play_ms`; records what it played."""

    def __init__(self, jitter: JitterBuffer, notify: Callable[[PlaybackNotice], None]) -> None:
        self.jitter = jitter
        self.notify = notify
        self.failed = asyncio.Event()
        self.played = bytearray()
        self.wakes = 0

    def play_ms(self, ms: int) -> None:
        out = bytearray(bytes_of(ms))
        notice = self.jitter.pull_into(memoryview(out))
        self.played += out
        if notice is not None:
            self.notify(notice)

    def wake(self) -> None:
        self.wakes += 1

    def __enter__(self) -> FakeSpeaker:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class FakeAudio:
    """``AudioIO`` whose mic and speaker the test controls. ``opened`` fires once both exist."""

    input_finished: asyncio.Event | None = None
    real_time_speaker = False  # its speaker pulls when the test says: no wall-time prefill hold

    def __init__(self, check_error: Exception | None = None) -> None:
        self.check_error = check_error
        self.mic: FakeMic | None = None
        self.speaker_: FakeSpeaker | None = None
        self.opened = asyncio.Event()

    def check(self) -> None:
        if self.check_error is not None:
            raise self.check_error

    def microphone(self, sink: Callable[[bytes], None]) -> MicStream:
        self.mic = FakeMic(sink)
        self.opened.set()
        return self.mic

    def speaker(
        self, jitter: JitterBuffer, notify: Callable[[PlaybackNotice], None]
    ) -> SpeakerStream:
        self.speaker_ = FakeSpeaker(jitter, notify)
        return self.speaker_


class RecordingView:
    """A view that keeps what it was told, and lets tests wait for a line or a status."""

    def __init__(self, *, redraws_status: bool = False) -> None:
        self.redraws_status = redraws_status
        """True: the chat sends it live figures (as to a terminal)."""
        self.lines: list[tuple[str, str]] = []
        self.changed = asyncio.Event()
        self.closed = False
        self._cursor: dict[str, int] = {}

    def _add(self, kind: str, text: str) -> None:
        self.lines.append((kind, text))
        self.changed.set()

    def status(self, state: str) -> None:
        self._add("status", state)

    def user(self, text: str, *, typed: bool = False) -> None:
        self._add("typed" if typed else "user", text)

    def assistant_delta(self, item_id: str, delta: str) -> None:
        self._add("assistant", delta)

    def assistant_end(self, item_id: str, interrupted: bool, text: str) -> None:
        self._add("assistant_end", "interrupted" if interrupted else "")

    def notice(self, level: str, text: str) -> None:
        self._add(level, text)

    def set_muted(self, muted: bool) -> None:
        self._add("muted", "on" if muted else "off")

    def tool_status(self, text: str | None, *, ask: bool = False) -> None:
        self._add("tool-ask" if ask else "tool", text or "")

    def line_typed(self, line: str) -> None:
        self._add("keyboard", line)

    def figures(self, text: str) -> None:
        self._add("figures", text)

    def close(self) -> None:
        self.closed = True

    async def wait_for(self, kind: str, contains: str = "", timeout: float = 5.0) -> str:
        """The next ``kind`` line containing ``contains``, after the last one this returned."""

        async def look() -> str:
            while True:
                for index in range(self._cursor.get(kind, 0), len(self.lines)):
                    k, text = self.lines[index]
                    if k == kind and contains in text:
                        self._cursor[kind] = index + 1
                        return text
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(look(), timeout)


if TYPE_CHECKING:  # mypy checks the fakes against the real seams
    _checked_audio: AudioIO = FakeAudio()
    _checked_view: View = RecordingView()
