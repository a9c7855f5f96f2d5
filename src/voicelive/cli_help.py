"""``--help`` with the options in panels by topic, as plain click text (no rich).

Typer draws ``rich_help_panel`` panels only in its rich mode, which the CLI leaves off: rich
tracebacks can show the API key, and rich help costs launch time. This command class reads
the same ``rich_help_panel`` attribute and writes one click section per panel, in the order of
:data:`voicelive.config.options.TOPICS`; options without a panel (``--help``, a command's own
flags such as doctor's ``--json``) come first, under "Options".
"""

from __future__ import annotations

from typer import _click as click  # Typer 0.28 carries its own click
from typer.core import TyperCommand

from voicelive.config.options import topic_rank

UNGROUPED = "Options"
COLUMN_MAX = 30
"""click's own limit for the flag column."""


def _rank(panel: str) -> int:
    return -1 if panel == UNGROUPED else topic_rank(panel)


class PanelledHelpCommand(TyperCommand):
    """A Typer command whose ``--help`` lists its options in titled panels."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None or param.param_type_name != "option":
                continue
            panel = getattr(param, "rich_help_panel", None) or UNGROUPED
            panels.setdefault(panel, []).append(record)
        # one column width for every panel (click sizes each list by itself), so the
        # descriptions line up down the whole page; longer flags wrap as click wraps them
        width = min(
            COLUMN_MAX, max((len(t) for rows in panels.values() for t, _ in rows), default=0)
        )
        for panel in sorted(panels, key=_rank):  # stable: new topics keep the table's order
            with formatter.section(panel):
                formatter.write_dl([(term.ljust(width), text) for term, text in panels[panel]])
