"""One connection's start: ``session.created`` → ``session.update`` → ``session.updated``, replay.

Used for the first connection and for every reconnect and rollover alike. Errors leave as the
:mod:`voicelive.errors` family with a sentence for the user.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from voicelive.config.settings import ReplaySettings, Settings
from voicelive.connection.client import VoiceLiveConnection
from voicelive.errors import ConnectError, ProtocolError, ServerError
from voicelive.protocol import client_events as ce
from voicelive.protocol import server_events as ev
from voicelive.protocol.history import History
from voicelive.protocol.session_payload import build_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionInfo:
    """What ``session.created`` said that the client uses."""

    id: str | None
    expires_at: float | None
    """Unix time the service ends the session (2026-07-15 and later), else None."""
    silence_ms: int = 0
    """The VAD's ``silence_duration_ms`` as the service confirmed it (0 when it has none):
    ``speech_stopped.audio_end_ms`` lies this far after the end of the speech."""


async def set_up(
    conn: VoiceLiveConnection,
    settings: Settings,
    ids: ce.EventIds,
    timeout_s: float,
    tools: list[dict[str, Any]] | None = None,
) -> SessionInfo:
    """Run the set-up handshake within ``timeout_s`` in all (not per event).

    ``tools``: the ``session.tools`` list (MCP tools as functions, service-side MCP servers),
    declared with ``tool_choice`` ``auto``; it is never logged (it may carry credentials).

    Raises ConnectError on the deadline, ServerError when the service rejects the settings,
    ProtocolError on frames that are not the protocol, ConnectionLost if the socket breaks.
    Cancel-safe: cancelling leaves the connection for the caller to close.
    """
    try:
        async with asyncio.timeout(timeout_s):
            created = await _next_of(conn, "session.created")
            session = created.get("session") or {}
            log.info(
                "session created: id=%s model=%s expires_at=%s",
                session.get("id"),
                session.get("model"),
                session.get("expires_at"),
            )
            payload = build_session(settings.session, settings.connection.api_version)
            if tools:
                payload["tools"] = tools
                payload["tool_choice"] = "auto"
            await conn.send(ce.session_update(ids, payload))
            updated = await _next_of(conn, "session.updated")
    except TimeoutError:
        raise ConnectError(
            f"The service accepted the connection but did not start a session within "
            f"{timeout_s:g} s; try again.",
            retryable=True,
        ) from None
    log.info("session updated")
    expires_at = session.get("expires_at")
    sid = session.get("id")
    td = (updated.get("session") or {}).get("turn_detection") or {}
    silence = td.get("silence_duration_ms") if isinstance(td, dict) else None
    return SessionInfo(
        silence_ms=silence if isinstance(silence, int) and not isinstance(silence, bool) else 0,
        id=sid if isinstance(sid, str) else None,
        expires_at=(
            float(expires_at)
            if isinstance(expires_at, int | float) and not isinstance(expires_at, bool)
            else None
        ),
    )


async def _next_of(conn: VoiceLiveConnection, wanted: str) -> dict[str, Any]:
    while True:
        raw = await conn.recv()
        try:
            event = ev.decode_frame(raw)
        except ev.MalformedEvent as exc:
            raise ProtocolError(
                f"The service sent something that is not a Voice Live event ({exc}); "
                "check that --endpoint is a Voice Live resource."
            ) from None
        log.debug("recv %s", ev.describe(event))
        if event["type"] == wanted:
            return event
        _raise_setup_error(event)


def _raise_setup_error(event: dict[str, Any]) -> None:
    if event["type"] != "error":
        log.debug("ignored during session setup: %s", event["type"])
        return
    try:
        parsed = ev.parse_event(event)
    except ev.MalformedEvent as exc:
        raise ProtocolError(
            f"The service answered the session set-up with a malformed error ({exc})."
        ) from None
    assert isinstance(parsed, ev.ServerErrorEvent)
    param = f" (parameter: {parsed.param})" if parsed.param else ""
    raise ServerError(
        f"The service rejected the session settings: {parsed.message}{param}; "
        "check the matching flag or variable."
    )


def replay_events(
    history: History, bounds: ReplaySettings, ids: ce.EventIds
) -> list[dict[str, Any]]:
    """The ``conversation.item.create`` events that tell a new session the conversation so far.

    User turns go as ``input_text``, assistant turns as ``text`` cut to what was heard. Logs
    what was left out (turns without a transcript, turns beyond the bounds).
    """
    if bounds.turns <= 0:
        return []
    replay = history.replay(bounds.turns, bounds.chars)
    if replay.without_text:
        log.info("replay: %d turn(s) skipped (no transcript)", replay.without_text)
    if replay.beyond_bounds:
        log.info(
            "replay: %d older turn(s) left out (--replay-turns %d, --replay-chars %d)",
            replay.beyond_bounds,
            bounds.turns,
            bounds.chars,
        )
    return [ce.item_create_text(ids, text, role) for role, text in replay.turns]
