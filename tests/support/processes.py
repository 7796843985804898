"""Heatwave as separate processes, for tests that kill, restart or run several of them: `python -m bot ...`."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path


@contextlib.asynccontextmanager
async def heatwave_process(
    args: list[str], env: dict[str, str], cwd: Path, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot ARGS` with `env`, output appended to `log`; stopped with SIGTERM at the end (SIGKILL after
    15 s) unless the test ended it already."""
    with log.open("ab") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, cwd=cwd, env=env, stdout=sink, stderr=sink
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout=15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def alert_ticks_done(log: Path) -> int:
    """Alert ticks finished so far by the processes writing `log` (each logs one line per tick at DEBUG)."""
    return log.read_text(errors="replace").count("alert tick done:")
