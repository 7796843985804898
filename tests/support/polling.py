"""The one way tests wait: poll an observable condition until it holds or a deadline passes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL_SECONDS = 0.02


async def until(condition: Callable[[], object], within: float, what: str) -> None:
    """Poll `condition` until it holds; AssertionError naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(POLL_SECONDS)


def until_sync(condition: Callable[[], object], within: float, what: str) -> None:
    """`until` for tests that drive a process or thread from plain (not async) code."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        time.sleep(POLL_SECONDS)
