"""``voicelive chat --help`` (and ``doctor --help``) in panels by topic: the order, every option
under its topic with its variable and default, one column, and still light to load."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from tests.test_cli import HELP_HEAVY, loaded_by
from voicelive.cli import app
from voicelive.cli_help import UNGROUPED, _rank
from voicelive.config.options import OPTIONS, TOPICS, _opt

SECTION = re.compile(r"^(\S[^:]*):$", re.M)


def help_of(command: str) -> str:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    return result.stdout


def sections(text: str) -> dict[str, str]:
    """Section title -> its text (the lines up to the next title)."""
    marks = list(SECTION.finditer(text))
    found = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        found[mark.group(1)] = text[mark.end() : end]
    return found


def test_the_panels_come_in_topic_order_after_the_plain_options() -> None:
    titles = list(sections(help_of("chat")))
    assert titles[0] == UNGROUPED
    present = [t for t in TOPICS if t in titles]
    assert titles[1:] == present
    assert present[:6] == list(TOPICS[:6])  # today's rows fill the first six


@pytest.mark.parametrize("command", ["chat", "doctor"])
def test_every_option_sits_in_its_topic_with_its_variable_and_default(command: str) -> None:
    found = sections(help_of(command))
    for spec in OPTIONS:
        body = " ".join(found[spec.topic].split())
        assert re.search(rf"(^| ){re.escape(spec.flag)}\b", body), (spec.flag, spec.topic)
        assert f"[env var: {', '.join(spec.envvars)}]" in body, spec.flag
        assert f"[default: {spec.default}]" in body, spec.flag


def test_every_row_has_one_of_the_topics() -> None:
    assert {spec.topic for spec in OPTIONS} <= set(TOPICS)
    by_topic = {spec.dest: spec.topic for spec in OPTIONS}
    assert by_topic["endpoint"] == by_topic["api_key"] == by_topic["simulate"] == TOPICS[0]
    assert by_topic["reconnect"] == by_topic["replay_turns"] == "Resilience"
    assert by_topic["input_file"] == by_topic["transcript"] == "Files and logging"


def test_a_row_of_a_new_group_gets_its_own_panel_after_the_known_ones() -> None:
    row = _opt("log_file", "log", "A new option.", "Telemetry", "PATH")
    assert row.topic == "Telemetry"
    assert _rank(UNGROUPED) < _rank(TOPICS[0]) < _rank("Tools") < _rank("Telemetry")


def test_descriptions_line_up_down_the_page() -> None:
    starts = set()
    for line in help_of("chat").splitlines():
        match = re.match(r"^  (--\S.*?)\s{2,}(\S)", line)
        if match:
            starts.add(match.start(2))
    assert len(starts) == 1, starts


def test_doctor_help_puts_json_first() -> None:
    found = sections(help_of("doctor"))
    assert "--json" in found[UNGROUPED]
    assert "never waits for a person" in " ".join(found[UNGROUPED].split())


@pytest.mark.parametrize("args", [["chat", "--help"], ["doctor", "--help"]])
def test_panelled_help_loads_nothing_heavy_and_not_rich(args: list[str]) -> None:
    stdout, modules = loaded_by(*args)
    assert "Connection and credentials:" in stdout
    heavy = ("rich", *HELP_HEAVY)
    assert [m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy)] == []


def test_the_top_level_help_gives_the_first_steps() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "Start with `voicelive doctor`" in text
    assert "`voicelive chat --simulate` (offline)" in text
