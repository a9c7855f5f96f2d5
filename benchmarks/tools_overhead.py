"""The tools subsystem's own costs, against their floors (issue 16):

    .venv/bin/python benchmarks/tools_overhead.py [--calls 50] [--imports 7]

- importing ``voicelive.tools.manager`` (the ``mcp`` SDK), and the pure tool modules, each in a
  fresh interpreter [``python -c pass``]; without ``--mcp-config`` neither is imported at all;
- starting the example server (examples/mcp) and listing its tools;
- a tool call's overhead: the user's approval (``y``) to the ``function_call_output`` handed to
  the outbound path, through the real ToolDriver and the example stdio server, less the tool's
  own time (``lookup_code`` does no work: a dictionary look-up) [the SDK's bare
  ``call_tool`` round trip on the same server]. Target: median <= 10 ms.

Nothing is asserted; figures are printed with median, spread and sample count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from voicelive.tools.config import load_mcp_config  # noqa: E402
from voicelive.tools.driver import Callbacks, start_tools  # noqa: E402

EXAMPLE = REPO / "examples" / "mcp" / "mcp.json"


def fresh_process_ms(code: str, runs: int) -> list[float]:
    """Wall time of ``python -c code`` in a fresh interpreter (start-up included)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def show(name: str, samples: list[float], unit: str = "ms") -> None:
    print(
        f"{name}: median {statistics.median(samples):.1f} {unit} "
        f"(min {min(samples):.1f}, max {max(samples):.1f}, n={len(samples)})"
    )


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"cli_{self.n}"


def frames(n: int) -> list[dict[str, Any]]:
    rid, call_id = f"r{n}", f"c{n}"
    item = {
        "id": f"i{n}",
        "type": "function_call",
        "call_id": call_id,
        "name": "codes__lookup_code",
    }
    return [
        {"type": "response.created", "response": {"id": rid}},
        {"type": "response.output_item.added", "response_id": rid, "item": item},
        {"type": "response.function_call_arguments.done", "response_id": rid, "item_id": f"i{n}",
         "call_id": call_id, "arguments": '{"word": "lighthouse"}'},
        {"type": "response.done", "response": {"id": rid, "status": "completed"}},
    ]  # fmt: skip


async def calls(n: int) -> None:
    sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    prompts: asyncio.Queue[str | None] = asyncio.Queue()
    config = load_mcp_config(EXAMPLE, os.environ)
    began = time.perf_counter()
    started = await start_tools(config, Callbacks(sent.put_nowait, prompts.put_nowait), Ids())
    print(f"start_tools (SDK import in a thread + server start + list): "
          f"{(time.perf_counter() - began) * 1000:.0f} ms")  # fmt: skip
    driver = started.driver
    overhead, bare = [], []
    try:
        for i in range(n + 1):
            driver.user_turn()
            for frame in frames(i):
                driver.on_frame(frame)
            await asyncio.wait_for(prompts.get(), 10)
            t = time.perf_counter()
            driver.on_line("y")
            output = await asyncio.wait_for(sent.get(), 10)
            if i:  # the first call warms the SDK's caches up
                overhead.append((time.perf_counter() - t) * 1000)
            assert output["item"]["output"] == "LH-42", output
            await asyncio.wait_for(sent.get(), 10)  # the response.create
            await asyncio.wait_for(prompts.get(), 10)  # the prompt cleared
        servers: Any = driver._servers
        for _ in range(n):
            t = time.perf_counter()
            await servers._servers["codes"].session.call_tool("lookup_code", {"word": "anchor"})
            bare.append((time.perf_counter() - t) * 1000)
    finally:
        await driver.aclose()
    show("approval -> function_call_output (ToolDriver + stdio server)", overhead)
    show("floor: bare SDK call_tool round trip", bare)
    print(
        f"overhead beyond the floor: {statistics.median(overhead) - statistics.median(bare):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--imports", type=int, default=7)
    args = parser.parse_args()
    print(f"machine load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    show("floor: python -c pass", fresh_process_ms("pass", args.imports))
    pure = "import voicelive.tools.driver, voicelive.tools.config"
    show("python -c 'import the pure tool modules + driver'", fresh_process_ms(pure, args.imports))
    manager = "import voicelive.tools.manager"
    show(
        "python -c 'import voicelive.tools.manager' (mcp)", fresh_process_ms(manager, args.imports)
    )
    asyncio.run(calls(args.calls))


if __name__ == "__main__":
    main()
