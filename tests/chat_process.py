"""Start ``voicelive chat`` as its own process, the way a user's shell would."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path


async def spawn_chat(
    endpoint: str,
    *args: str,
    api_key: str,
    stdin: int = asyncio.subprocess.DEVNULL,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """``python -m voicelive chat --endpoint ENDPOINT ARGS``; the key travels in the environment.

    stdout and stderr are pipes; the environment holds nothing but the key, a PATH and ``env``.
    """
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voicelive",
        "chat",
        "--endpoint",
        endpoint,
        *args,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env={"AZURE_VOICELIVE_API_KEY": api_key, "PATH": "/usr/bin:/bin", **(env or {})},
    )


async def finish(proc: asyncio.subprocess.Process, timeout_s: float) -> tuple[bytes, bytes]:
    """Wait for the process to end and read its output; kill it if it outlives the guard
    (so a failing test leaves no process and no open pipe behind)."""
    try:
        return await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
