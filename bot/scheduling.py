"""The periodic jobs on one APScheduler `AsyncIOScheduler`: re-scan the news folders, sync each git source, post
due alerts; and the folder watcher that runs the rescan as soon as files land.

The jobs are thin: they call the ingester, the git source sync and the alert service. Any ingest that adds or
changes stories asks for an alert tick at once, so a hot story does not wait for the post interval. Both the
Discord bot and the console playground run them (with a different Poster). What was delivered lives in the
database (the alert ledger), never only here, so a restart loses nothing: the scheduler is just a metronome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.backoff import Backoff
from bot.clock import Clock
from bot.sources import SOURCE_STATUS_KEY, GitSource, SourceStatus
from db import StoreLocation
from db.models import ShardSet

if TYPE_CHECKING:
    from bot.app import Services
    from bot.ingest.git_source import SyncOutcome
    from bot.ingest.pipeline import IngestReport
    from bot.leadership import Leadership
    from bot.services.admin_log import AdminLog
    from bot.services.alerts import Poster, TickReport
    from bot.services.digests import DigestPoster, DigestTickReport

log = logging.getLogger(__name__)
_T = TypeVar("_T")

RESCAN_JOB_ID = "rescan"
SCAN_LEASE_JOB_ID = "scan-lease"
NEWS_CHECK_JOB_ID = "news-check"
# The store's news signal wakes a process within milliseconds of heat changes stored by someone else (another
# process, `heatwave ingest` from cron); this poll is the safety net should the signal ever miss one.
NEWS_CHECK_SECONDS = 2.0
# After the news signal failed unexpectedly, how long before following it again.
NEWS_FOLLOW_RETRY_SECONDS = 1.0
POST_ALERTS_JOB_ID = "post-alerts"
POST_DIGESTS_JOB_ID = "post-digests"
# Digests are due at whole minutes; checking twice a minute sends each within 30 s of its time.
DIGEST_SECONDS = 30

SOURCE_JOB_PREFIX = "source:"

# Folder watching: changes are gathered until none came for WATCH_STEP_MS, at most WATCH_DEBOUNCE_MS, then one
# rescan runs. Every WATCH_RECHECK_MS the watcher also checks whether a watched folder appeared or went away.
WATCH_DEBOUNCE_MS = 500
WATCH_STEP_MS = 50
WATCH_RECHECK_MS = 5_000
# A failing git source is tried again after ~FIRST, 2×FIRST, ... seconds, up to its own fetch interval.
SOURCE_RETRY_FIRST_SECONDS = 5.0

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


def source_job_id(source: GitSource) -> str:
    return SOURCE_JOB_PREFIX + source.key


class JobObserver(Protocol):
    """Told when a job run finishes well (metrics, health); must not block or raise."""

    def scan_finished(self, report: IngestReport | None) -> None:
        """A rescan completed (None: the news folder does not exist, so there was nothing to scan)."""

    def tick_finished(self, report: TickReport) -> None:
        """An alert tick completed."""

    def digests_finished(self, report: DigestTickReport) -> None:
        """A digest tick completed."""


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
        digest_poster: DigestPoster | None = None,
        digest_seconds: int = DIGEST_SECONDS,
        extra_dirs: Sequence[Path] = (),
        git_sources: Sequence[GitSource] = (),
        data_dir: Path = Path("data"),
        watch: bool = False,
        shards: Callable[[], ShardSet] | None = None,
        scan_leader: Leadership | None = None,
        news_check_seconds: float = NEWS_CHECK_SECONDS,
    ) -> None:
        self._services = services
        self._poster = poster
        self._digest_poster = digest_poster
        self._digest_seconds = digest_seconds
        self._digests_recovered = False
        self._digest_lock = asyncio.Lock()
        self._news_dir = news_dir
        # Every folder source: the news folder first, then the [[sources]] folders (each once).
        self._folders = list(dict.fromkeys([news_dir, *extra_dirs]))
        self._git_sources = list({source.key: source for source in git_sources}.values())
        self._data_dir = data_dir
        self._watch = watch
        self._watch_task: asyncio.Task[None] | None = None
        self._watch_stop = asyncio.Event()
        self._watched: tuple[Path, ...] = ()
        self._source_backoff: dict[str, Backoff] = {}
        self._unstarted: set[str] = set()  # first syncs the scheduler has not started yet
        self._scan_seconds = scan_seconds
        self._post_seconds = post_seconds
        self._max_file_bytes = max_file_bytes
        self._ready = ready
        self._ingest = ingest if ingest is not None else _default_ingest()
        # Which servers' alerts this process posts (its shards'); None: every server.
        self._shards = shards
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
        # Whether the rescan holding the lock asks for an alert tick when it has stored something.
        self._rescan_kicks_alerts = True
        self._post_lock = asyncio.Lock()
        self._running: set[asyncio.Task[Any]] = set()
        self._kicked: set[str] = set()  # jobs asked to run now that have not started yet
        self._last_rejections: frozenset[tuple[str, str]] = frozenset()
        self._missing_logged: set[Path] = set()
        self._observers: list[JobObserver] = []
        self._newest_seen: int | None = None  # the newest heat change the news signal or check has seen
        self._news_check_seconds = news_check_seconds
        self._news_task: asyncio.Task[None] | None = None

    def add_observer(self, observer: JobObserver) -> None:
        """Tell `observer` about every rescan and alert tick that finishes from now on."""
        self._observers.append(observer)

    def _tell(self, notify: Callable[[JobObserver], None]) -> None:
        for observer in self._observers:
            try:
                notify(observer)
            except Exception:
                # An observer is bookkeeping: its bug must never stop the jobs.
                log.exception("job observer %r failed", observer)

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
        if self._unstarted and self._scheduler.running and not self._stopping.is_set():
            return True
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

    @property
    def watching(self) -> tuple[Path, ...]:
        """The folders the watcher listens to right now (empty when watching is off or none exists)."""
        return self._watched

    def start(self) -> None:
        """Add the jobs, start the scheduler and the folder watcher; needs a running event loop."""
        self._scheduler.add_job(
            self.rescan, "interval", seconds=self._scan_seconds, id=RESCAN_JOB_ID, name="re-scan the news folders"
        )
        self._scheduler.add_job(
            self.post_alerts, "interval", seconds=self._post_seconds, id=POST_ALERTS_JOB_ID, name="post due alerts"
        )
        if self._digest_poster is not None:
            self._scheduler.add_job(
                self.post_digests,
                "interval",
                seconds=self._digest_seconds,
                id=POST_DIGESTS_JOB_ID,
                name="post due digests",
            )
        self._scheduler.add_job(
            self.check_for_news,
            "interval",
            seconds=self._news_check_seconds,
            id=NEWS_CHECK_JOB_ID,
            name="notice stories stored by other processes",
        )
        if self._scan_leader is not None:
            # Four times per scan interval: a standing-by process takes over within the lease term plus a quarter
            # interval of the leader's death (1.5 intervals), and a leader busy with a long ingest, or a loop
            # stalled for up to a full interval, keeps its lease instead of letting a second process start
            # scanning beside it (renewing only every half interval left a quarter of a second at 1 s scans).
            # A lease taken by the scan before start is renewed at once too: it must not run out while the first
            # interval passes (with 1 s scans the term leaves only a quarter of a second to spare).
            renew_now = {"next_run_time": datetime.now(UTC)} if self._scan_leader.leading else {}
            self._scheduler.add_job(
                self.watch_scan_lease,
                "interval",
                seconds=max(self._scan_seconds / 4, 0.25),
                id=SCAN_LEASE_JOB_ID,
                name="renew or take the news-scan lease",
                **renew_now,
            )
        for source in self._git_sources:
            self._scheduler.add_job(
                self.sync_source,
                "interval",
                args=[source],
                seconds=source.every_seconds,
                id=source_job_id(source),
                name=f"sync {source.name}",
                # The first sync at once: a new source should not wait one interval for its stories.
                next_run_time=datetime.now(UTC),
            )
            # "About to run": `busy` and `wait_idle` cover the first syncs too, until each has started.
            self._unstarted.add(source_job_id(source))
        self._scheduler.start()
        if self._watch:
            self._watch_task = asyncio.create_task(self._watch_folders(), name="heatwave-watch")
        if getattr(self._services, "store", None) is not None:
            self._news_task = asyncio.create_task(self._follow_news(), name="heatwave-news")
        log.info(
            "scheduler started: rescan of %s every %d s%s, alerts every %d s, %d git sources",
            ", ".join(str(folder) for folder in self._folders),
            self._scan_seconds,
            " (and on every change)" if self._watch else "",
            self._post_seconds,
            len(self._git_sources),
        )

    async def shutdown(self, *, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop the jobs: no new runs, a running ingest stops at its next batch, a running tick gets `grace`
        seconds to finish its sends before it is cancelled (its claims are then resolved at the next start)."""
        if self._scheduler.running:
            self._scheduler.pause()
        self._stopping.set()
        self._watch_stop.set()
        if self._watch_task is not None:
            await asyncio.gather(self._watch_task, return_exceptions=True)
            self._watch_task = None
        if self._news_task is not None:
            self._news_task.cancel()
            await asyncio.gather(self._news_task, return_exceptions=True)
            self._news_task = None
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

    def _present_folders(self) -> list[Path]:
        present = []
        for folder in self._folders:
            if folder.is_dir():
                self._missing_logged.discard(folder)
                present.append(folder)
            elif folder not in self._missing_logged:
                log.warning("news folder %s does not exist; nothing to scan there until it does", folder)
                self._missing_logged.add(folder)
        return present

    async def rescan(self, *, kick_alerts: bool = True) -> IngestReport | None:
        """Job body: ingest the news folders off the event loop; kick the alert tick when stories changed."""
        self._kicked.discard(RESCAN_JOB_ID)
        folders = self._present_folders()
        if not folders:
            self._tell(lambda observer: observer.scan_finished(None))
            return None
        with self._track():
            try:
                if not await self._leads_scan():
                    # Standing by is this job doing its work: health and metrics see a scan with nothing read.
                    self._tell(lambda observer: observer.scan_finished(None))
                    return None
                async with self._rescan_lock:
                    self._rescan_kicks_alerts = kick_alerts
                    report = await self._off_loop(
                        lambda progress: self._ingest(
                            folders,
                            self._services.store_location,
                            clock=self._services.clock,
                            max_file_bytes=self._max_file_bytes,
                            progress=progress,
                        )
                    )
                    await self._note_own_news()
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
        self._tell(lambda observer: observer.scan_finished(report))
        if kick_alerts and (report.added or report.updated):
            self.request_post()
        return report

    async def check_for_news(self) -> bool:
        """Job body: ask for an alert tick when the store holds heat changes newer than the last look, whoever
        stored them: the scanning process of a sharded deployment, or `heatwave ingest` run from cron. Without it
        their stories would wait for this process's next scheduled tick. Returns whether it asked."""
        store = getattr(self._services, "store", None)
        # While this process stores news itself, the news signal or the rescan asks for the tick.
        if store is None or not self._ready() or self._rescan_lock.locked():
            return False
        try:
            newest = await store.ledger.newest_heat_event()
        except Exception:
            log.debug("news check failed; the scheduled tick still runs", exc_info=True)
            return False
        seen, self._newest_seen = self._newest_seen, newest
        if seen is None or newest <= seen:
            return False
        log.debug("news check: heat changes up to %d are in the store; asking for an alert tick", newest)
        self.request_post()
        return True

    async def _note_own_news(self) -> None:
        """What this process has just stored needs no wake-up: the rescan that stored it asks for the tick."""
        try:
            self._newest_seen = await self._services.store.ledger.newest_heat_event()
        except Exception:
            log.debug("cannot read the newest heat change after a rescan", exc_info=True)

    async def _follow_news(self) -> None:
        """Ask for an alert tick as soon as the store signals heat changes, whoever committed them: the scanning
        process of a sharded deployment starts its half of a fan-out when the leader does, not a poll later."""
        store = self._services.store
        while not self._stopping.is_set():
            try:
                if self._newest_seen is None:
                    self._newest_seen = await store.ledger.newest_heat_event()
                newest = await store.news.wait_newer(self._newest_seen)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning(
                    "news signal failed; following it again in %.0f s (the news check goes on meanwhile)",
                    NEWS_FOLLOW_RETRY_SECONDS,
                    exc_info=True,
                )
                await asyncio.sleep(NEWS_FOLLOW_RETRY_SECONDS)
                continue
            if self._rescan_lock.locked() and not self._rescan_kicks_alerts:
                # The news is (partly) this process's own rescan, whose caller decides when the tick happens (the
                # e2e harness does): wait for it to note what it stored. A rescan that asks for a tick itself gets
                # it now, at the commit, not after the rest of its ingest.
                async with self._rescan_lock:
                    pass
            # The news check may have seen it first (and asked already).
            if newest > (self._newest_seen or 0):
                self._newest_seen = newest
                if self._ready():
                    log.debug("news signal: heat changes up to %d are in the store; asking for an alert tick", newest)
                    self.request_post()

    async def watch_scan_lease(self) -> bool:
        """Job body: renew the news-scan lease while leading, or take it once it has run out; a process that has
        just taken it scans at once. Returns whether this process leads."""
        was_leading = self._scan_leader is not None and self._scan_leader.leading
        leading = await self._leads_scan()
        if leading and not was_leading:
            self.run_soon(RESCAN_JOB_ID)
        return leading

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
                        if self._shards is None:
                            await self._services.alerts.recover(self._poster)
                        else:
                            await self._services.alerts.recover(self._poster, shards=self._shards())
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

    async def post_digests(self) -> DigestTickReport | None:
        """Job body: resolve unfinished digests once, then send the digests that are due (once connected)."""
        self._kicked.discard(POST_DIGESTS_JOB_ID)
        if self._digest_poster is None or not self._ready():
            return None
        with self._track():
            try:
                async with self._digest_lock:
                    if not self._digests_recovered:
                        if self._shards is None:
                            await self._services.digests.recover(self._digest_poster)
                        else:
                            await self._services.digests.recover(self._digest_poster, shards=self._shards())
                        self._digests_recovered = True
                    if self._shards is None:
                        report = await self._services.digests.tick(self._digest_poster)
                    else:
                        report = await self._services.digests.tick(self._digest_poster, shards=self._shards())
                self._tell(lambda observer: observer.digests_finished(report))
                return report
            except asyncio.CancelledError:
                if not self._stopping.is_set():
                    raise
                log.warning("digest tick interrupted by shutdown; unfinished digests are resolved at the next start")
                return None
            except Exception:
                log.exception("digest tick failed; trying again in %d s", self._digest_seconds)
                return None

    async def sync_source(self, source: GitSource) -> SyncOutcome | None:
        """Job body: fetch one git source and ingest what it brought; a failure is recorded, retried with backoff,
        and leaves the stories already stored (and every other source) alone."""
        from bot.ingest.git_source import GitSourceError, SyncStopped, checkout_folder, sync_git_source

        job_id = source_job_id(source)
        self._kicked.discard(job_id)
        self._unstarted.discard(job_id)
        checkout = checkout_folder(self._data_dir, source)
        status = SourceStatus(name=source.name)
        with self._track():
            try:
                # Like the folders, a git source is fetched by the process that leads the news scan only.
                if not await self._leads_scan():
                    return None
                async with self._rescan_lock:
                    self._rescan_kicks_alerts = True
                    # Read under the lock: a direct call and the scheduled run of one source never interleave.
                    status = await self._source_status(source)
                    outcome = await self._off_loop(
                        lambda progress: sync_git_source(
                            source,
                            checkout,
                            self._services.store_location,
                            last_commit=status.commit,
                            clock=self._services.clock,
                            max_file_bytes=self._max_file_bytes,
                            ingest=self._ingest,
                            stopping=self._stopping,
                            progress=progress,
                        )
                    )
                    await self._note_own_news()
            except asyncio.CancelledError:
                if not self._stopping.is_set():
                    raise
                return None
            except (IngestCancelled, SyncStopped):
                log.info("sync of %s stopped for shutdown", source.name)
                return None
            except Exception as exc:
                reason = str(exc) if isinstance(exc, GitSourceError) else f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, GitSourceError):
                    log.exception("sync of %s failed", source.name)
                backoff = self._source_backoff.setdefault(
                    source.key,
                    Backoff(first=min(SOURCE_RETRY_FIRST_SECONDS, source.every_seconds), cap=source.every_seconds),
                )
                delay = backoff.next_delay()
                failed = SourceStatus(
                    name=source.name,
                    last_sync_at=status.last_sync_at,
                    commit=status.commit,
                    stories=status.stories,
                    last_error=reason,
                    last_error_at=self._services.clock.now(),
                    failures=status.failures + 1,
                )
                log.warning(
                    "git source %s failed (%d in a row): %s; next try in %.0f s",
                    source.name,
                    failed.failures,
                    reason,
                    delay,
                )
                await self._save_source_status(source, failed)
                await self._tell_admin_log(lambda admin_log: admin_log.source_failing(
                    source.key, source.name, reason, failed.failures
                ))
                self._retry_in(job_id, delay)
                return None
        self._source_backoff.pop(source.key, None)
        if status.failures:
            await self._tell_admin_log(lambda admin_log: admin_log.source_synced(source.key, source.name))
        if outcome.previous != outcome.commit or status.failures:
            log.info(
                "git source %s: at %s, %d stories (%d history versions)%s",
                source.name,
                outcome.commit[:12],
                outcome.stories,
                outcome.history_versions,
                ", branch rewritten" if outcome.rewritten else "",
            )
        self._log_rescan(outcome.report)
        await self._save_source_status(
            source,
            SourceStatus(
                name=source.name,
                last_sync_at=self._services.clock.now(),
                commit=outcome.commit,
                stories=outcome.stories,
            ),
        )
        if outcome.changed:
            self.request_post()
        return outcome

    async def _tell_admin_log(self, tell: Callable[[AdminLog], Awaitable[None]]) -> None:
        """Tell the servers' admin log channels about a source (a courtesy: its failure never stops a sync)."""
        admin_log = getattr(self._services, "admin_log", None)
        if admin_log is None:
            return
        try:
            await tell(admin_log)
        except Exception:
            log.warning("could not tell the admin logs about a source", exc_info=True)

    async def _source_status(self, source: GitSource) -> SourceStatus:
        store = getattr(self._services, "store", None)
        if store is None:
            return SourceStatus(name=source.name)
        try:
            stored = await store.app_state.get(SOURCE_STATUS_KEY.format(key=source.key))
        except Exception:
            log.exception("cannot read the status of %s", source.name)
            stored = None
        return SourceStatus.from_json(stored, source.name)

    async def _save_source_status(self, source: GitSource, status: SourceStatus) -> None:
        store = getattr(self._services, "store", None)
        if store is None:
            return
        try:
            await store.app_state.set(SOURCE_STATUS_KEY.format(key=source.key), status.to_json())
        except Exception:
            log.exception("cannot record the status of %s", source.name)

    def _retry_in(self, job_id: str, seconds: float) -> None:
        if not self._scheduler.running:
            return
        job = self._scheduler.get_job(job_id)
        if job is not None:
            # The interval goes on from the retry: a source that came back is synced every `every` again.
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=seconds))

    async def _watch_folders(self) -> None:
        """Run a rescan whenever files change in a watched folder; re-check which folders exist now and then."""
        from watchfiles import awatch

        while not self._watch_stop.is_set():
            folders = tuple(folder for folder in self._folders if folder.is_dir())
            self._watched = folders
            if not folders:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._watch_stop.wait(), WATCH_RECHECK_MS / 1000)
                continue
            try:
                async for changes in awatch(
                    *folders,
                    debounce=WATCH_DEBOUNCE_MS,
                    step=WATCH_STEP_MS,
                    stop_event=self._watch_stop,
                    rust_timeout=WATCH_RECHECK_MS,
                    yield_on_timeout=True,
                ):
                    if changes:
                        log.debug("watch: %d changes; rescanning", len(changes))
                        await self.rescan()
                    if tuple(folder for folder in self._folders if folder.is_dir()) != folders:
                        break  # a folder appeared or went away: watch the new set
            except Exception:
                # A watcher that cannot run (no inotify left, a folder removed under it): the periodic rescan
                # still covers every folder; try again a little later.
                log.warning("cannot watch %s; the periodic rescan goes on", ", ".join(map(str, folders)), exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._watch_stop.wait(), WATCH_RECHECK_MS / 1000)
        self._watched = ()

    async def _tick(self) -> TickReport:
        if self._shards is None:
            report = await self._services.alerts.tick(self._poster)
        else:
            report = await self._services.alerts.tick(self._poster, shards=self._shards())
        self._tell(lambda observer: observer.tick_finished(report))
        return report

    async def _off_loop(self, work_fn: Callable[[Callable[[int, int], None]], _T]) -> _T:
        stopping = self._stopping
        abandoned = threading.Event()

        def progress(done: int, total: int) -> None:
            # Called by the ingester between batches, on its worker thread: the only safe place to stop it.
            if stopping.is_set() or abandoned.is_set():
                raise IngestCancelled

        work = asyncio.ensure_future(asyncio.to_thread(work_fn, progress))
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
