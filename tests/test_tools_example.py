"""The example MCP server and config in examples/mcp work as the README says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voicelive.tools.catalog import ToolCatalog
from voicelive.tools.config import StdioServer, load_mcp_config
from voicelive.tools.manager import McpServers

pytestmark = pytest.mark.slow  # real MCP server processes (about 1-2 s each to start)


EXAMPLE = Path(__file__).parent.parent / "examples" / "mcp" / "mcp.json"


async def test_the_example_config_starts_and_answers() -> None:
    config = load_mcp_config(EXAMPLE, os.environ)
    (spec,) = config.local
    assert isinstance(spec, StdioServer) and spec.cwd == EXAMPLE.parent
    async with McpServers(config.local) as servers:
        report = await servers.start()
        assert report.failures == []
        catalog = ToolCatalog(report.tools, {spec.name: spec.allowed_tools})
        assert {t.function_name for t in catalog} == {"codes__lookup_code", "codes__list_words"}
        tool = catalog.lookup("codes__lookup_code")
        assert tool is not None
        outcome = await servers.call(tool.server, tool.tool, {"word": "Lighthouse"})
        assert (outcome.kind, outcome.text) == ("ok", "LH-42")
        missing = await servers.call(tool.server, tool.tool, {"word": "kite"})
        assert missing.kind == "error" and "no entry for 'kite'" in missing.text
