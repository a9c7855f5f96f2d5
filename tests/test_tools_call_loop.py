"""The call loop as a pure state machine: wire frames in (through parse_tool_event), actions out."""

from __future__ import annotations

import json
from typing import Any

from voicelive.protocol.tool_events import parse_tool_event
from voicelive.tools.approval import ApprovalPolicy, ApprovalQueue
from voicelive.tools.call_loop import CallLoop
from voicelive.tools.catalog import ListedTool, ToolCatalog
from voicelive.tools.loop_events import (
    Action,
    ApprovalAnswered,
    ApprovalExpired,
    CancelRequested,
    CancelTool,
    Notice,
    PromptChanged,
    Reconnected,
    Recorded,
    ResponseRequested,
    RunTool,
    SendFunctionOutput,
    SendMcpApproval,
    SendResponseCreate,
    ToolFinished,
    ToolOutcome,
    UserTurnStarted,
)

LOOKUP = "codes__lookup_code"


def make_loop(*patterns: str, cap: int = 10) -> CallLoop:
    catalog = ToolCatalog(
        [
            ListedTool("codes", "lookup_code", "code book", {"type": "object"}),
            ListedTool("codes", "slow", "sleeps", {"type": "object"}),
        ],
        {},
    )
    return CallLoop(catalog, ApprovalQueue(ApprovalPolicy(patterns), 60.0), cap)


class Wire:
    """Feeds service frames and local events; keeps every action."""

    def __init__(self, loop: CallLoop) -> None:
        self.loop = loop
        self.now = 0.0
        self.actions: list[Action] = []

    def frame(self, frame: dict[str, Any]) -> list[Action]:
        event = parse_tool_event(frame)
        assert event is not None, frame
        return self._take(self.loop.feed(event, self.now))

    def local(self, event: Any) -> list[Action]:
        return self._take(self.loop.feed(event, self.now))

    def _take(self, actions: list[Action]) -> list[Action]:
        self.actions.extend(actions)
        return actions

    def created(self, rid: str) -> None:
        self.frame({"type": "response.created", "response": {"id": rid}})

    def call(
        self, rid: str, call_id: str, name: str = LOOKUP, args: str | None = None
    ) -> list[Action]:
        item = {"id": f"item_{call_id}", "type": "function_call", "call_id": call_id, "name": name}
        self.frame({"type": "response.output_item.added", "response_id": rid, "item": item})
        self.frame({"type": "conversation.item.created", "item": item})
        if args is None:
            return []
        return self.frame(
            {
                "type": "response.function_call_arguments.done",
                "response_id": rid,
                "item_id": f"item_{call_id}",
                "call_id": call_id,
                "arguments": args,
            }
        )

    def done(self, rid: str, status: str = "completed") -> list[Action]:
        return self.frame({"type": "response.done", "response": {"id": rid, "status": status}})

    def of(self, kind: type) -> list[Any]:
        return [a for a in self.actions if isinstance(a, kind)]


def outputs(wire: Wire) -> dict[str, str]:
    sent = wire.of(SendFunctionOutput)
    assert len({s.call_id for s in sent}) == len(sent), "a call_id answered twice"
    return {s.call_id: s.output for s in sent}


def test_approved_call_runs_and_output_then_one_response_create_follow_response_done() -> None:
    wire = Wire(make_loop("codes.*"))
    wire.created("r1")
    actions = wire.call("r1", "c1", args='{"word": "lighthouse"}')
    assert actions == [RunTool("c1", wire.loop._catalog.lookup(LOOKUP), {"word": "lighthouse"})]  # type: ignore[arg-type]
    wire.now = 2.5
    assert wire.local(ToolFinished("c1", ToolOutcome("ok", "LH-42"))) == []  # response still active
    after = wire.done("r1")
    assert after[0] == SendFunctionOutput("c1", "LH-42", "item_c1")
    assert isinstance(after[1], Recorded)
    assert after[1].record.name == "codes.lookup_code"
    assert after[1].record.outcome == "ok"
    assert after[1].record.duration_s == 2.5
    assert after[2:] == [SendResponseCreate()]


