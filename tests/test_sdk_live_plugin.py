"""The live-suite plugin's own checks: hollow-pass detection and the expected-failure list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sdk_live import sdk_live_plugin as plugin


def _line(direction: str, event: dict[str, object]) -> str:
    return json.dumps({"t": 0.1, "dir": direction, "event": event})


def test_a_refused_session_update_is_found_and_other_errors_are_not() -> None:
    refusal = {
        "type": "error",
        "error": {"code": "unknown_parameter", "param": "session.voice.nam", "message": "no"},
    }
    other = {"type": "error", "error": {"code": "x", "param": "response.voice", "message": "m"}}
    lines = [
        _line("in", {"type": "session.update", "session": {}}),
        _line("out", refusal),
        _line("out", other),
        _line("in", {"type": "error", "error": {"param": "session"}}),  # not from the server
        '{"t": 0.2, "dir": "out", "ev',  # cut short when the test ended
    ]
    assert plugin.refused_updates(lines) == ["unknown_parameter: session.voice.nam: no"]
    assert plugin.refused_updates([_line("out", {"type": "session.updated"})]) == []


def test_the_expected_failures_list_parses_and_every_entry_has_a_reason(tmp_path: Path) -> None:
    listed = plugin.load_expected()
    assert listed and all(reason for reason in listed.values())
    assert all("::" in node for node in listed)
    bad = tmp_path / "bad.txt"
    bad.write_text("# comment\ntest_x.py::T::test_y\n", encoding="utf-8")
    with pytest.raises(pytest.UsageError, match="reason"):
        plugin.load_expected(bad)
