"""Input audio transcription: its placeholder text and when it arrives relative to the reply.

The service runs transcription alongside the response, so
``conversation.item.input_audio_transcription.*`` can come before or after the
``response.created`` of the reply to the same turn. :class:`TranscriptOrder` decides that per
turn from a seeded random stream (``SimulatorOptions.seed``; None seeds it with 0, so a test
run repeats itself while its turns still see both orders), or always one way when
``transcript_order`` says so. Loop-confined; one per simulator, shared by its connections.
"""

from __future__ import annotations

import random

from .conversation import Item
from .wire import JsonDict

TRANSCRIPT_ORDERS = ("either", "before", "after")
"""``either``: seeded per turn (the default); ``before``/``after``: always that side of the
reply's ``response.created``."""


class TranscriptOrder:
    def __init__(self, order: str = "either", seed: int | None = None) -> None:
        if order not in TRANSCRIPT_ORDERS:
            raise ValueError(f"transcript_order must be one of {TRANSCRIPT_ORDERS}, got {order!r}")
        self.order = order
        self._rng = random.Random(0 if seed is None else seed)

    def after_response_created(self) -> bool:
        """Whether this turn's transcript waits for its reply's ``response.created``."""
        if self.order != "either":
            return self.order == "after"
        return self._rng.random() < 0.5


def transcription_events(item: Item, speech_ms: int | None) -> list[JsonDict]:
    """The delta and completed events of ``item``'s placeholder transcript; sets it on the item.

    No speech recognition here: an honest placeholder with the speech length.
    """
    seconds = (speech_ms if speech_ms is not None else item.audio_ms) / 1000
    text = f"[{seconds:.1f} seconds of speech; the simulator does not transcribe]"
    ids = {"item_id": item.id, "content_index": 0}
    item.wire_content[0]["transcript"] = text
    return [
        {"type": "conversation.item.input_audio_transcription.delta", **ids, "delta": text},
        {
            "type": "conversation.item.input_audio_transcription.completed",
            **ids,
            "transcript": text,
        },
    ]