def test_nothing_is_approved_by_default_and_y_runs_it() -> None:
    wire = Wire(make_loop())
    wire.created("r1")
    actions = wire.call("r1", "c1", args='{"word": "lighthouse"}')
    assert len(actions) == 1 and isinstance(actions[0], PromptChanged)
    ask = actions[0].ask
    assert ask is not None
    assert ask.prompt == (
        'tool codes.lookup_code {"word": "lighthouse"}: allow? y / n / a (always this tool)'
    )
    assert wire.loop.status(0.0) == ask.prompt
    assert wire.local(ApprovalAnswered(ask.ask_id, "x")) == []  # not an answer
    ran = wire.local(ApprovalAnswered(ask.ask_id, "Y"))
    assert [type(a) for a in ran] == [RunTool, PromptChanged]
    assert ran[1] == PromptChanged(None)


def test_denial_and_timeout_become_not_approved_outputs() -> None:
    wire = Wire(make_loop())
    wire.created("r1")
    first = wire.call("r1", "c1", args='{"word": "a"}')[0].ask  # type: ignore[union-attr]
    wire.call("r1", "c2", args='{"word": "b"}')
    wire.done("r1")
    assert outputs(wire) == {}
    shown = wire.local(ApprovalAnswered(first.ask_id, "n"))
    second = next(a for a in shown if isinstance(a, PromptChanged)).ask
    assert second is not None and second.subject == "call:c2"  # asked one at a time, in order
    wire.local(ApprovalExpired(first.ask_id))  # stale: changes nothing
    assert wire.loop._approvals.current == second
    wire.local(ApprovalExpired(second.ask_id))
    assert outputs(wire) == {"c1": "not approved by the user", "c2": "not approved by the user"}
    assert wire.of(SendResponseCreate) == [SendResponseCreate()]
    assert [r.record.outcome for r in wire.of(Recorded)] == ["denied", "denied"]


def test_always_approves_the_tool_for_the_session_and_the_queued_calls() -> None:
    wire = Wire(make_loop())
    wire.created("r1")
    ask = wire.call("r1", "c1", args="{}")[0].ask  # type: ignore[union-attr]
    wire.call("r1", "c2", args="{}")
    wire.call("r1", "c3", name="codes__slow", args='{"seconds": 1}')
    actions = wire.local(ApprovalAnswered(ask.ask_id, "a"))
    assert [a.call_id for a in actions if isinstance(a, RunTool)] == ["c1", "c2"]
    next_ask = next(a for a in actions if isinstance(a, PromptChanged)).ask
    assert next_ask is not None and next_ask.display == "codes.slow"
    wire.created("r2")
    later = wire.call("r2", "c4", args="{}")
    assert [type(a) for a in later] == [RunTool]


def test_parallel_calls_get_one_output_each_and_a_single_response_create() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1", args='{"word": "a"}')
    wire.call("r1", "c2", args='{"word": "b"}')
    wire.call("r1", "c3", name="codes__slow", args='{"seconds": 5}')
    wire.done("r1")
    wire.local(ToolFinished("c2", ToolOutcome("ok", "B")))
    wire.local(ToolFinished("c1", ToolOutcome("error", "no code")))
    assert wire.of(SendResponseCreate) == []  # c3 still runs
    wire.local(ToolFinished("c3", ToolOutcome("timeout", timeout_s=30.0)))
    wire.local(ToolFinished("c3", ToolOutcome("ok", "late")))  # exactly once
    assert outputs(wire) == {"c1": "error: no code", "c2": "B", "c3": "timed out after 30 s"}
    assert wire.of(SendResponseCreate) == [SendResponseCreate()]
    assert wire.actions[-1] == SendResponseCreate()


def test_response_create_is_deferred_while_another_response_is_active() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1", args="{}")
    wire.done("r1")
    wire.created("r2")  # the user spoke: the service started another response
    wire.local(ToolFinished("c1", ToolOutcome("ok", "A")))
    assert outputs(wire) == {"c1": "A"}  # the output may go while r2 runs
    assert wire.of(SendResponseCreate) == []
    assert wire.done("r2")[-1] == SendResponseCreate()
    assert len(wire.of(SendResponseCreate)) == 1


