"""bot.scheduling: the rescan and post-alerts jobs, their wiring, and that they never kill the scheduler."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.scheduling import POST_ALERTS_JOB_ID, RESCAN_JOB_ID, PeriodicJobs
from db import StoreLocation, parse_location
from db.interfaces import Store
from tests.support.alerts import StoryWriter
from tests.support.fakes import FakeAlerts, FakeIngest, FakeRejection, FakeReport, FakeServices
from tests.support.polling import until


@pytest.fixture
def news_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "news"
    folder.mkdir()
    return folder


@pytest.fixture
def alerts() -> FakeAlerts:
    return FakeAlerts()


@pytest.fixture
def ingest() -> FakeIngest:
    return FakeIngest()


@pytest.fixture
async def make_jobs(
    tmp_path: Path, news_dir: Path, clock: ManualClock, alerts: FakeAlerts, ingest: FakeIngest
) -> AsyncIterator[Callable[..., PeriodicJobs]]:
    made: list[PeriodicJobs] = []

    def make(**overrides: Any) -> PeriodicJobs:
        options: dict[str, Any] = {
            "news_dir": news_dir,
            "scan_seconds": 3600,
            "post_seconds": 3600,
            "max_file_bytes": 4096,
            "ingest": ingest,
        }
        options.update(overrides)
        services = FakeServices(store_location=parse_location(tmp_path / "h.db"), clock=clock, alerts=alerts)
        jobs = PeriodicJobs(services, object(), **options)  # type: ignore[arg-type]
        made.append(jobs)
        return jobs

    yield make
    for jobs in made:
        await jobs.shutdown()


async def test_jobs_start_registers_both_jobs_with_their_intervals_and_safe_defaults(
    make_jobs: Callable[..., PeriodicJobs],
) -> None:
    jobs = make_jobs(scan_seconds=7, post_seconds=11)

    jobs.start()

    rescan = jobs.scheduler.get_job(RESCAN_JOB_ID)
    post = jobs.scheduler.get_job(POST_ALERTS_JOB_ID)
    assert rescan.trigger.interval == timedelta(seconds=7)
    assert post.trigger.interval == timedelta(seconds=11)
    for job in (rescan, post):
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time is None
    assert str(jobs.scheduler.timezone) == "UTC"


async def test_rescan_ingests_the_news_folder_off_the_event_loop_with_the_injected_clock(
    make_jobs: Callable[..., PeriodicJobs], ingest: FakeIngest, news_dir: Path, clock: ManualClock, tmp_path: Path
) -> None:
    jobs = make_jobs()

    await jobs.rescan()

    (call,) = ingest.calls
    assert call["paths"] == [news_dir]
    assert call["location"] == parse_location(tmp_path / "h.db")
    assert call["clock"] is clock
    assert call["max_file_bytes"] == 4096
    assert call["thread"] != threading.get_ident()


async def test_rescan_with_new_stories_runs_the_alert_tick_right_away(
    make_jobs: Callable[..., PeriodicJobs], ingest: FakeIngest, alerts: FakeAlerts
) -> None:
    ingest.reports.append(FakeReport(scanned=1, added=1))
    jobs = make_jobs()
    jobs.start()

    await jobs.rescan()

    await asyncio.wait_for(alerts.ticked.wait(), timeout=3)
    assert alerts.events == ["recover", "tick"]


async def test_rescan_without_changes_leaves_the_alert_tick_on_its_interval(
    make_jobs: Callable[..., PeriodicJobs], ingest: FakeIngest, alerts: FakeAlerts
) -> None:
    ingest.reports.append(FakeReport(scanned=3, unchanged=3))
    jobs = make_jobs()
    jobs.start()

    post_at = jobs.scheduler.get_job(POST_ALERTS_JOB_ID).next_run_time

    await jobs.rescan()

    assert not jobs.busy  # no tick is running or asked for
    assert jobs.scheduler.get_job(POST_ALERTS_JOB_ID).next_run_time == post_at
    assert alerts.events == []


async def test_rescan_failure_is_logged_and_the_next_scan_still_runs(
    make_jobs: Callable[..., PeriodicJobs], ingest: FakeIngest, caplog: pytest.LogCaptureFixture
) -> None:
    ingest.reports.extend([OSError("disk on fire"), FakeReport(scanned=1, updated=1)])
    jobs = make_jobs()

    first = await jobs.rescan()
    second = await jobs.rescan()

    assert first is None
    assert second is not None
    assert second.updated == 1
    assert "rescan of" in caplog.text
    assert "disk on fire" in caplog.text


async def test_rescan_of_a_missing_folder_warns_once_and_skips_the_ingest(
    make_jobs: Callable[..., PeriodicJobs], ingest: FakeIngest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = make_jobs(news_dir=tmp_path / "nowhere")

    await jobs.rescan()
    await jobs.rescan()

    assert ingest.calls == []
    assert caplog.text.count("does not exist") == 1


async def test_rescan_reports_each_rejected_file_once_not_on_every_scan(
    make_jobs: Callable[..., PeriodicJobs], ingest: FakeIngest, caplog: pytest.LogCaptureFixture
) -> None:
    bad = (FakeRejection(Path("news/bad.md"), "front matter: missing title"),)
    ingest.reports.extend([FakeReport(scanned=1, rejected=bad), FakeReport(scanned=1, rejected=bad)])
    jobs = make_jobs()

    with caplog.at_level(logging.WARNING):
        await jobs.rescan()
        await jobs.rescan()

    assert caplog.text.count("missing title") == 1


async def test_post_alerts_recovers_once_before_the_first_tick(
    make_jobs: Callable[..., PeriodicJobs], alerts: FakeAlerts
) -> None:
    jobs = make_jobs()

    await jobs.post_alerts()
    await jobs.post_alerts()

    assert alerts.events == ["recover", "tick", "tick"]


async def test_post_alerts_does_nothing_until_the_client_is_ready(
    make_jobs: Callable[..., PeriodicJobs], alerts: FakeAlerts
) -> None:
    ready = False
    jobs = make_jobs(ready=lambda: ready)

    skipped = await jobs.post_alerts()
    ready = True
    posted: object = await jobs.post_alerts()

    assert skipped is None
    assert posted is alerts.reports[-1]
    assert alerts.events == ["recover", "tick"]


async def test_post_alerts_failed_recovery_is_retried_and_no_tick_runs_before_it_succeeds(
    make_jobs: Callable[..., PeriodicJobs], alerts: FakeAlerts, caplog: pytest.LogCaptureFixture
) -> None:
    alerts.fail_recover = 1
    jobs = make_jobs()

    await jobs.post_alerts()
    await jobs.post_alerts()

    assert alerts.events == ["recover", "recover", "tick"]
    assert "alert tick failed" in caplog.text


async def test_post_alerts_failed_tick_is_logged_and_the_next_tick_still_runs(
    make_jobs: Callable[..., PeriodicJobs], alerts: FakeAlerts, caplog: pytest.LogCaptureFixture
) -> None:
    alerts.fail_tick = 1
    jobs = make_jobs()

    failed = await jobs.post_alerts()
    recovered: object = await jobs.post_alerts()

    assert failed is None
    assert recovered is alerts.reports[-1]
    assert "tick failed" in caplog.text


async def test_request_post_during_a_tick_runs_one_more_tick_after_it(
    make_jobs: Callable[..., PeriodicJobs], alerts: FakeAlerts
) -> None:
    alerts.tick_seconds = 0.2
    jobs = make_jobs()
    jobs.start()

    running = asyncio.create_task(jobs.post_alerts())
    await until(lambda: "tick" in alerts.events, 3, "an alert tick")
    jobs.request_post()
    await running

    assert alerts.events == ["recover", "tick", "tick"]


async def test_scheduler_runs_the_rescan_job_on_its_interval(
    make_jobs: Callable[..., PeriodicJobs], ingest: FakeIngest
) -> None:
    jobs = make_jobs(scan_seconds=1)
    jobs.start()

    await until(lambda: len(ingest.calls) >= 1, 3, "a rescan")


async def test_shutdown_stops_a_long_ingest_at_its_next_file_and_waits_for_it(
    make_jobs: Callable[..., PeriodicJobs], ingest: FakeIngest
) -> None:
    ingest.files, ingest.per_file = 10_000, 0.001
    jobs = make_jobs(scan_seconds=1)
    jobs.start()
    await until(lambda: len(ingest.calls) == 1, 3, "one rescan")

    started = time.monotonic()
    await jobs.shutdown()

    assert time.monotonic() - started < 2
    assert not jobs.running
    assert ingest.finished_threads == [ingest.calls[0]["thread"]]


async def test_shutdown_lets_a_running_alert_tick_finish_its_sends(
    make_jobs: Callable[..., PeriodicJobs], alerts: FakeAlerts
) -> None:
    alerts.tick_seconds = 0.3
    jobs = make_jobs()
    jobs.start()
    tick = asyncio.create_task(jobs.post_alerts())
    await until(lambda: "tick" in alerts.events, 3, "an alert tick")

    await jobs.shutdown(grace=5)

    result: object = tick.result()
    assert result is alerts.reports[-1]
    assert alerts.ticked.is_set()


async def test_shutdown_cancels_a_tick_that_outlives_the_grace_period_without_raising(
    make_jobs: Callable[..., PeriodicJobs], alerts: FakeAlerts, caplog: pytest.LogCaptureFixture
) -> None:
    alerts.tick_seconds = 30
    jobs = make_jobs()
    jobs.start()
    tick = asyncio.create_task(jobs.post_alerts())
    await until(lambda: "tick" in alerts.events, 3, "an alert tick")

    await jobs.shutdown(grace=0.1)

    assert tick.result() is None
    assert "interrupted by shutdown" in caplog.text


async def test_post_alerts_called_twice_at_once_never_runs_two_ticks_together(
    make_jobs: Callable[..., PeriodicJobs], alerts: FakeAlerts
) -> None:
    alerts.tick_seconds = 0.1
    jobs = make_jobs()
    active = 0
    most = 0
    tick = alerts.tick

    async def counting_tick(poster: object) -> str:
        nonlocal active, most
        active += 1
        most = max(most, active)
        try:
            return await tick(poster)
        finally:
            active -= 1

    alerts.tick = counting_tick  # type: ignore[method-assign]

    await asyncio.gather(jobs.post_alerts(), jobs.post_alerts())

    assert most == 1
    assert alerts.events == ["recover", "tick", "tick"]


async def test_wait_idle_waits_for_a_tick_that_was_asked_for_but_has_not_started(
    make_jobs: Callable[..., PeriodicJobs], alerts: FakeAlerts
) -> None:
    alerts.tick_seconds = 0.1
    jobs = make_jobs()
    jobs.start()

    jobs.run_soon(POST_ALERTS_JOB_ID)
    await jobs.wait_idle()

    assert alerts.events == ["recover", "tick"]
    assert jobs.recovered
    assert not jobs.busy


async def test_rescan_without_kick_leaves_alert_ticks_to_the_caller(
    make_jobs: Callable[..., PeriodicJobs], ingest: FakeIngest, alerts: FakeAlerts
) -> None:
    ingest.reports.append(FakeReport(scanned=1, added=1))
    jobs = make_jobs()
    jobs.start()

    await jobs.rescan(kick_alerts=False)
    await jobs.wait_idle()

    assert alerts.events == []


async def test_rescan_logs_at_most_20_rejections_and_counts_the_rest(
    make_jobs: Callable[..., PeriodicJobs], ingest: FakeIngest, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tuple(FakeRejection(Path(f"news/bad-{n:03d}.md"), "missing title") for n in range(50))
    ingest.reports.append(FakeReport(scanned=50, rejected=bad))
    jobs = make_jobs()

    with caplog.at_level(logging.WARNING):
        await jobs.rescan()

    assert caplog.text.count("missing title") == 20
    assert "and 30 more rejected files" in caplog.text


async def test_stories_stored_by_another_process_get_an_alert_tick_within_seconds(
    tmp_path: Path, location: StoreLocation, store: Store, clock: ManualClock, writer: StoryWriter
) -> None:
    # This process neither scans (another process leads, or cron runs `heatwave ingest`) nor ticks for an hour.
    alerts = FakeAlerts()
    services = FakeServices(store_location=location, clock=clock, alerts=alerts, store=store)
    jobs = PeriodicJobs(
        services,  # type: ignore[arg-type]
        object(),  # type: ignore[arg-type]
        news_dir=tmp_path / "news",
        scan_seconds=3600,
        post_seconds=3600,
        max_file_bytes=4096,
        ingest=FakeIngest(),
    )
    jobs.start()
    try:
        assert not await jobs.check_for_news()  # the first look only notes where the store stands
        assert not await jobs.check_for_news()
        writer.add(150)  # stored by someone else, through the real ingest path
        await until(lambda: len(alerts.reports) == 1, 10, "an alert tick after the news check")
        assert not await jobs.check_for_news()  # nothing newer since
    finally:
        await jobs.shutdown()


async def test_stories_stored_by_another_process_start_an_alert_tick_without_waiting_for_any_poll(
    tmp_path: Path, location: StoreLocation, store: Store, clock: ManualClock, writer: StoryWriter
) -> None:
    # The news check and the scheduled tick are an hour away: only the store's news signal can start this tick.
    alerts = FakeAlerts()
    services = FakeServices(store_location=location, clock=clock, alerts=alerts, store=store)
    jobs = PeriodicJobs(
        services,  # type: ignore[arg-type]
        object(),  # type: ignore[arg-type]
        news_dir=tmp_path / "news",
        scan_seconds=3600,
        post_seconds=3600,
        max_file_bytes=4096,
        ingest=FakeIngest(),
        news_check_seconds=3600,
    )
    jobs.start()
    try:
        await asyncio.sleep(0.3)  # the signal is following the store
        assert alerts.reports == []
        writer.add(150)  # stored by someone else, through the real ingest path
        committed = time.monotonic()
        await until(lambda: len(alerts.reports) == 1, 10, "an alert tick after the news signal")
        # Generous for a shared machine; the 0.5 s poll this replaces plus its tick would not make it.
        assert time.monotonic() - committed < 0.4
    finally:
        await jobs.shutdown()


async def test_news_this_process_stores_itself_starts_a_tick_unless_the_caller_says_not_to(
    tmp_path: Path, location: StoreLocation, store: Store, clock: ManualClock, news_dir: Path
) -> None:
    def ingest_one_hot_story(
        paths: Any, at: StoreLocation, *, clock: ManualClock, max_file_bytes: int, progress: Any = None
    ) -> FakeReport:
        writer = StoryWriter(at, clock)  # on the ingest thread, as the real ingester opens its own connection
        try:
            writer.add(150)
        finally:
            writer.close()
        return FakeReport(scanned=1, added=1)

    alerts = FakeAlerts()
    services = FakeServices(store_location=location, clock=clock, alerts=alerts, store=store)
    jobs = PeriodicJobs(
        services,  # type: ignore[arg-type]
        object(),  # type: ignore[arg-type]
        news_dir=news_dir,
        scan_seconds=3600,
        post_seconds=3600,
        max_file_bytes=4096,
        ingest=ingest_one_hot_story,
        news_check_seconds=3600,
    )
    jobs.start()
    try:
        await asyncio.sleep(0.3)  # the signal is following the store
        await jobs.rescan(kick_alerts=False)
        await asyncio.sleep(0.5)
        assert alerts.reports == []  # the caller decides when this tick happens (the e2e harness does)

        await jobs.rescan()
        await until(lambda: alerts.reports, 10, "the tick the rescan asks for")
    finally:
        await jobs.shutdown()
