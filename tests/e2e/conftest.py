"""Fixtures for end-to-end tests through the real audio stack (see ``tests/audio_bed.py``).

``audio_bed`` starts (or reuses) the virtual sound card once per session. Where it cannot be
had, the tests are skipped with the reason, never silently, unless ``VOICELIVE_REQUIRE_AUDIO=1``
(CI sets it through ``scripts/test.sh``): then they fail, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.audio_bed import AudioBed, AudioBedUnavailable, speech_wav
from tests.e2e.chat_harness import ListeningClient


def audio_required() -> bool:
    """True when a missing audio bed must fail the run instead of skipping (CI)."""
    return os.environ.get("VOICELIVE_REQUIRE_AUDIO") == "1"


def unavailable(reason: str) -> None:
    """Skip the test with ``reason``, or fail it when audio is required."""
    if audio_required():
        pytest.fail(f"audio bed required (VOICELIVE_REQUIRE_AUDIO=1) but {reason}", pytrace=False)
    pytest.skip(f"audio bed unavailable: {reason}")


@pytest.fixture(scope="session")
def audio_bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AudioBed]:
    """The running virtual sound card; stopped at session end if this fixture started it."""
    try:
        bed = AudioBed.start(tmp_path_factory.mktemp("pulse"))
    except AudioBedUnavailable as err:
        unavailable(str(err))
        raise AssertionError("unreachable") from err
    print(f"[audio bed] PULSE_SERVER={bed.pulse_server} (started here: {bed.owned})")
    yield bed
    bed.stop()


@pytest.fixture(scope="session")
def speech(audio_bed: AudioBed, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``speech(text)`` -> path of a 24 kHz mono 16-bit WAV of ``text`` (cached per session).

    Depends on ``audio_bed`` so a missing espeak-ng/sox skips (or fails in CI) with a reason.
    """
    directory = tmp_path_factory.mktemp("speech")
    cache: dict[tuple[str, int], Path] = {}

    def make(text: str, words_per_minute: int = 160) -> Path:
        key = (text, words_per_minute)
        if key not in cache:
            path = directory / f"speech{len(cache)}.wav"
            cache[key] = speech_wav(text, path, words_per_minute=words_per_minute)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def tmux() -> str:
    """Path of the tmux binary (the client's terminal in end-to-end tests)."""
    found = shutil.which("tmux")
    if found is None:
        unavailable("tmux is not installed (scripts/virtual-audio.sh up installs it)")
        raise AssertionError("unreachable")
    return found


@pytest.fixture
def listening_client(audio_bed: AudioBed, tmp_path: Path) -> Iterator[ListeningClient]:
    """``voicelive chat`` (default settings) listening to a recorded simulator, through the
    audio bed; see :meth:`ListeningClient.running`."""
    with ListeningClient.running(audio_bed.env, tmp_path) as client:
        yield client