def test_a_call_cut_off_before_its_arguments_is_not_run_and_gets_no_output() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1")  # item only, no arguments yet
    assert wire.done("r1", status="cancelled") == []
    late = wire.frame(
        {"type": "response.function_call_arguments.done", "call_id": "c1", "arguments": "{}"}
    )
    assert late == []
    assert wire.of(RunTool) == [] and outputs(wire) == {}
    assert wire.loop.history() == []


def test_a_barge_in_after_the_arguments_does_not_kill_the_tool() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1", args="{}")
    wire.done("r1", status="canceled")  # turn_detected; the spelling varies
    wire.local(UserTurnStarted())
    wire.created("r2")
    wire.local(ToolFinished("c1", ToolOutcome("ok", "A")))
    wire.done("r2")
    assert outputs(wire) == {"c1": "A"}
    assert len(wire.of(SendResponseCreate)) == 1


def test_unknown_name_and_bad_arguments_get_error_outputs_without_running() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1", name="weather__now", args="{}")
    wire.call("r1", "c2", args="[1, 2]")
    wire.done("r1")
    assert wire.of(RunTool) == []
    assert outputs(wire) == {
        "c1": "error: there is no tool named 'weather__now'",
        "c2": "error: the arguments are not a JSON object",
    }
    assert wire.of(SendResponseCreate) == [SendResponseCreate()]


def test_name_comes_from_the_item_not_from_done() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1")
    actions = wire.frame(
        {
            "type": "response.function_call_arguments.done",
            "response_id": "r1",
            "call_id": "c1",
            "name": "something_else",
            "arguments": '{"word": "a"}',
        }
    )
    assert [a.tool.function_name for a in actions if isinstance(a, RunTool)] == [LOOKUP]


def test_a_call_only_in_response_done_is_taken_from_there_once() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    item = {
        "id": "i1",
        "type": "function_call",
        "call_id": "c1",
        "name": LOOKUP,
        "arguments": '{"word": "a"}',
        "status": "completed",
    }
    frame = {
        "type": "response.done",
        "response": {"id": "r1", "status": "completed", "output": [item]},
    }
    wire.frame(frame)
    wire.frame(frame)  # a duplicate does not run it again
    assert [a.call_id for a in wire.of(RunTool)] == ["c1"]


def test_cancel_ends_running_and_waiting_calls() -> None:
    wire = Wire(make_loop("codes.slow"))
    wire.created("r1")
    wire.call("r1", "c1", name="codes__slow", args='{"seconds": 60}')
    wire.call("r1", "c2", args="{}")  # waits for approval
    wire.done("r1")
    wire.now = 1.0
    actions = wire.local(CancelRequested())
    assert CancelTool("c1") in actions
    assert PromptChanged(None) in actions
    wire.local(ToolFinished("c1", ToolOutcome("ok", "done")))  # the late result is dropped
    assert outputs(wire) == {"c1": "cancelled by the user", "c2": "cancelled by the user"}
    assert wire.of(SendResponseCreate) == [SendResponseCreate()]


def test_the_cap_on_calls_per_turn_refuses_and_then_stops_asking() -> None:
    wire = Wire(make_loop("*", cap=2))
    wire.created("r1")
    for n in range(3):
        wire.call("r1", f"c{n}", args="{}")
    wire.done("r1")
    for n in range(2):
        wire.local(ToolFinished(f"c{n}", ToolOutcome("ok", "x")))
    assert outputs(wire)["c2"] == "not run: the limit of 2 tool calls per turn was reached"
    assert len(wire.of(SendResponseCreate)) == 1  # one more so the model can say so
    wire.created("r2")
    wire.call("r2", "c9", args="{}")  # the model tries again in the same turn
    wire.done("r2")
    assert len(wire.of(SendResponseCreate)) == 1
    assert wire.of(Notice) == [Notice("Stopped: more than 2 tool calls in one turn.")]
    wire.local(UserTurnStarted())
    wire.created("r3")
    assert [type(a) for a in wire.call("r3", "c10", args="{}")] == [RunTool]


