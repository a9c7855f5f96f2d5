"""Word timestamps and visemes of a simulated reply: where each word and mouth shape falls.

The service sends them when the session asks (``output_audio_timestamp_types: ["word"]``,
``animation.outputs: ["viseme_id"]``). The simulator has no synthesiser to ask, so it spreads
the reply's transcript over the reply's audio: each word gets a share of the audio in
proportion to its length in characters (one for the space before it included), in transcript
order; visemes come at a steady :data:`VISEME_MS` step, each the id of the letter under that
point of the transcript (Azure's 22 ids, 0 = silence), and a final 0 closes the mouth at the
end. Deterministic and pure: the same transcript and length give the same track.
"""

from __future__ import annotations

from dataclasses import dataclass

VISEME_MS = 50
"""Steady step between viseme deltas, in ms of reply audio."""
VISEME_IDS = 22
"""Azure's viseme ids are 0..21; 0 is silence."""


@dataclass(frozen=True)
class WordTiming:
    text: str
    audio_offset_ms: int
    audio_duration_ms: int


def word_timings(transcript: str, audio_ms: int) -> list[WordTiming]:
    """Every word of ``transcript`` with its place in ``audio_ms`` of audio, in order."""
    words = transcript.split()
    if not words or audio_ms <= 0:
        return []
    weights = [len(word) + 1 for word in words]
    total = sum(weights)
    timings: list[WordTiming] = []
    start = 0
    used = 0
    for word, weight in zip(words, weights, strict=True):
        used += weight
        end = audio_ms * used // total
        timings.append(WordTiming(word, start, max(0, end - start)))
        start = end
    return timings


def viseme_id(char: str) -> int:
    """The viseme id the simulator gives a character: 0 for anything but a letter."""
    if not char.isalpha():
        return 0
    return 1 + (ord(char.lower()) % (VISEME_IDS - 1))


def viseme_track(transcript: str, audio_ms: int) -> list[tuple[int, int]]:
    """``(audio_offset_ms, viseme_id)`` every :data:`VISEME_MS` over ``audio_ms``, then a 0."""
    if audio_ms <= 0:
        return []
    text = transcript or " "
    track = [
        (offset, viseme_id(text[offset * len(text) // audio_ms]))
        for offset in range(0, audio_ms, VISEME_MS)
    ]
    track.append((audio_ms, 0))
    return track
