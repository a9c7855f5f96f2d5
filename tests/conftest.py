"""Fixtures shared by the test modules, and the ``slow`` marker.

- ``scripted``: the scripted Voice Live server (:mod:`tests.scripted_server`) on a free
  loopback port, for orchestrator tests that need to say exactly what the service sends.
- ``slow``: tests that take seconds (a real process, the sound card, a real wait). Every test
  under ``tests/e2e`` is slow; others are marked where they are. ``-m "not slow"`` runs the
  quick rungs (the core, the seams, the shells against loopback peers) in well under a minute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.server import serve

from tests.scripted_server import Scripted

E2E = Path(__file__).parent / "e2e"


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    server = Scripted()
    async with serve(server.handler, "127.0.0.1", 0) as ws_server:
        server.port = ws_server.sockets[0].getsockname()[1]
        yield server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.slow)