def test_status_line_while_a_tool_runs() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1", args="{}")
    assert wire.loop.status(2.44) == "running codes.lookup_code · 2.4 s"
    wire.call("r1", "c2", name="codes__slow", args="{}")
    assert wire.loop.status(3.0) == "running codes.lookup_code · 3.0 s (+1 more)"


def test_reconnect_replays_calls_and_answers_the_one_in_flight_once_on_the_new_session() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1", args='{"word": "a"}')
    wire.call("r1", "c2", name="codes__slow", args='{"seconds": 9}')
    wire.done("r1")
    wire.local(ToolFinished("c1", ToolOutcome("ok", "A")))
    wire.created("r2")
    wire.call("r2", "c3")  # cut off by the drop
    history = wire.loop.history()
    assert [(h.call_id, h.output) for h in history] == [("c1", "A"), ("c2", None)]
    assert history[1].name == "codes__slow" and history[1].arguments == '{"seconds": 9}'
    sent_before = len(wire.of(SendFunctionOutput))
    wire.local(Reconnected())
    assert wire.of(SendResponseCreate) == []
    wire.local(ToolFinished("c2", ToolOutcome("ok", "done")))
    assert outputs(wire) == {"c1": "A", "c2": "done"}
    assert len(wire.of(SendFunctionOutput)) == sent_before + 1
    # the new session has the call only as the replayed item: no old session's item id
    assert wire.of(SendFunctionOutput)[-1].previous_item_id is None
    assert wire.of(SendResponseCreate) == [SendResponseCreate()]
    assert [h.call_id for h in wire.loop.history()] == ["c1", "c2"]


def test_service_mcp_approval_and_completion_dedupe() -> None:
    wire = Wire(make_loop())
    wire.created("r1")
    call_item = {"type": "mcp_call", "id": "mc_1", "server_label": "wiki", "name": "ask_question"}
    wire.frame({"type": "response.output_item.added", "response_id": "r1", "item": call_item})
    request = {
        "type": "conversation.item.created",
        "item": {
            "type": "mcp_approval_request",
            "id": "apr_1",
            "server_label": "wiki",
            "name": "ask_question",
            "arguments": '{"q": "x"}',
        },
    }
    ask = wire.frame(request)[0].ask  # type: ignore[union-attr]
    assert ask.prompt.startswith('tool wiki.ask_question {"q": "x"}: allow?')
    wire.frame(request)  # the same request twice is asked once
    assert len(wire.loop._approvals) == 1
    assert wire.local(ApprovalAnswered(ask.ask_id, "y"))[0] == SendMcpApproval("apr_1", True)
    wire.done("r1")
    assert wire.of(SendResponseCreate) == []  # nothing to say until the call completes
    wire.frame({"type": "response.mcp_call.completed", "item_id": "mc_1", "output_index": 0})
    wire.frame({"type": "response.mcp_call.completed", "item_id": "mc_1", "output_index": 0})
    assert wire.of(SendResponseCreate) == [SendResponseCreate()]
    item_done = {
        "type": "response.output_item.done",
        "item": {**call_item, "arguments": "{}", "output": "42"},
    }
    wire.now = 1.5
    wire.frame(item_done)
    wire.frame(item_done)  # recorded once
    assert [r.record.outcome for r in wire.of(Recorded)] == ["ok"]
    record = wire.of(Recorded)[0].record
    assert (record.source, record.name, record.duration_s) == ("service", "wiki.ask_question", 1.5)
    assert record.output == "42"


def test_service_mcp_denial_and_failure_while_a_response_is_active() -> None:
    wire = Wire(make_loop())
    wire.created("r1")
    request = {
        "type": "conversation.item.created",
        "item": {
            "type": "mcp_approval_request",
            "id": "apr_2",
            "server_label": "wiki",
            "name": "submit",
            "arguments": "{}",
        },
    }
    ask = wire.frame(request)[0].ask  # type: ignore[union-attr]
    assert wire.local(ApprovalAnswered(ask.ask_id, "n"))[0] == SendMcpApproval("apr_2", False)
    assert wire.of(SendResponseCreate) == []  # r1 is active
    assert wire.done("r1")[-1] == SendResponseCreate()
    wire.created("r2")
    wire.frame({"type": "response.mcp_call.failed", "item_id": "mc_2", "output_index": 0})
    wire.done("r2")
    assert len(wire.of(SendResponseCreate)) == 2


