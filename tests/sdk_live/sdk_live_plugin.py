"""pytest plugin for running the Voice Live SDK's live suite against ``voicelive simulate``.

Loaded with ``-p sdk_live_plugin`` by ``scripts/sdk-live-suite.sh`` (this folder on
``PYTHONPATH``). It changes no test and no assertion; it adds three things:

* **Expected failures.** ``expected_failures.txt`` lists the tests that need a real model (the
  exact words of a transcript, the model deciding to call a tool, filler-word removal), each
  with its reason; an entry without ``[params]`` covers every parametrization of the test.
  They are marked ``xfail(strict=True)``: one that passes fails the run, so the list cannot
  go stale silently.
* **Hollow passes fail.** The simulator records every frame to ``$VL_SIM_RECORD`` (JSONL). A
  test that passed although the simulator answered one of its ``session.update`` events with an
  ``error`` (a refused update: the test ran on the default session) is turned into a failure.
  A refusal is an ``error`` event whose ``param`` names the session (``session…``).
* **Shards.** ``--shard I/N`` keeps every N-th test starting at I (0-based), so several pytest
  processes, each with its own simulator, can share the wall-clock waits of the suite.

The suite's telemetry tests need azure-core's OpenTelemetry bridge, which the script installs
beside the suite in ``$VL_SDK_DEPS`` rather than into the project's environment. It lives in
``azure.core.tracing.ext``, a regular package of the installed azure-core, so Python would not
look for it there: :func:`pytest_configure` adds the bridge's folder to that package's path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
EXPECTED = HERE / "expected_failures.txt"


def pytest_configure(config: pytest.Config) -> None:
    deps = os.environ.get("VL_SDK_DEPS")
    bridge = Path(deps) / "azure" / "core" / "tracing" / "ext" if deps else None
    if bridge is not None and bridge.is_dir():
        import azure.core.tracing.ext as ext

        ext.__path__.append(str(bridge))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--shard", default="0/1", help="I/N: run every N-th test starting at I.")


def load_expected(path: Path = EXPECTED) -> dict[str, str]:
    """``node id → reason`` from ``path`` (``<node id> | <reason>`` lines, ``#`` comments)."""
    expected: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        node, sep, reason = line.partition(" | ")
        if not sep or not reason.strip():
            raise pytest.UsageError(f"{path.name}: every line needs '<node id> | <reason>': {raw}")
        expected[node.strip()] = reason.strip()
    return expected


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    index, _, count = str(config.getoption("--shard")).partition("/")
    shard, shards = int(index), int(count or 1)
    expected = load_expected()
    found: set[str] = set()
    for item in items:
        node = item.nodeid.split("tests/live/", 1)[-1]
        entry = node if node in expected else node.split("[", 1)[0]
        if entry in expected:
            found.add(entry)
            item.add_marker(pytest.mark.xfail(reason=expected[entry], strict=True))
    missing = sorted(set(expected) - found)
    if missing and shards == 1:
        raise pytest.UsageError(f"expected_failures.txt names unknown tests: {missing}")
    if shards > 1:
        kept = [item for i, item in enumerate(items) if i % shards == shard]
        dropped = [item for i, item in enumerate(items) if i % shards != shard]
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _record_path() -> Path | None:
    value = os.environ.get("VL_SIM_RECORD")
    return Path(value) if value else None


def refused_updates(lines: list[str]) -> list[str]:
    """The simulator's refusals of ``session.update`` among recorded frames, one line each."""
    found: list[str] = []
    for line in lines:
        try:
            frame: dict[str, Any] = json.loads(line)
        except ValueError:
            continue  # a line still being written when the test ended
        event = frame.get("event") or {}
        if frame.get("dir") != "out" or event.get("type") != "error":
            continue
        error = event.get("error") or {}
        param = str(error.get("param") or "")
        if param == "session" or param.startswith("session."):
            found.append(f"{error.get('code')}: {param}: {error.get('message')}")
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    record = _record_path()
    start = record.stat().st_size if record is not None and record.exists() else 0
    yield
    if record is not None and record.exists():
        with record.open("rb") as file:
            file.seek(start)
            lines = file.read().decode("utf-8", "replace").splitlines()
        item.stash[_REFUSALS] = refused_updates(lines)


_REFUSALS = pytest.StashKey[list[str]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    refusals = item.stash.get(_REFUSALS, [])
    if report.when == "call" and report.passed and not hasattr(report, "wasxfail") and refusals:
        report.outcome = "failed"
        report.longrepr = "hollow pass: the simulator refused a session.update:\n  " + (
            "\n  ".join(refusals)
        )
