"""Tool wire events: parsing (every non-id field optional) and the client event builders."""

from __future__ import annotations

import subprocess
import sys

import pytest

from voicelive.protocol import tool_events as te


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"cli_{self.n}"


def test_parsing_tolerates_missing_fields_and_both_spellings() -> None:
    assert te.parse_tool_event(
        {"type": "response.done", "response": {"id": "r", "status": "canceled"}}
    ) == (te.ResponseFinished("r", "cancelled"))
    assert te.parse_tool_event(
        {"type": "response.done", "response": {"id": "r"}}
    ) == te.ResponseFinished("r", "completed")
    done = te.parse_tool_event({"type": "response.function_call_arguments.done", "call_id": "c"})
    assert done == te.FunctionArgumentsDone("c", "", "", None, None)
    listing = te.parse_tool_event(
        {"type": "conversation.item.created", "item": {"type": "mcp_list_tools", "id": "m"}}
    )
    assert listing == te.McpToolsListing("m", "", ())
    assert te.parse_tool_event({"type": "response.audio.delta"}) is None
    assert (
        te.parse_tool_event({"type": "conversation.item.created", "item": {"type": "message"}})
        is None
    )
    failed = te.parse_tool_event(
        {
            "type": "response.output_item.done",
            "item": {"type": "mcp_call", "id": "i", "error": {"message": "unreachable"}},
        }
    )
    assert isinstance(failed, te.McpCallItemDone) and failed.error == "unreachable"


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "response.function_call_arguments.done"},
        {"type": "response.mcp_call.completed"},
        {"type": "response.created", "response": {}},
        {"type": "conversation.item.created", "item": {"type": "mcp_approval_request"}},
        {"type": "response.output_item.added", "item": {"type": "function_call", "call_id": 3}},
    ],
)
def test_a_known_type_without_its_id_is_malformed(frame: dict[str, object]) -> None:
    with pytest.raises(te.MalformedToolEvent):
        te.parse_tool_event(frame)


def test_client_event_builders() -> None:
    ids = Ids()
    assert te.function_call_output(ids, "c1", "LH-42", "item_1") == {
        "type": "conversation.item.create",
        "event_id": "cli_1",
        "previous_item_id": "item_1",
        "item": {"type": "function_call_output", "call_id": "c1", "output": "LH-42"},
    }
    assert te.function_call_item(ids, "c1", "codes__lookup_code", "{}")["item"] == {
        "type": "function_call",
        "call_id": "c1",
        "name": "codes__lookup_code",
        "arguments": "{}",
    }
    assert te.mcp_approval_response(ids, "apr_1", False)["item"] == {
        "type": "mcp_approval_response",
        "approval_request_id": "apr_1",
        "approve": False,
    }


def test_the_pure_tool_modules_do_not_import_the_mcp_sdk() -> None:
    code = (
        "import sys\n"
        "import voicelive.tools.call_loop, voicelive.tools.config, voicelive.tools.results\n"
        "import voicelive.tools.stderr_log, voicelive.protocol.tool_events\n"
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'httpx2'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
