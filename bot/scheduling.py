"""The two periodic jobs on one APScheduler `AsyncIOScheduler`: re-scan the news folder, post due alerts.

The jobs are thin: they call the ingester and the alert service. Both the Discord bot and the console playground
run them (with a different Poster). What was delivered lives in the database (the alert ledger), never only here,
so a restart loses nothing: the scheduler is just a metronome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock
from db import StoreLocation

if TYPE_CHECKING:
    from bot.app import Services
    from bot.ingest.pipeline import IngestReport
    from bot.leadership import Leadership
    from bot.services.alerts import Poster, TickReport

log = logging.getLogger(__name__)

RESCAN_JOB_ID = "rescan"
POST_ALERTS_JOB_ID = "post-alerts"

# How long a running alert tick may take to finish its sends at shutdown (SIGTERM gives a service ~10 s).
SHUTDOWN_GRACE_SECONDS = 5.0

JOB_DEFAULTS: dict[str, Any] = {
    # Runs missed while the loop was busy or the machine asleep collapse into one run...
    "coalesce": True,
    # ...and a job never overlaps itself: a slow ingest simply delays the next scan.
    "max_instances": 1,
    # The 1 s default silently drops a run that starts a little late (a busy loop, a long ingest before it);
    # a late rescan or alert tick is always still worth doing, so never skip one for lateness.
    "misfire_grace_time": None,
}


class IngestFunction(Protocol):
    """The shape of `bot.ingest.pipeline.ingest_paths` (injected so tests can watch or slow it down)."""

    def __call__(
        self,
        paths: Sequence[Path],
        location: StoreLocation,
        *,
        clock: Clock,
        max_file_bytes: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport: ...


# A folder of thousands of broken files must not bury the rest of the log.
MAX_REJECTIONS_LOGGED = 20


def log_rejections(rejections: Sequence[tuple[str, str]]) -> None:
    """Log (path, reason) pairs as warnings, at most MAX_REJECTIONS_LOGGED of them plus a count of the rest."""
    for path, reason in rejections[:MAX_REJECTIONS_LOGGED]:
        log.warning("rejected %s: %s", path, reason)
    if len(rejections) > MAX_REJECTIONS_LOGGED:
        log.warning(
            "... and %d more rejected files (`heatwave ingest` lists them all)", len(rejections) - MAX_REJECTIONS_LOGGED
        )


class IngestCancelled(Exception):
    """Raised from the ingest progress callback to stop a long ingest at shutdown."""


def _default_ingest() -> IngestFunction:
    from bot.ingest.pipeline import ingest_paths

    return ingest_paths


class PeriodicJobs:
    """The "rescan" and "post-alerts" jobs on their own scheduler; start once, `shutdown` once."""

    def __init__(
        self,
        services: Services,
        poster: Poster,
        *,
        news_dir: Path,
        scan_seconds: int,
        post_seconds: int,
        max_file_bytes: int,
        ready: Callable[[], bool] = lambda: True,
        ingest: IngestFunction | None = None,
        owns: Callable[[int], bool] | None = None,
        scan_leader: Leadership | None = None,
    ) -> None:
        self._services = services
        self._poster = poster
        self._news_dir = news_dir
        self._scan_seconds = scan_seconds
        self._post_seconds = post_seconds
        self._max_file_bytes = max_file_bytes
        self._ready = ready
        self._ingest = ingest if ingest is not None else _default_ingest()
        # Which servers' alerts this process posts (its shards'); None: every server.
        self._owns = owns
        # With processes sharing a store, only the holder of the scan lease rescans; None: this one always does.
        self._scan_leader = scan_leader
        self._scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self._recovered = False
        self._posting = False
        self._post_again = False
        self._stopping = threading.Event()
        # A direct call (a test, the console) and the scheduled run must not overlap: max_instances only
        # covers runs the scheduler starts itself.
        self._rescan_lock = asyncio.Lock()
        self._post_lock = asyncio.Lock()
        self._running: set[asyncio.Task[Any]] = set()
        self._kicked: set[str] = set()  # jobs asked to run now that have not started yet
        self._last_rejections: frozenset[tuple[str, str]] = frozenset()
        self._missing_dir_logged = False

    @property
    def scheduler(self) -> AsyncIOScheduler:
        """The underlying scheduler (for inspection; jobs are added by `start`)."""
        return self._scheduler

    @property
    def scan_leader_name(self) -> str | None:
        """How this process names itself in leases (None without a scan lease)."""
        return self._scan_leader.holder if self._scan_leader is not None else None

    @property
    def running(self) -> bool:
        """True between `start` and `shutdown`."""
        return bool(self._scheduler.running)

    @property
    def recovered(self) -> bool:
        """True once unfinished deliveries from a previous run have been resolved (before the first tick)."""
        return self._recovered

    @property
    def busy(self) -> bool:
        """True while a job runs or one was asked to run now and has not started yet."""
        return self._kick_pending() or any(not task.done() for task in self._running)

    def _kick_pending(self) -> bool:
        now = datetime.now(UTC)
        for job_id in list(self._kicked):
            job = self._scheduler.get_job(job_id) if self._scheduler.running else None
            # Once the scheduler has fired (or skipped) the kicked run, the job's next run is in the future again.
            if job is None or job.next_run_time is None or job.next_run_time > now:
                self._kicked.discard(job_id)
        return bool(self._kicked)

    async def wait_idle(self) -> None:
        """Wait until no job runs and none is about to (e.g. the tick `on_ready` asks for); for tests and tools."""
        while self.busy:
            running = [task for task in self._running if not task.done()]
            if running:
                await asyncio.wait(running)
            else:
                await asyncio.sleep(0.01)

    def start(self) -> None:
        """Add both jobs and start the scheduler; needs a running event loop."""
        self._scheduler.add_job(
            self.rescan, "interval", seconds=self._scan_seconds, id=RESCAN_JOB_ID, name="re-scan the news folder"
        )
        self._scheduler.add_job(
            self.post_alerts, "interval", seconds=self._post_seconds, id=POST_ALERTS_JOB_ID, name="post due alerts"
        )
        self._scheduler.start()
        log.info(
            "scheduler started: rescan of %s every %d s, alerts every %d s",
            self._news_dir,
            self._scan_seconds,
            self._post_seconds,
        )

    async def shutdown(self, *, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop the jobs: no new runs, a running ingest stops at its next batch, a running tick gets `grace`
        seconds to finish its sends before it is cancelled (its claims are then resolved at the next start)."""
        if self._scheduler.running:
            self._scheduler.pause()
        self._stopping.set()
        running = [task for task in self._running if not task.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        if self._scan_leader is not None:
            with contextlib.suppress(Exception):  # the lease then simply runs out
                await self._scan_leader.step_down()
        if self._scheduler.running:
            # Only now: APScheduler's own shutdown cancels whatever job is still running, without a grace period.
            self._scheduler.shutdown(wait=False)
            # AsyncIOScheduler.shutdown only schedules itself on the loop; let it run before we return.
            await asyncio.sleep(0)

    def run_soon(self, job_id: str) -> None:
        """Make a job run now instead of at its next interval (no-op when the scheduler is not running)."""
        if not self._scheduler.running:
            return
        job = self._scheduler.get_job(job_id)
        if job is not None:
            self._kicked.add(job_id)
            # APScheduler schedules on the wall clock, not on the injected domain clock.
            job.modify(next_run_time=datetime.now(UTC))

    def request_post(self) -> None:
        """Ask for an alert tick soon: now, or right after the tick in progress."""
        if self._posting:
            self._post_again = True
        else:
            self.run_soon(POST_ALERTS_JOB_ID)

    async def rescan(self, *, kick_alerts: bool = True) -> IngestReport | None:
        """Job body: ingest the news folder off the event loop; kick the alert tick when stories changed."""
        self._kicked.discard(RESCAN_JOB_ID)
        if not self._news_dir.is_dir():
            if not self._missing_dir_logged:
                log.warning("news folder %s does not exist; nothing to scan until it does", self._news_dir)
                self._missing_dir_logged = True
            return None
        self._missing_dir_logged = False
        with self._track():
            try:
                if not await self._leads_scan():
                    return None
                async with self._rescan_lock:
                    report = await self._ingest_off_loop()
                # Renewed after a long ingest too, so the lease does not run out between two scans.
                await self._leads_scan()
            except asyncio.CancelledError:
                if not self._stopping.is_set():
                    raise
                log.info("rescan of %s stopped for shutdown", self._news_dir)
                return None
            except IngestCancelled:
                log.info("rescan of %s stopped for shutdown", self._news_dir)
                return None
            except Exception:
                # A job that raises only logs through APScheduler; keep the traceback in our log and keep scanning.
                log.exception("rescan of %s failed; trying again in %d s", self._news_dir, self._scan_seconds)
                return None
        self._log_rescan(report)
        if kick_alerts and (report.added or report.updated):
            self.request_post()
        return report

    async def _leads_scan(self) -> bool:
        if self._scan_leader is None:
            return True
        try:
            return await self._scan_leader.lead()
        except Exception:
            # The store is unreachable: so is ingesting into it. Try again at the next scan.
            log.exception("could not check who scans %s; trying again in %d s", self._news_dir, self._scan_seconds)
            return False

    async def post_alerts(self) -> TickReport | None:
        """Job body: resolve unfinished deliveries once, then post what is due (never before the client is ready)."""
        self._kicked.discard(POST_ALERTS_JOB_ID)
        if not self._ready():
            log.debug("alert tick skipped: not connected yet")
            return None
        with self._track():
            try:
                async with self._post_lock:
                    self._posting = True
                    if not self._recovered:
                        if self._owns is None:
                            await self._services.alerts.recover(self._poster)
                        else:
                            await self._services.alerts.recover(self._poster, owns=self._owns)
                        self._recovered = True
                    report = await self._tick()
                    while self._post_again:
                        self._post_again = False
                        report = await self._tick()
                    log.debug("alert tick done: %d sent", report.sent)
                    return report
            except asyncio.CancelledError:
                if not self._stopping.is_set():
                    raise
                # Our own shutdown, after the grace period: the ledger's claims make this safe to resume later.
                log.warning("alert tick interrupted by shutdown; unfinished deliveries are resolved at the next start")
                return None
            except Exception:
                log.exception("alert tick failed; trying again in %d s", self._post_seconds)
                return None
            finally:
                self._posting = False

    async def _tick(self) -> TickReport:
        if self._owns is None:
            return await self._services.alerts.tick(self._poster)
        return await self._services.alerts.tick(self._poster, owns=self._owns)

    async def _ingest_off_loop(self) -> IngestReport:
        stopping = self._stopping
        abandoned = threading.Event()

        def progress(done: int, total: int) -> None:
            # Called by the ingester between batches, on its worker thread: the only safe place to stop it.
            if stopping.is_set() or abandoned.is_set():
                raise IngestCancelled

        work = asyncio.ensure_future(
            asyncio.to_thread(
                self._ingest,
                [self._news_dir],
                self._services.store_location,
                clock=self._services.clock,
                max_file_bytes=self._max_file_bytes,
                progress=progress,
            )
        )
        try:
            # Shielded: cancelling this job must not orphan the worker thread mid-write; we ask it to stop
            # and wait for it, so the database is never closed under a running ingest.
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            abandoned.set()
            await asyncio.gather(work, return_exceptions=True)
            raise

    @contextmanager
    def _track(self) -> Iterator[None]:
        """Register the current task as a running job so `shutdown` can cancel and await it."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._running.discard(task)

    def _log_rescan(self, report: IngestReport) -> None:
        if report.added or report.updated:
            log.info(
                "rescan: %d new, %d updated, %d unchanged in %.1f s",
                report.added,
                report.updated,
                report.unchanged,
                report.seconds,
            )
        rejections = frozenset((str(r.path), r.reason) for r in report.rejected)
        # The same bad file is rejected on every scan; say so once, not every minute.
        log_rejections(sorted(rejections - self._last_rejections))
        self._last_rejections = rejections
