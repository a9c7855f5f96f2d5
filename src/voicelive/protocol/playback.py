"""What the speaker reports back to the core: a neutral record shared by the core and audio/.

The jitter buffer (audio/) produces these; the conversation core (protocol/) consumes them as
inputs. Neither side imports the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final


class PlaybackEvent(enum.Enum):
    """A change the speaker thread observed while pulling audio."""

    STARTED = "started"
    """The first sample of an item was handed to the device."""
    DRAINED = "drained"
    """The last queued sample of a finished item was handed to the device."""


@dataclass(frozen=True)
class PlaybackNotice:
    """One :class:`PlaybackEvent` for one assistant item."""

    event: PlaybackEvent
    item_id: str


RECENT_ITEMS: Final = 64
"""How many recent assistant items the core and the buffer remember: enough for any reply
still playing or arriving late. The one memory limit of the per-item bookkeeping."""


@dataclass(frozen=True)
class ItemPlayback:
    """How much of one assistant item the speaker really played, in bytes (what was received
    is the core's record)."""

    item_id: str
    played_bytes: int
    open: bool
    """More audio was still expected for this item (no end of audio yet)."""
