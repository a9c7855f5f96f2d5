"""--mcp-config, --approve and --tool-timeout through the real option resolution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from voicelive.config.resolve import resolve_settings
from voicelive.errors import ConfigError
from voicelive.tools.config import StdioServer

ENDPOINT = "https://example.services.ai.azure.com"
EXAMPLE = Path(__file__).parent.parent / "examples" / "mcp" / "mcp.json"


def resolve(flags: dict[str, object], env: dict[str, str] | None = None) -> object:
    return resolve_settings({"endpoint": ENDPOINT, **flags}, environ=env or {})


def test_no_tools_by_default() -> None:
    settings = resolve({})
    assert settings.tools is None  # type: ignore[attr-defined]


def test_flags_and_variable() -> None:
    settings = resolve({"mcp_config": str(EXAMPLE), "approve": "codes.*, *.search,"})
    tools = settings.tools  # type: ignore[attr-defined]
    assert tools.approve == ("codes.*", "*.search")
    assert tools.call_timeout_s is None  # the default, 30 s
    (spec,) = tools.mcp.servers
    assert isinstance(spec, StdioServer) and spec.name == "codes"
    from_env = resolve({}, {"VOICELIVE_MCP_CONFIG": str(EXAMPLE), "VOICELIVE_TOOL_TIMEOUT": "2.5"})
    assert from_env.tools.call_timeout_s == 2.5  # type: ignore[attr-defined]


def test_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"--approve .*needs --mcp-config"):
        resolve({"approve": "codes.*"})
    with pytest.raises(ConfigError, match="--tool-timeout"):
        resolve({"mcp_config": str(EXAMPLE), "tool_timeout": "0"})
    with pytest.raises(ConfigError, match="Cannot read the MCP config file"):
        resolve({"mcp_config": str(tmp_path / "none.json")})
    service = tmp_path / "service.json"
    wiki = {"type": "service", "url": "https://w.example/mcp", "authorization": "${WIKI_TOKEN}"}
    service.write_text(json.dumps({"mcpServers": {"wiki": wiki}}))
    with pytest.raises(ConfigError, match="WIKI_TOKEN is not set"):
        resolve({"mcp_config": str(service)})
    monkeypatch.setenv("WIKI_TOKEN", "t-1")
    with pytest.raises(ConfigError, match="needs api-version 2026-01-01-preview or later"):
        resolve({"mcp_config": str(service), "api_version": "2025-10-01"})
    assert resolve({"mcp_config": str(service)}).tools is not None  # type: ignore[attr-defined]


def test_without_tools_the_launch_path_imports_nothing_of_them() -> None:
    code = (
        "import sys\n"
        "from voicelive.config.resolve import resolve_settings\n"
        "resolve_settings({'endpoint': 'https://a.services.ai.azure.com'}, environ={})\n"
        "import voicelive.chat\n"
        "print(sorted(m for m in sys.modules if m.startswith(('voicelive.tools', 'mcp'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
