"""Small stand-ins for the ingester and the alert service, so the scheduler is tested on its own."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.services.alerts import TickReport
from db import StoreLocation
from db.interfaces import Store


@dataclass(frozen=True)
class FakeRejection:
    path: Path
    reason: str


@dataclass(frozen=True)
class FakeReport:
    scanned: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: tuple[FakeRejection, ...] = ()
    seconds: float = 0.0


@dataclass
class FakeIngest:
    """Records each call (and the thread it ran on); returns the queued reports, then empty ones."""

    reports: list[FakeReport | Exception] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0  # > 0: walk that many "files", calling progress and sleeping per_file each
    per_file: float = 0.0
    finished_threads: list[int] = field(default_factory=list)  # calls that returned or raised, by thread

    def __call__(
        self,
        paths: Sequence[Path],
        location: StoreLocation,
        *,
        clock: Clock,
        max_file_bytes: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> FakeReport:
        self.calls.append(
            {
                "paths": list(paths),
                "location": location,
                "clock": clock,
                "max_file_bytes": max_file_bytes,
                "thread": threading.get_ident(),
            }
        )
        try:
            for done in range(self.files):
                time.sleep(self.per_file)
                if progress is not None:
                    progress(done + 1, self.files)
        finally:
            self.finished_threads.append(threading.get_ident())
        outcome = self.reports.pop(0) if self.reports else FakeReport()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@dataclass
class FakeAlerts:
    """Records recover/tick in order; can fail or be slow on demand."""

    events: list[str] = field(default_factory=list)
    fail_recover: int = 0
    fail_tick: int = 0
    tick_seconds: float = 0.0
    ticked: asyncio.Event = field(default_factory=asyncio.Event)
    reports: list[TickReport] = field(default_factory=list)  # what each successful tick returned, in order

    async def recover(self, poster: object, *, shards: object = None) -> None:
        self.events.append("recover")
        if self.fail_recover:
            self.fail_recover -= 1
            raise RuntimeError("recover failed")

    async def tick(self, poster: object, *, shards: object = None) -> TickReport:
        self.events.append("tick")
        if self.tick_seconds:
            await asyncio.sleep(self.tick_seconds)
        self.ticked.set()
        if self.fail_tick:
            self.fail_tick -= 1
            raise RuntimeError("tick failed")
        report = TickReport(sent=len(self.events))
        self.reports.append(report)
        return report


@dataclass
class FakeServices:
    store_location: StoreLocation
    clock: Clock
    alerts: FakeAlerts
    store: Store | None = None
