"""Every fault scenario of the simulator, against a raw websockets client on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from tests.simulator_helpers import TIMEOUT, RawClient, raw_client, url, utterance
from voicelive.simulator import Simulator, SimulatorOptions


def _options(fault: str, after: float = 0.1, speedup: float = 20.0) -> SimulatorOptions:
    return SimulatorOptions(fault=fault, fault_after_s=after, speedup=speedup)


async def _frames_until_done(ws: ClientConnection) -> list[str | bytes]:
    """Raw frames up to ``response.done`` (frames that are not JSON are kept as they came)."""
    frames: list[str | bytes] = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame = await ws.recv()
            frames.append(frame)
            if isinstance(frame, str) and '"type": "response.done"' in frame[:60]:
                return frames


async def _start_reply(client: RawClient) -> None:
    await client.append(utterance(speech_s=1.0))


@pytest.mark.parametrize(
    ("fault", "status"),
    [("http-401", 401), ("http-403", 403), ("http-404", 404), ("http-429", 429)],
)
async def test_handshake_faults_refuse_with_status_and_json_body(fault: str, status: int) -> None:
    async with Simulator(_options(fault)) as sim:
        with pytest.raises(InvalidStatus) as info:
            async with connect(url(sim), additional_headers={"api-key": "k"}, open_timeout=TIMEOUT):
                pass
        response = info.value.response
        assert response.status_code == status
        assert response.headers["Content-Type"] == "application/json"
        assert json.loads(response.body)["error"]["code"] == str(status)
        assert (response.headers.get("Retry-After") == "2") is (status == 429)


async def test_slow_session_created_is_delayed() -> None:
    async with Simulator(_options("slow-session-created", after=0.3)) as sim:
        start = time.monotonic()
        async with raw_client(sim) as client:
            assert time.monotonic() - start >= 0.3
            assert client.events[0]["type"] == "session.created"


async def test_expire_closes_with_1001_session_expired_and_announces_it() -> None:
    async with Simulator(_options("expire", after=0.2)) as sim:
        for _ in range(2):  # every connection expires, not only the first
            async with raw_client(sim) as client:
                expires_at = client.events[0]["session"]["expires_at"]
                assert time.time() <= expires_at <= time.time() + 2
                await asyncio.wait_for(client.ws.wait_closed(), TIMEOUT)
                assert (client.ws.close_code, client.ws.close_reason) == (1001, "session_expired")


async def test_close_1011_once() -> None:
    async with Simulator(_options("close-1011")) as sim:
        async with raw_client(sim) as client:
            with pytest.raises(ConnectionClosedError):
                await client.recv()
            assert client.ws.close_code == 1011
        async with raw_client(sim) as client:  # the reconnect finds a healthy service
            await client.send("session.update", session={})
            await client.until("session.updated")


@pytest.mark.parametrize(
    ("fault", "error_type", "code"),
    [
        ("benign-error", "invalid_request_error", "response_cancel_not_active"),
        ("serious-error", "server_error", "server_error"),
    ],
)
async def test_error_faults_send_an_error_and_the_session_goes_on(
    fault: str, error_type: str, code: str
) -> None:
    async with Simulator(_options(fault)) as sim, raw_client(sim) as client:
        error = (await client.until("error"))[-1]["error"]
        assert (error["type"], error["code"]) == (error_type, code)
        await client.send("session.update", session={"instructions": "still here"})
        assert (await client.until("session.updated"))[-1]["session"][
            "instructions"
        ] == "still here"


async def test_drop_mid_reply_aborts_tcp_then_next_connection_is_healthy() -> None:
    async with Simulator(_options("drop-mid-reply")) as sim:
        async with raw_client(sim) as client:
            await _start_reply(client)
            with pytest.raises(ConnectionClosed) as info:
                await client.until("response.done")
            assert info.value.rcvd is None  # no close frame: an abrupt drop
            deltas = [e for e in client.events if e["type"] == "response.audio.delta"]
            assert len(deltas) == 2
        async with raw_client(sim) as client:
            await _start_reply(client)
            done = (await client.until("response.done"))[-1]
            assert done["response"]["status"] == "completed"


async def _reply_frames(fault: str, max_size: int | None = None) -> list[str | bytes]:
    options = _options(fault)
    async with (
        Simulator(options) as sim,
        connect(url(sim), additional_headers={"api-key": "k"}, max_size=max_size) as ws,
    ):
        client = RawClient(ws)
        await client.recv()
        await _start_reply(client)
        return await _frames_until_done(ws)


def _parsed(frames: list[str | bytes]) -> list[dict[str, Any] | None]:
    out: list[dict[str, Any] | None] = []
    for frame in frames:
        try:
            out.append(json.loads(frame) if isinstance(frame, str) else None)
        except ValueError:
            out.append(None)
    return out


def _position_after_second_delta(events: list[dict[str, Any] | None]) -> int:
    deltas = [
        i
        for i, e in enumerate(events)
        if e is not None and e["type"] in ("response.audio.delta", "response.text.delta")
    ]
    return deltas[1] + 1


async def test_malformed_frame_mid_reply() -> None:
    frames = await _reply_frames("malformed-frame")
    events = _parsed(frames)
    bad = [i for i, e in enumerate(events) if e is None]
    assert bad == [_position_after_second_delta(events)]
    assert isinstance(frames[bad[0]], str)
    assert events[-1] is not None and events[-1]["response"]["status"] == "completed"


async def test_binary_frame_mid_reply() -> None:
    frames = await _reply_frames("binary-frame")
    binary = [i for i, f in enumerate(frames) if isinstance(f, bytes)]
    assert binary == [_position_after_second_delta(_parsed(frames))]
    assert json.loads(frames[-1])["response"]["status"] == "completed"


async def test_unknown_event_mid_reply() -> None:
    events = _parsed(await _reply_frames("unknown-event"))
    odd = [
        i for i, e in enumerate(events) if e is not None and e["type"] == "simulator.unknown_event"
    ]
    assert odd == [_position_after_second_delta(events)]
    assert events[odd[0]]["event_id"].startswith("event_")  # type: ignore[index]
    assert events[-1] is not None and events[-1]["response"]["status"] == "completed"


async def test_huge_event_mid_reply() -> None:
    frames = await _reply_frames("huge-event")
    huge = [f for f in frames if len(f) >= 2 * 1024 * 1024]
    assert len(huge) == 1 and len(huge[0]) <= 2 * 1024 * 1024 + 64
    assert json.loads(huge[0])["type"] == "simulator.huge_event"
    assert json.loads(frames[-1])["response"]["status"] == "completed"


async def test_huge_event_breaks_a_client_with_the_default_1_mib_limit() -> None:
    # The client keeps websockets' default max_size of 1 MiB.
    async with (
        Simulator(_options("huge-event")) as sim,
        connect(url(sim), additional_headers={"api-key": "k"}) as ws,
    ):
        client = RawClient(ws)
        await client.recv()
        await _start_reply(client)
        with pytest.raises(ConnectionClosedError) as info:
            await client.until("response.done")
        assert info.value.sent is not None and info.value.sent.code == 1009  # message too big
