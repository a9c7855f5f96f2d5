"""An MCP tool result turned into the one output string the service gets. Pure.

The text blocks are joined with newlines (an embedded text resource counts as text); other
blocks (images, audio, binary resources) become a short ``[image omitted]`` note, since the
output is spoken, not shown. A result with no text but structured content gives that content
as compact JSON. A result marked ``isError`` is the tool's error. Anything longer than the cap
is cut, with a note saying how much was left out, so one tool cannot flood the model's context.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from voicelive.tools.loop_events import ToolOutcome

DEFAULT_MAX_CHARS = 8000


def format_result(
    content: Iterable[Mapping[str, Any]],
    structured: object | None,
    is_error: bool,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> ToolOutcome:
    """The outcome of a finished call (``ok`` or ``error``), its text cut to ``max_chars``."""
    parts = [_block_text(block) for block in content]
    text = "\n".join(p for p in parts if p)
    has_text = any(block.get("type") in ("text", "resource") for block in content)
    if not has_text and structured is not None:
        text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    if is_error and not text:
        text = "the tool reported an error without a message"
    return ToolOutcome("error" if is_error else "ok", cap_text(text, max_chars))


def cap_text(text: str, max_chars: int) -> str:
    """``text``, or its head with ``… [cut: N more characters]`` when it is longer."""
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}… [cut: {len(text) - max_chars} more characters]"


def _block_text(block: Mapping[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "resource":
        resource = block.get("resource")
        if isinstance(resource, Mapping) and isinstance(resource.get("text"), str):
            return str(resource["text"])
        return "[binary resource omitted]"
    if kind == "resource_link":
        return f"[resource {block.get('uri', '')}]"
    return f"[{kind} omitted]"
