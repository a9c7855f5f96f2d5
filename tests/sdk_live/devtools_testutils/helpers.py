"""Stand-in for ``devtools_testutils.helpers``: the suite's conftest imports ``locate_assets``."""

from __future__ import annotations

from pathlib import Path


def locate_assets(current_test_file: str) -> str:
    """No asset repository: the substitute audio sits in the suite's ``tests/asset``."""
    return str(Path(current_test_file).parent / "asset")
