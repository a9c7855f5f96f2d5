"""The MCP config file, the function names and session.tools, approval, result formatting."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest

from voicelive.errors import ConfigError
from voicelive.tools.approval import ApprovalPolicy, ApprovalQueue, Decision, shown_arguments
from voicelive.tools.catalog import (
    ListedTool,
    ToolCatalog,
    function_name,
    redacted_tools,
    service_mcp_refusal,
)
from voicelive.tools.config import (
    HttpServer,
    Secret,
    ServiceServer,
    StdioServer,
    load_mcp_config,
    parse_mcp_config,
)
from voicelive.tools.results import format_result

SOURCE = Path("/cfg/mcp.json")


def parse(servers: dict[str, object], **environ: str) -> tuple[object, ...]:
    return parse_mcp_config({"mcpServers": servers}, SOURCE, environ).servers


def test_the_three_kinds_of_entry() -> None:
    stdio, http, service = parse(
        {
            "codes": {
                "command": "${voicelive_python}",
                "args": ["codes.py"],
                "env": {"K": "${KEY}"},
                "allowedTools": ["lookup_code"],
            },
            "web": {
                "url": "http://127.0.0.1:8000/mcp",
                "headers": {"Authorization": "Bearer ${T}"},
            },
            "wiki": {
                "type": "service",
                "url": "https://mcp.example/mcp",
                "authorization": "${T}",
                "requireApproval": {"never": ["search"]},
                "allowedTools": ["search", "ask"],
            },
            "off": {"command": "x", "disabled": True},
        },
        KEY="k-1",
        T="tok",
    )
    assert stdio == StdioServer(
        "codes",
        sys.executable,
        ("codes.py",),
        {"K": Secret("k-1")},
        Path("/cfg"),
        frozenset({"lookup_code"}),
    )
    assert http == HttpServer(
        "web", "http://127.0.0.1:8000/mcp", {"Authorization": Secret("Bearer tok")}
    )
    assert isinstance(service, ServiceServer)
    assert service.require_approval == {"never": ["search"]}
    assert service.authorization == Secret("tok")


def test_env_colon_form_and_editor_placeholders() -> None:
    (spec,) = parse({"a": {"command": "x", "env": {"K": "pre-${env:KEY}-post"}}}, KEY="v")
    assert isinstance(spec, StdioServer) and spec.env["K"].reveal() == "pre-v-post"
    with pytest.raises(ConfigError, match=r"uses \$\{input\.\.\.\}, which only the editor"):
        parse({"a": {"url": "https://a.example", "headers": {"K": "${input:token}"}}})


def test_secrets_never_show_in_repr_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    (spec,) = parse(
        {"web": {"url": "https://x.example/mcp", "headers": {"Authorization": "${T}"}}}, T="s3cr3t"
    )
    logging.getLogger("test").warning("spec %r %s", spec, spec)
    assert "s3cr3t" not in repr(spec) and "s3cr3t" not in str(spec)
    assert "s3cr3t" not in caplog.text
    assert isinstance(spec, HttpServer) and spec.headers["Authorization"].reveal() == "s3cr3t"


def test_a_missing_variable_is_one_sentence_naming_file_server_and_variable() -> None:
    with pytest.raises(ConfigError) as err:
        parse({"codes": {"command": "x", "env": {"API_KEY": "${CODES_KEY}"}}})
    assert str(err.value) == (
        "/cfg/mcp.json, server 'codes': \"env\" API_KEY uses ${CODES_KEY}, "
        "but CODES_KEY is not set in the environment."
    )
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({}, 'give "command"'),
        ({"command": "x", "url": "http://a"}, "not both"),
        ({"type": "sse", "url": "http://a"}, '"sse" transport is not supported'),
        ({"type": "ws", "url": "http://a"}, '"type" must be'),
        ({"url": "ftp://a"}, "http:// or https://"),
        ({"command": "x", "args": "a b"}, '"args" must be a list of strings'),
        ({"command": "x", "env": {"A": 1}}, '"env" must be an object of strings'),
        ({"type": "service", "url": "http://localhost:3000/mcp"}, "loopback URL cannot work"),
        (
            {"type": "service", "url": "https://a.example", "requireApproval": "sometimes"},
            "requireApproval",
        ),
    ],
)
def test_bad_entries_get_one_sentence(entry: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse({"s": entry})
    assert words in str(err.value)
    assert str(err.value).startswith("/cfg/mcp.json, server 's': ")
    assert "\n" not in str(err.value)


def test_file_errors_and_vs_code_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read the MCP config file"):
        load_mcp_config(tmp_path / "none.json", {})
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"is not valid JSON \(line 1"):
        load_mcp_config(bad, {})
    vscode = tmp_path / "vscode.json"
    vscode.write_text(
        json.dumps({"servers": {"a": {"type": "stdio", "command": "x", "cwd": "sub"}}})
    )
    (spec,) = load_mcp_config(vscode, {}).servers
    assert isinstance(spec, StdioServer) and spec.cwd == tmp_path / "sub"
    with pytest.raises(ConfigError, match='no "mcpServers" object'):
        parse_mcp_config({"other": {}}, SOURCE, {})
    with pytest.raises(ConfigError, match="server name may hold only"):
        parse({"bad name": {"command": "x"}})


def test_function_names_are_valid_stable_and_deduplicated() -> None:
    assert function_name("codes", "lookup_code") == "codes__lookup_code"
    assert function_name("my.server", "get weather!") == "my_server__get_weather_"
    long = function_name("s", "t" * 100)
    assert len(long) == 64 and long == function_name("s", "t" * 100)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", long)
    catalog = ToolCatalog(
        [ListedTool("a.b", "c"), ListedTool("a_b", "c"), ListedTool("x", "hidden")],
        {"x": frozenset({"shown"})},
    )
    names = [t.function_name for t in catalog]
    assert names[0] == "a_b__c" and names[1].startswith("a_b__c_") and len(set(names)) == 2
    assert catalog.hidden == ["x.hidden"]
    again = ToolCatalog([ListedTool("a.b", "c"), ListedTool("a_b", "c")], {})
    assert [t.function_name for t in again] == names


def test_session_tools_pass_description_and_schema_and_redact_for_logs() -> None:
    schema = {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}
    catalog = ToolCatalog(
        [ListedTool("codes", "lookup_code", "code book", schema), ListedTool("codes", "bare")], {}
    )
    wiki = ServiceServer(
        "wiki",
        "https://w.example/mcp",
        {"X-Key": Secret("hk")},
        Secret("tok"),
        frozenset({"b", "a"}),
        "never",
    )
    tools = catalog.session_tools([wiki])
    assert tools[0] == {
        "type": "function",
        "name": "codes__lookup_code",
        "description": "code book",
        "parameters": schema,
    }
    assert tools[1]["parameters"] == {"type": "object", "properties": {}}
    assert tools[1]["description"] == "bare (MCP server codes)"
    assert tools[2] == {
        "type": "mcp",
        "server_label": "wiki",
        "server_url": "https://w.example/mcp",
        "require_approval": "never",
        "allowed_tools": ["a", "b"],
        "headers": {"X-Key": "hk"},
        "authorization": "tok",
    }
    logged = json.dumps(redacted_tools(tools))
    assert "hk" not in logged and "tok" not in logged and "codes__lookup_code" in logged


def test_service_mcp_needs_a_new_enough_api_version() -> None:
    wiki = ServiceServer("wiki", "https://w.example/mcp")
    assert service_mcp_refusal("2026-07-15", [wiki]) is None
    assert service_mcp_refusal("2026-01-01-preview", [wiki]) is None
    refusal = service_mcp_refusal("2025-10-01", [wiki])
    assert refusal is not None and "needs api-version 2026-01-01-preview or later" in refusal
    assert service_mcp_refusal("2025-10-01", []) is None


def test_approval_policy_patterns_and_always() -> None:
    policy = ApprovalPolicy(["codes.*", "*.search"])
    assert policy.approved("codes.lookup_code") and policy.approved("wiki.search")
    assert not policy.approved("wiki.submit") and not policy.approved("Codes.lookup_code")
    queue = ApprovalQueue(policy)
    assert queue.submit("call:1", "codes.x", "{}") is True
    assert queue.submit("call:2", "wiki.submit", "{}") is False
    ask = queue.current
    assert ask is not None and ask.timeout_s == 60.0
    assert queue.answer(ask.ask_id + 1, "y") is None  # not the current question
    assert queue.answer(ask.ask_id, "a") == [Decision("call:2", True)]
    assert queue.submit("call:3", "wiki.submit", "{}") is True


def test_shown_arguments_are_one_compact_line() -> None:
    assert shown_arguments('{"word":\n "lighthouse"}') == '{"word": "lighthouse"}'
    assert shown_arguments("") == "{}"
    assert shown_arguments("not json\nat all") == "not json at all"
    assert len(shown_arguments(json.dumps({"t": "x" * 500}))) == 160


def test_result_text_structured_error_other_blocks() -> None:
    text = format_result(
        [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], {"r": 1}, False
    )
    assert (text.kind, text.text) == ("ok", "a\nb")
    assert format_result([], {"r": [1, 2]}, False).text == '{"r":[1,2]}'
    assert format_result([{"type": "image", "data": "..."}], None, False).text == "[image omitted]"
    resource = {"type": "resource", "resource": {"uri": "u", "text": "inside"}}
    assert format_result([resource], None, False).text == "inside"
    error = format_result([{"type": "text", "text": "boom"}], None, True)
    assert (error.kind, error.text) == ("error", "boom")
    assert format_result([], None, True).text == "the tool reported an error without a message"
    assert format_result([{"type": "text", "text": "abcdef"}], None, False, 4).text == (
        "abcd… [cut: 2 more characters]"
    )
