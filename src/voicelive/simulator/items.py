"""``conversation.item.create/retrieve/delete/truncate`` for one simulated session.

Minimal but protocol-correct: items are validated the way the service's reference describes
them, stored, echoed with ``conversation.item.created``; no response is started by creating an
item (the client sends ``response.create``). Runs in the connection's task.
"""

from __future__ import annotations

from typing import Any

from . import audio
from .context import Context
from .conversation import Item, transcript_prefix
from .mcprun import answer_approval, approval_problem
from .tools import output_problem
from .wire import JsonDict, decode_b64

# Content part types per role on the request side (protocol notes §2.4): assistant history is
# replayed as `text` parts; `output_text` (OpenAI GA naming) is not Voice Live's.
_ROLE_PARTS = {
    "user": ("input_text", "input_audio", "input_image"),
    "system": ("input_text",),
    "assistant": ("text", "audio"),
}
_ITEM_STATUSES = ("completed", "incomplete")
"""What a client may set as a created item's ``status`` (protocol notes §2.4)."""
_EXTRA_FIELDS = {
    "function_call": ("name", "call_id", "arguments"),
    "function_call_output": ("call_id", "output"),
    "mcp_approval_response": ("approval_request_id", "approve"),
}


class ItemError(ValueError):
    def __init__(self, message: str, param: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def _message_item(ctx: Context, raw: dict[str, Any], item_id: str) -> Item:
    role = raw.get("role")
    if role not in _ROLE_PARTS:
        raise ItemError(f"Invalid value for 'item.role': {role!r}.", "item.role")
    content = raw.get("content")
    if not isinstance(content, list) or not content:
        raise ItemError("'item.content' must be a non-empty array.", "item.content")
    status = raw.get("status", "completed")
    if status not in _ITEM_STATUSES:
        raise ItemError(
            f"Invalid value for 'item.status': {status!r}; supported values are: "
            + ", ".join(map(repr, _ITEM_STATUSES)),
            "item.status",
        )
    item = Item(id=item_id, type="message", role=role, status=status)
    for index, part in enumerate(content):
        param = f"item.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _ROLE_PARTS[role]:
            raise ItemError(f"Invalid content type {kind!r} for role {role!r}.", f"{param}.type")
        assert isinstance(part, dict)
        if kind in ("input_text", "text"):
            if not isinstance(part.get("text"), str):
                raise ItemError(
                    f"Missing '{param}.text'.", f"{param}.text", "missing_required_parameter"
                )
            item.wire_content.append({"type": kind, "text": part["text"]})
        elif kind in ("input_audio", "audio"):
            data = decode_b64(part.get("audio"))
            if data is None:
                raise ItemError(f"'{param}.audio' must be base64 audio.", f"{param}.audio")
            fmt = str(ctx.session.get("input_audio_format", "pcm16"))
            rate = int(ctx.session.get("input_audio_sampling_rate", 24000))
            whole = len(data) - len(data) % audio.input_frame_bytes(fmt)
            pcm = audio.decode_input(data[:whole], fmt, rate)
            item.audio += pcm.astype("<i2").tobytes()
            item.wire_content.append({"type": kind, "transcript": part.get("transcript")})
        else:
            item.wire_content.append(
                {k: v for k, v in part.items() if k != "image_url"} | {"type": kind}
            )
    return item


def build_item(ctx: Context, raw: Any) -> Item:
    """Validate a client item and turn it into a stored :class:`Item`. Raises :class:`ItemError`."""
    if not isinstance(raw, dict):
        raise ItemError("'item' must be an object.", "item", "missing_required_parameter")
    kind = raw.get("type")
    item_id = raw.get("id") or ctx.ids.new("item")
    if not isinstance(item_id, str):
        raise ItemError("'item.id' must be a string.", "item.id")
    if ctx.conversation.get(item_id) is not None:
        raise ItemError(
            f"Item with id '{item_id}' already exists.", "item.id", "item_id_already_exists"
        )
    if kind == "message":
        return _message_item(ctx, raw, item_id)
    if kind in _EXTRA_FIELDS:
        missing = [name for name in _EXTRA_FIELDS[kind] if name not in raw]
        if missing:
            raise ItemError(
                f"Missing 'item.{missing[0]}'.", f"item.{missing[0]}", "missing_required_parameter"
            )
        extra = {name: raw[name] for name in _EXTRA_FIELDS[kind]}
        if kind == "function_call_output":
            # The service checks outputs against the calls it made (the exact code it uses is
            # not documented; invalid_value on item.call_id is the simulator's choice).
            problem = output_problem(ctx.conversation, raw["call_id"])
            if problem is not None:
                raise ItemError(problem, "item.call_id")
        if kind == "mcp_approval_response":
            problem = approval_problem(ctx.conversation, raw["approval_request_id"])
            if problem is not None:
                raise ItemError(problem, "item.approval_request_id")
        return Item(id=item_id, type=kind, role=None, extra=extra)
    raise ItemError(f"Invalid value for 'item.type': {kind!r}.", "item.type")


async def create(ctx: Context, event: JsonDict) -> None:
    try:
        item = build_item(ctx, event.get("item"))
        previous = event.get("previous_item_id")
        try:
            prev = ctx.conversation.insert_after(item, previous)
        except KeyError:
            raise ItemError(
                f"Item with id '{previous}' not found.", "previous_item_id", "item_not_found"
            ) from None
    except ItemError as exc:
        await ctx.send_error(exc.message, code=exc.code, param=exc.param, client_event=event)
        return
    await ctx.send(
        {"type": "conversation.item.created", "previous_item_id": prev, "item": item.wire()}
    )
    if item.type == "mcp_approval_response":
        await answer_approval(ctx, item)


async def lookup_item(ctx: Context, event: JsonDict) -> Item | None:
    """The item named by ``event['item_id']``, or None after sending ``item_not_found``."""
    item_id = event.get("item_id")
    item = ctx.conversation.get(item_id) if isinstance(item_id, str) else None
    if item is None:
        await ctx.send_error(
            f"Item with item_id '{item_id}' not found.",
            code="item_not_found",
            param="item_id",
            client_event=event,
        )
    return item


async def retrieve(ctx: Context, event: JsonDict) -> None:
    item = await lookup_item(ctx, event)
    if item is not None:
        await ctx.send(
            {"type": "conversation.item.retrieved", "item": item.wire(include_audio=True)}
        )


async def delete(ctx: Context, event: JsonDict) -> None:
    item = await lookup_item(ctx, event)
    if item is not None:
        ctx.conversation.delete(item.id)
        await ctx.send({"type": "conversation.item.deleted", "item_id": item.id})


def truncate_item(item: Item, audio_end_ms: int) -> None:
    """Cut an assistant item's audio at ``audio_end_ms`` and its transcript proportionally."""
    full = item.audio_ms
    item.cut_audio(audio_end_ms)
    for part in item.wire_content:
        if part.get("type") == "audio" and isinstance(part.get("transcript"), str):
            part["transcript"] = transcript_prefix(part["transcript"], audio_end_ms / max(1, full))
    item.truncated = True


def truncate_problem(item: Item, event: JsonDict) -> ItemError | None:
    """Why a client truncate of ``item`` is refused, or None if it is acceptable."""
    if event.get("content_index", 0) != 0:
        return ItemError("Only content_index 0 can be truncated.", "content_index")
    end = event.get("audio_end_ms")
    if not isinstance(end, int) or isinstance(end, bool) or end < 0:
        return ItemError("'audio_end_ms' must be a non-negative integer.", "audio_end_ms")
    if item.role != "assistant" or not any(p.get("type") == "audio" for p in item.wire_content):
        return ItemError("Only model output audio messages can be truncated.", "item_id")
    if item.truncated:
        return ItemError(
            f"Item '{item.id}' was already truncated.", "item_id", "item_already_truncated"
        )
    if end > item.audio_ms:
        return ItemError(
            f"Audio content of {item.audio_ms}ms is already shorter than {end}ms.", "audio_end_ms"
        )
    return None
