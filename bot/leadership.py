"""Leadership: one process at a time does a job every process could do, through a lease in the shared store.

Processes running different shards share one store. Rescanning the news folder is the same work in each, so one
process leads it: it holds the "news-scan" lease and renews it every scan; the others ask at every scan and stand
by. Every process also asks four times per interval (the scheduler's lease job): a leader renews its lease even during a
long ingest, and when the leader dies its lease runs out (1.25 intervals after its last renewal) and the next
process to ask takes over and scans at once, so scanning resumes within 1.5 intervals. A leader that stops cleanly
hands the lease back.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.clock import Clock
from db.interfaces import LeaseStore

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)

SCAN_LEASE = "news-scan"
COMMAND_SYNC_LEASE = "command-sync"


def process_name() -> str:
    """Who holds a lease: the machine and process, plus a random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_term(interval_seconds: float) -> timedelta:
    """A lease renewed every `interval_seconds` lasts a quarter interval more, so a late renewal keeps it."""
    return timedelta(seconds=interval_seconds * 1.25)


class Leadership:
    """This process's claim to one lease: `lead` before each run of the job, `step_down` at shutdown."""

    def __init__(self, leases: LeaseStore, name: str, clock: Clock, *, term: timedelta, holder: str) -> None:
        self._leases = leases
        self._name = name
        self._clock = clock
        self._term = term
        self.holder = holder
        self.leading: bool | None = None  # None until first asked

    async def lead(self) -> bool:
        """Take or renew the lease; whether this process does the job now (logs only when that changes)."""
        now = self._clock.now()
        leading = await self._leases.acquire(self._name, self.holder, now=now, ttl=self._term)
        if leading != self.leading:
            if leading:
                log.info("this process now leads %s (lease held by %s)", self._name, self.holder)
            else:
                other = await self._leases.holder(self._name, now=now)
                log.info("%s is led by another process (%s); this one stands by", self._name, other or "?")
        self.leading = leading
        return leading

    async def step_down(self) -> None:
        """Hand the lease back, so another process takes over at its next try instead of after the term."""
        if self.leading:
            await self._leases.release(self._name, self.holder)
            self.leading = False
            log.info("handed %s back", self._name)


def scan_leadership(services: Services, holder: str | None = None) -> Leadership:
    """This process's claim to the news-scan lease, renewed every HEATWAVE_SCAN_SECONDS."""
    return Leadership(
        services.store.leases,
        SCAN_LEASE,
        services.clock,
        term=lease_term(services.settings.scan_seconds),
        holder=holder if holder is not None else process_name(),
    )