def test_pre_approved_service_tool_is_answered_at_once() -> None:
    wire = Wire(make_loop("wiki.*"))
    request = {
        "type": "conversation.item.created",
        "item": {
            "type": "mcp_approval_request",
            "id": "apr_3",
            "server_label": "wiki",
            "name": "ask",
            "arguments": "{}",
        },
    }
    assert wire.frame(request) == [SendMcpApproval("apr_3", True)]


def test_list_tools_failure_is_one_line_naming_the_server() -> None:
    wire = Wire(make_loop())
    listing = {"type": "mcp_list_tools", "id": "ml_1", "server_label": "wiki"}
    wire.frame({"type": "conversation.item.created", "item": listing})
    assert wire.frame({"type": "mcp_list_tools.failed", "item_id": "ml_1"}) == [
        Notice(
            "The service could not reach the MCP server 'wiki'; its tools are not available "
            "(check its url, and that Azure can reach it)."
        )
    ]


def test_record_json_for_stats() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1", args="{}")
    wire.now = 0.1234
    wire.local(ToolFinished("c1", ToolOutcome("ok", "A")))
    wire.done("r1")
    record = wire.of(Recorded)[0].record
    assert record.as_json() == {
        "call_id": "c1",
        "name": "codes.lookup_code",
        "outcome": "ok",
        "duration_s": 0.123,
        "source": "local",
    }
    assert json.dumps(record.as_json())
    assert record.transcript_entry() == {
        "role": "tool",
        "name": "codes.lookup_code",
        "arguments": "{}",
        "outcome": "ok",
        "output": "A",
        "duration_ms": 123,
        "source": "local",
    }
    assert record.transcript_markdown() == "**Tool** codes.lookup_code {} → A _(ok, 0.1 s)_"


def test_a_typed_message_response_create_holds_ours_until_its_response_is_done() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1", args="{}")
    wire.done("r1")
    wire.local(ResponseRequested())  # the chat sent a response.create for a typed message
    wire.local(ToolFinished("c1", ToolOutcome("ok", "A")))
    assert outputs(wire) == {"c1": "A"}
    assert wire.of(SendResponseCreate) == []  # its response.created has not come yet
    wire.created("r2")
    assert wire.of(SendResponseCreate) == []
    assert wire.done("r2")[-1] == SendResponseCreate()


def test_a_refused_response_create_is_sent_again_after_the_next_response_done() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1", args="{}")
    wire.local(ToolFinished("c1", ToolOutcome("ok", "A")))
    wire.done("r1")
    assert len(wire.of(SendResponseCreate)) == 1
    # the user's speech started a response at the same moment: ours is refused
    wire.frame({"type": "response.created", "response": {"id": "r2"}})
    refusal = {
        "type": "error",
        "error": {"message": "Conversation already has an active response in progress"},
    }
    assert wire.frame(refusal) == []
    assert wire.done("r2")[-1] == SendResponseCreate()
    assert len(wire.of(SendResponseCreate)) == 2
    # our own create, while pending, keeps a second one back
    wire.local(CancelRequested())
    assert len(wire.of(SendResponseCreate)) == 2


def test_a_response_create_lost_with_the_connection_is_asked_again_on_the_new_session() -> None:
    wire = Wire(make_loop("*"))
    wire.created("r1")
    wire.call("r1", "c1", args="{}")
    wire.local(ToolFinished("c1", ToolOutcome("ok", "A")))
    wire.done("r1")
    assert len(wire.of(SendResponseCreate)) == 1  # then the socket drops before a response
    wire.local(Reconnected())
    assert len(wire.of(SendResponseCreate)) == 2
    assert outputs(wire) == {"c1": "A"}  # the output itself is in the replay, not sent twice
    wire.created("r2")
    wire.done("r2")
    wire.local(Reconnected())  # a later drop after a finished response asks nothing
    assert len(wire.of(SendResponseCreate)) == 2
