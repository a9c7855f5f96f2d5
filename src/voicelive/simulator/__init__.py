"""A local Voice Live simulator (the server side), for tests and ``voicelive chat --simulate``.

Written from the protocol notes only; it shares no code with the client so client bugs are
not mirrored (it imports nothing from ``voicelive`` outside ``voicelive.simulator``). See
:mod:`voicelive.simulator.faults` for the fault scenarios.

The package is lazy: ``import voicelive.simulator.options`` (what ``voicelive --help`` needs
for the fault list) loads neither websockets nor numpy; ``Simulator`` and ``serve`` load the
server on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .options import FAULTS, SimulatorOptions

if TYPE_CHECKING:
    from .server import Simulator, serve

__all__ = ["FAULTS", "Simulator", "SimulatorOptions", "serve"]

_LAZY = frozenset({"Simulator", "serve"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import server

        value = getattr(server, name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
