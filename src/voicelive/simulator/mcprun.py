"""The service-side MCP flows (protocol notes A3.2), with the tools of :mod:`.mcp`.

* :func:`list_tools`: after a ``session.update`` that declares a server the session has not
  listed yet: ``conversation.item.created`` (an ``mcp_list_tools`` item with the tools) →
  ``mcp_list_tools.in_progress`` → ``.completed`` (``.failed`` for an unreachable server).
* :class:`McpCallRun`: a response that calls an MCP tool: ``response.created`` →
  ``response.output_item.added`` / ``conversation.item.created`` (an ``mcp_call`` item) →
  ``response.mcp_call_arguments.delta`` (two) → ``.done`` → either (approval needed) a
  ``conversation.item.created`` with an ``mcp_approval_request`` item, or the call itself
  (``response.mcp_call.in_progress`` → ``.completed``/``.failed``) →
  ``response.output_item.done`` → ``response.done``. The model says nothing more until the
  client's ``response.create``.
* :func:`answer_approval`: after the client's ``mcp_approval_response`` item was created: the
  approved call runs (``in_progress`` → ``completed``/``failed`` → ``output_item.done``); a
  refused one fails with the reason. Runs in the connection's task.
"""

from __future__ import annotations

from .context import Context
from .conversation import Conversation, Item
from .mcp import needs_approval, reachable, run_tool, server_tools
from .responder import WORD_MS, DeltaHook, DeltaJitter, Outbox, ReplyPlan, ResponseRun
from .tools import ToolCall
from .wire import JsonDict


async def list_tools(ctx: Context, servers: list[JsonDict], listed: set[str]) -> None:
    """List the tools of every server in ``servers`` not in ``listed`` (which is updated)."""
    for server in servers:
        label = str(server.get("server_label"))
        if label in listed:
            continue
        listed.add(label)
        ok = reachable(server)
        item = Item(
            id=ctx.ids.new("item"),
            type="mcp_list_tools",
            role=None,
            extra={"server_label": label, "tools": server_tools(server) if ok else []},
        )
        previous = ctx.conversation.append(item)
        await ctx.send(
            {"type": "conversation.item.created", "previous_item_id": previous, "item": item.wire()}
        )
        await ctx.send({"type": "mcp_list_tools.in_progress", "item_id": item.id})
        outcome = "completed" if ok else "failed"
        await ctx.send({"type": f"mcp_list_tools.{outcome}", "item_id": item.id})


async def _run_call(out: Outbox, call: Item, response_id: str) -> None:
    """Run an ``mcp_call`` item's tool and report it; the item gets ``output`` or ``error``."""
    ids = {"item_id": call.id, "output_index": 0}
    await out.send({"type": "response.mcp_call.in_progress", **ids})
    output, error = run_tool(str(call.extra["name"]), str(call.extra["arguments"]))
    if output is not None:
        call.extra["output"] = output
        await out.send({"type": "response.mcp_call.completed", **ids})
    else:
        call.extra["error"] = {"type": "tool_error", "message": error}
        await out.send({"type": "response.mcp_call.failed", **ids})
    await out.send(
        {
            "type": "response.output_item.done",
            "response_id": response_id,
            "output_index": 0,
            "item": call.wire(),
        }
    )


def approval_problem(conversation: Conversation, request_id: object) -> str | None:
    """Why an ``mcp_approval_response`` for ``request_id`` is refused, or None."""
    request = conversation.get(request_id) if isinstance(request_id, str) else None
    if request is None or request.type != "mcp_approval_request":
        return f"No MCP approval request with id '{request_id}' was found."
    answered = any(
        i.type == "mcp_approval_response" and i.extra.get("approval_request_id") == request_id
        for i in conversation
    )
    return f"The approval request '{request_id}' was already answered." if answered else None


async def answer_approval(ctx: Context, response: Item) -> None:
    """Carry out the client's answer to an approval request (already checked and stored)."""
    request_id = response.extra.get("approval_request_id")
    call = next(
        (
            i
            for i in ctx.conversation
            if i.type == "mcp_call" and i.extra.get("approval_request_id") == request_id
        ),
        None,
    )
    if call is None:
        return
    if response.extra.get("approve") is True:
        await _run_call(ctx, call, call.response_id or "")
        return
    call.extra["error"] = {"type": "approval_denied", "message": "The call was not approved."}
    await ctx.send({"type": "response.mcp_call.failed", "item_id": call.id, "output_index": 0})


class McpCallRun(ResponseRun):
    def __init__(
        self,
        outbox: Outbox,
        conversation: Conversation,
        plan: ReplyPlan,
        call: ToolCall,
        speedup: float,
        on_delta: DeltaHook | None = None,
        jitter: DeltaJitter | None = None,
        on_created: ResponseRun.CreatedHook | None = None,
    ) -> None:
        super().__init__(outbox, conversation, plan, speedup, on_delta, jitter, on_created)
        assert call.server is not None
        self.call = call
        self.server = call.server
        self.item = Item(
            id=self.item.id,
            type="mcp_call",
            role=None,
            extra={
                "server_label": call.server.get("server_label"),
                "name": call.name,
                "arguments": "",
            },
            response_id=self.response_id,
        )

    async def _stream(self) -> None:
        send = self._out.send
        await self._open_item()
        ids = {"response_id": self.response_id, "item_id": self.item.id, "output_index": 0}
        text = self.call.arguments
        sent = ""
        t0 = self._loop_time()
        step_s = WORD_MS / 1000 / self._speedup
        for index, half in enumerate((text[: len(text) // 2], text[len(text) // 2 :])):
            await self._jitter_wait(t0 + index * step_s)
            if self._cancelled.is_set():
                break
            await send({"type": "response.mcp_call_arguments.delta", **ids, "delta": half})
            sent += half
            await self._delta_sent()
            await self._pause_until(t0 + (index + 1) * step_s + self._lag_s)
        self.item.extra["arguments"] = sent
        await send({"type": "response.mcp_call_arguments.done", **ids, "arguments": sent})
        if self.cancel_reason is None and needs_approval(self.server, self.call.name):
            request = Item(
                id=self._out.ids.new("item"),
                type="mcp_approval_request",
                role=None,
                extra={
                    "server_label": self.item.extra["server_label"],
                    "name": self.call.name,
                    "arguments": sent,
                },
            )
            self.item.extra["approval_request_id"] = request.id
            before = self._conversation.append(request)
            await send(
                {
                    "type": "conversation.item.created",
                    "previous_item_id": before,
                    "item": request.wire(),
                }
            )
            done = {"response_id": self.response_id, "output_index": 0, "item": self.item.wire()}
            await send({"type": "response.output_item.done", **done})
        elif self.cancel_reason is None:
            await _run_call(self._out, self.item, self.response_id)
        status = "completed" if self.cancel_reason is None else "cancelled"
        await send(
            {
                "type": "response.done",
                "response": self._response(status, [self.item.wire()], self._usage(sent)),
            }
        )
