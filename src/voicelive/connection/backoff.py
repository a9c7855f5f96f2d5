"""When to try again after a connection drops: exponential backoff with jitter. Pure.

The first retry goes within :data:`FIRST_DELAY_S` (a blip should cost the user a quarter of a
second, not a pause they notice); each later one waits up to twice as long, capped at
:data:`MAX_DELAY_S`, with "full jitter" (a uniform draw below the ceiling) so that many clients
dropped by one outage do not come back in lockstep. A service's ``Retry-After`` is honoured:
the delay is never shorter than it (capped at :data:`MAX_RETRY_AFTER_S` so a bad header cannot
stall the chat for an hour). After ``max_attempts`` the policy gives up.
"""

from __future__ import annotations

import random
from typing import Final

FIRST_DELAY_S: Final = 0.25
MAX_DELAY_S: Final = 8.0
MAX_RETRY_AFTER_S: Final = 60.0


class Backoff:
    """Delays for one outage; make a new one for the next. ``rng`` is injectable for tests."""

    def __init__(self, max_attempts: int, rng: random.Random | None = None) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.max_attempts = max_attempts
        self.attempts = 0
        self._rng = rng if rng is not None else random.Random()

    def next_delay(self, retry_after_s: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when the attempts are used up."""
        if self.attempts >= self.max_attempts:
            return None
        ceiling = min(MAX_DELAY_S, FIRST_DELAY_S * 2**self.attempts)
        self.attempts += 1
        delay = self._rng.uniform(0.0, ceiling)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
        return delay
