"""The Discord stand-in on its own event loop in a background thread, for tests of `heatwave run` (which owns
its event loop via asyncio.run, in-process or in a subprocess)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from tests.discord_standin import StandIn

T = TypeVar("T")


class ThreadedStandIn:
    """Owns a loop thread running one StandIn; `call` runs a function on that loop and returns its result."""

    def __init__(self, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="standin", daemon=True)
        self._options = options
        self.standin: StandIn

    def start(self) -> None:
        self._thread.start()

        async def make() -> StandIn:
            standin = StandIn(**self._options)
            await standin.start()
            return standin

        self.standin = asyncio.run_coroutine_threadsafe(make(), self._loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.standin.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def call(self, func: Callable[[], T]) -> T:
        """Run `func` on the stand-in's loop (its state is not thread-safe) and return what it returns."""

        async def run() -> T:
            return func()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)


@contextmanager
def standin_in_thread(**options: Any) -> Iterator[ThreadedStandIn]:
    """Start a StandIn in a background thread for the duration of the block."""
    threaded = ThreadedStandIn(**options)
    threaded.start()
    try:
        yield threaded
    finally:
        threaded.stop()
