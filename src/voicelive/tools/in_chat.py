"""The tools inside a chat: the driver joined to the outbound queue, the view, the transcript
and the statistics. I/O shell, used by :func:`voicelive.chat.run_chat` only with ``--mcp-config``.

- client events go to the one ordered outbound queue (behind what was queued before them);
- a question, or ``running codes.lookup_code · 2.4 s``, goes to the view's status line, the
  running time refreshed four times a second while a tool runs (:func:`refresh_status`);
- a finished call goes to ``--transcript`` (both formats) and ``--stats-json``;
- a server that did not start gets one warning line; the chat goes on without it.

Loop thread only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from voicelive.config.settings import DEFAULT_TOOL_TIMEOUT_S
from voicelive.tools.driver import Callbacks, ToolDriver, ToolSettings, start_tools
from voicelive.tools.loop_events import ToolCallRecord

if TYPE_CHECKING:
    from voicelive.config.settings import ToolsSettings
    from voicelive.protocol.client_events import EventIds
    from voicelive.stats import ChatStats
    from voicelive.terminal.view import View
    from voicelive.transcript_file import TranscriptFile

log = logging.getLogger(__name__)

STATUS_REFRESH_S = 0.25


async def open_tools(
    tools: ToolsSettings,
    ids: EventIds,
    send: Callable[[dict[str, Any]], None],
    view: View,
    stats: ChatStats,
    transcript: Callable[[], TranscriptFile | None],
) -> ToolDriver:
    """Start the servers and return the driver (see :func:`~voicelive.tools.driver.start_tools`).
    ``transcript`` is read at each record (the file is opened after the servers start)."""
    holder: list[ToolDriver] = []

    def on_prompt(text: str | None) -> None:
        if text is not None:
            view.tool_status(text, ask=True)
        else:
            view.tool_status(holder[0].status() if holder else None)

    def on_record(record: ToolCallRecord) -> None:
        stats.tool_calls.append(record.as_json())
        file = transcript()
        if file is not None:
            file.tool(record.transcript_entry(), record.transcript_markdown())

    callbacks = Callbacks(
        send=send,
        on_prompt=on_prompt,
        on_notice=lambda text: view.notice("warning", text),
        on_record=on_record,
    )
    assert tools.mcp is not None, "the resolver fills it whenever tools are configured"
    settings = ToolSettings(
        approve=tools.approve or (),
        call_timeout_s=tools.call_timeout_s or DEFAULT_TOOL_TIMEOUT_S,
    )
    started = await start_tools(tools.mcp, callbacks, ids, settings)
    holder.append(started.driver)
    for failure in started.failures:
        view.notice("warning", failure)
    names = started.driver.tool_names
    services = [t["server_label"] for t in started.driver.session_tools if t["type"] == "mcp"]
    log.info("tools: %d function(s) %s; service-side MCP %s", len(names), names, services)
    if names:
        view.notice("info", f"tools: {', '.join(names)} (each call asks first unless --approve)")
    if services:
        view.notice("info", f"service-side MCP servers: {', '.join(services)}")
    return started.driver


async def refresh_status(driver: ToolDriver, view: View) -> None:
    """Keep the status line's ``running … · N s`` current (the question is shown as it comes)."""
    shown: str | None = None
    while True:
        await asyncio.sleep(STATUS_REFRESH_S)  # a display clock, not a wait for an event
        text = driver.status()
        if text != shown:
            shown = text
            view.tool_status(text, ask=driver.asking)


async def close_tools(task: asyncio.Future[ToolDriver] | None) -> None:
    """On every exit: stop the servers, whether they finished starting or not."""
    if task is None:
        return
    if not task.done():
        task.cancel()  # start_tools stops what it started when cancelled
    try:
        driver = await task
    except (asyncio.CancelledError, Exception):
        return
    await driver.aclose()
