"""One process leads the news scan; the others stand by and take over when the leader is gone."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.leadership import SCAN_LEASE, Leadership, lease_term
from bot.scheduling import SCAN_LEASE_JOB_ID, PeriodicJobs
from db import parse_location
from db.interfaces import Store
from tests.support.fakes import FakeAlerts, FakeIngest, FakeServices
from tests.support.polling import until

SCAN_SECONDS = 60


def leader(store: Store, clock: ManualClock, name: str) -> Leadership:
    return Leadership(store.leases, SCAN_LEASE, clock, term=lease_term(SCAN_SECONDS), holder=name)


async def test_one_process_leads_and_the_other_takes_over_once_the_lease_runs_out(
    store: Store, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.leadership")
    first, second = leader(store, clock, "first"), leader(store, clock, "second")
    assert await first.lead()
    assert not await second.lead()
    clock.advance(timedelta(seconds=SCAN_SECONDS))
    assert await first.lead()  # renewed at its next scan
    assert not await second.lead()
    # The leader dies: no more renewals. Within two scan intervals the other process leads.
    clock.advance(timedelta(seconds=SCAN_SECONDS))
    assert not await second.lead()
    clock.advance(timedelta(seconds=SCAN_SECONDS))
    assert await second.lead()
    assert not await first.lead()  # a leader that comes back stands by
    assert "news-scan is led by another process (first); this one stands by" in caplog.text
    assert "this process now leads news-scan (lease held by second)" in caplog.text


async def test_a_leader_stepping_down_hands_over_at_the_next_try(store: Store, clock: ManualClock) -> None:
    first, second = leader(store, clock, "first"), leader(store, clock, "second")
    assert await first.lead()
    await first.step_down()
    assert await second.lead()


@pytest.fixture
async def jobs_pair(
    tmp_path: Path, store: Store, clock: ManualClock
) -> AsyncIterator[tuple[PeriodicJobs, PeriodicJobs, FakeIngest, FakeIngest]]:
    news = tmp_path / "news"
    news.mkdir()
    made = []
    ingests = (FakeIngest(), FakeIngest())
    for name, ingest in zip(("first", "second"), ingests, strict=True):
        services = FakeServices(store_location=parse_location(tmp_path / "h.db"), clock=clock, alerts=FakeAlerts())
        made.append(
            PeriodicJobs(
                services,  # type: ignore[arg-type]
                object(),  # type: ignore[arg-type]
                news_dir=news,
                scan_seconds=SCAN_SECONDS,
                post_seconds=3600,
                max_file_bytes=4096,
                ingest=ingest,
                scan_leader=leader(store, clock, name),
            )
        )
    yield made[0], made[1], ingests[0], ingests[1]
    for jobs in made:
        await jobs.shutdown()


async def test_only_the_leading_process_rescans_the_news_folder(
    jobs_pair: tuple[PeriodicJobs, PeriodicJobs, FakeIngest, FakeIngest], clock: ManualClock
) -> None:
    first, second, first_ingest, second_ingest = jobs_pair
    assert await first.rescan() is not None
    assert await second.rescan() is None
    assert (len(first_ingest.calls), len(second_ingest.calls)) == (1, 0)
    # The first process stops cleanly: it hands the lease back and the other scans at its next turn.
    await first.shutdown()
    assert await second.rescan() is not None
    assert len(second_ingest.calls) == 1


async def test_a_standing_by_process_takes_over_within_two_intervals_and_scans_at_once(
    jobs_pair: tuple[PeriodicJobs, PeriodicJobs, FakeIngest, FakeIngest], clock: ManualClock
) -> None:
    first, second, _first_ingest, second_ingest = jobs_pair
    assert await first.rescan() is not None  # first leads; then it dies (no more scans, no renewals)
    second.start()
    lease_job = second.scheduler.get_job(SCAN_LEASE_JOB_ID)
    assert lease_job is not None
    assert lease_job.trigger.interval == timedelta(seconds=SCAN_SECONDS / 4)
    assert not await second.watch_scan_lease()
    # The lease job runs every quarter interval: its first run after the term ends is at most 1.5 intervals on.
    clock.advance(lease_term(SCAN_SECONDS) + timedelta(seconds=SCAN_SECONDS / 4))
    assert await second.watch_scan_lease()
    # It scans now, not at its next interval (a minute away).
    await until(lambda: len(second_ingest.calls) == 1, 10, "the new leader's scan")


async def test_a_leader_busy_past_its_term_keeps_the_lease(
    jobs_pair: tuple[PeriodicJobs, PeriodicJobs, FakeIngest, FakeIngest], clock: ManualClock
) -> None:
    first, second, _first_ingest, _second_ingest = jobs_pair
    assert await first.rescan() is not None
    for _ in range(4):  # a long ingest: no scan finishes, but the lease job keeps renewing
        clock.advance(timedelta(seconds=SCAN_SECONDS / 2))
        assert await first.watch_scan_lease()
        assert not await second.watch_scan_lease()
