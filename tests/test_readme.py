"""The README stays true to the code: every option in its table, every exit code listed."""

from __future__ import annotations

from pathlib import Path

from voicelive.config.options import OPTIONS, options_markdown
from voicelive.errors import EXIT_CODES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_option_and_variable_is_in_the_readme_table() -> None:
    missing = [
        name for spec in OPTIONS for name in (spec.flag, *spec.envvars) if f"`{name}`" not in README
    ]
    assert missing == []


def test_the_readme_table_is_the_generated_one() -> None:
    """The table is generated: paste `python -m voicelive.config.options readme` over it."""
    assert options_markdown() in README


def test_every_exit_code_is_documented() -> None:
    for code in set(EXIT_CODES.values()):
        assert f"\n| {code} |" in README, code


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```bash", 1)[1].split("```", 1)[0]
    assert "scripts/voicelive chat --simulate" in first_block
    assert "scripts/test.sh" in first_block
