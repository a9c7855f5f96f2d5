"""A response that calls a function tool instead of speaking (see :mod:`.tools` for when).

Event flow as the service sends it (protocol notes A2.1): ``response.created`` →
``response.output_item.added`` (a ``function_call`` item with ``name`` and ``call_id``) →
``conversation.item.created`` → ``response.function_call_arguments.delta`` (the arguments in
two halves) → ``response.function_call_arguments.done`` (with ``name``) →
``response.output_item.done`` → ``response.done``. A cancel still sends every ``.done``; the
item is then ``incomplete`` with the arguments sent so far. Runs like :class:`ResponseRun`.
"""

from __future__ import annotations

from .conversation import Conversation, Item
from .responder import WORD_MS, DeltaHook, DeltaJitter, Outbox, ReplyPlan, ResponseRun
from .tools import ToolCall
from .wire import JsonDict


class CallRun(ResponseRun):
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
        self.call = call
        self.item = Item(
            id=self.item.id,
            type="function_call",
            role=None,
            status="in_progress",
            extra={"name": call.name, "call_id": outbox.ids.new("call"), "arguments": ""},
        )

    def _call_ids(self) -> JsonDict:
        return {
            "response_id": self.response_id,
            "item_id": self.item.id,
            "output_index": 0,
            "call_id": self.item.extra["call_id"],
        }

    async def _stream(self) -> None:
        send = self._out.send
        await self._open_item()
        text = self.call.arguments
        halves = [text[: len(text) // 2], text[len(text) // 2 :]]
        sent = ""
        loop_time = self._loop_time()
        step_s = WORD_MS / 1000 / self._speedup
        for index, half in enumerate(halves):
            await self._jitter_wait(loop_time + index * step_s)
            if self._cancelled.is_set():
                break
            await send(
                {
                    "type": "response.function_call_arguments.delta",
                    **self._call_ids(),
                    "delta": half,
                }
            )
            sent += half
            await self._delta_sent()
            await self._pause_until(loop_time + (index + 1) * step_s + self._lag_s)
        self.item.extra["arguments"] = sent
        await send(
            {
                "type": "response.function_call_arguments.done",
                **self._call_ids(),
                "name": self.call.name,
                "arguments": sent,
            }
        )
        await self._close_item(sent)
