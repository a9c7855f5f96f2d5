"""A minimal stand-in for the Azure SDK's internal test tools (``devtools_testutils``).

Written for the Voice Live SDK's live suite (``tests/live`` of the ``azure-ai-voicelive``
source distribution) so it runs against the bundled simulator. It does ONLY what the suite
needs to reach a service: it injects the endpoint and key. There is no test proxy, no
recording, no playback and no sanitising; every test runs "live" (against the simulator).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest


def is_live() -> bool:
    """Always live: there are no recordings to play back."""
    return True


@pytest.fixture(scope="session")
def test_proxy() -> Iterator[None]:
    """No proxy: the suite's connections go straight to the endpoint."""
    yield None


class AzureRecordedTestCase:
    """The suite's test classes derive from this; it needs no behaviour here."""


def recorded_by_proxy(fn: Callable[..., Any]) -> Callable[..., Any]:
    """No recording: the test runs as written."""
    return fn


class EnvironmentVariableLoader:
    """``EnvironmentVariableLoader(prefix, name=default, ...)`` → a decorator injecting ``name``.

    The real loader reads the values from the environment in live mode; the suite's preparer
    already passes ``os.getenv(...)`` results as the defaults, so those are injected as they are.
    """

    def __init__(self, directory: str, **values: str) -> None:
        self._values = values

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        values = self._values
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                return await fn(*args, **{**values, **kwargs})

            return run_async

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **{**values, **kwargs})

        return run
