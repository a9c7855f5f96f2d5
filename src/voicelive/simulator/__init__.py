"""A local Voice Live simulator (the server side), for tests and ``voicelive chat --simulate``.

Written from the protocol notes only; it shares no code with the client so client bugs are
not mirrored. See ``README.md`` in this folder for what it does and what it approximates.
"""

from .options import FAULTS, SimulatorOptions
from .server import Simulator, serve

__all__ = ["FAULTS", "Simulator", "SimulatorOptions", "serve"]
