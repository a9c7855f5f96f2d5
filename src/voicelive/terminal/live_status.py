"""The live figures of the status line, measured on the microphone's own beat.

No timer: :meth:`LiveStatus.on_block` is called with each microphone block as it reaches the
event loop (the pipeline's ``block_tap``), and at most once per :data:`REDRAW_INTERVAL_S` it
measures that block's level, reads the tokens from the chat's statistics (their one owner)
and the current session's end from the supervisor, and hands the text to the view, which
redraws only when the text changed. Every other block costs one clock reading. A quiet
room's blocks reach the loop batched, about five times a second
(:mod:`voicelive.audio.quiet_batcher`), so the meter adds no wake-up and follows the
microphone even then; the figures freeze only if the microphone stops delivering.

Only for a view that redraws its status line in place (a terminal); plain output gets none
of this. Loop thread only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from voicelive.terminal.status_line import figures_text, level_dbfs, tokens_text

if TYPE_CHECKING:
    from voicelive.audio.pipeline import AudioPipeline
    from voicelive.connection.supervisor import Supervisor
    from voicelive.stats import ChatStats
    from voicelive.terminal.view import View

REDRAW_INTERVAL_S: Final = 0.25
"""The figures are measured (and may be redrawn) at most four times a second."""


class LiveStatus:
    """See the module docstring.

    ``session_end`` returns when the current session ends on the ``wall`` clock (Unix
    seconds, as ``expires_at``), or None when that is not known; ``clock`` (monotonic) paces
    the measures. ``channels``: the blocks' interleaved channels (the first is measured).
    ``resumed``: the turns ``--resume`` gave the session, shown until the first reply.
    """

    def __init__(
        self,
        view: View,
        stats: ChatStats,
        session_end: Callable[[], float | None],
        *,
        channels: int = 1,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        interval_s: float = REDRAW_INTERVAL_S,
        resumed: int = 0,
    ) -> None:
        self._resumed = resumed
        self._view = view
        self._stats = stats
        self._session_end = session_end
        self._channels = channels
        self._clock = clock
        self._wall = wall
        self._interval_s = interval_s
        self._due = -float("inf")
        self.measures = 0
        """How many blocks were measured (the rest were only counted past)."""

    def on_block(self, block: bytes) -> None:
        """A microphone block reached the loop: measure it if a redraw is due."""
        now = self._clock()
        if now < self._due:
            return
        self._due = now + self._interval_s
        self.measures += 1
        stats = self._stats
        end = self._session_end()
        text = figures_text(
            level_dbfs(block, self._channels),
            tokens_text(stats.input_tokens, stats.output_tokens),
            None if end is None else end - self._wall(),
            resumed=self._resumed,
        )
        self._view.figures(text)


def session_end_of(supervisor: Supervisor) -> Callable[[], float | None]:
    """When the supervisor's current connection ends (``expires_at``, or the 60-minute cap
    if sooner), once the service has said when it expires; None between connections. A
    rollover or a reconnect makes another connection current: its own time left shows."""

    def session_end() -> float | None:
        live = supervisor.current
        if live is None or live.info.expires_at is None:
            return None
        return live.ends_at(supervisor.timing.session_cap_s)

    return session_end


def attach(
    view: View,
    stats: ChatStats,
    supervisor: Supervisor,
    pipeline: AudioPipeline,
    resumed: int = 0,
) -> None:
    """Show live figures in ``view``'s status line when it redraws one in place."""
    if view.redraws_status:
        end = session_end_of(supervisor)
        channels = pipeline.input_channels
        live = LiveStatus(view, stats, end, channels=channels, resumed=resumed)
        pipeline.block_tap = live.on_block
