"""The jobs around sources: the folder watcher, each git source's sync job, its status, retries and stats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.ingest.pipeline import ingest_paths
from bot.render import escape
from bot.scheduling import PeriodicJobs, source_job_id
from bot.services.admin_log import AdminLog
from bot.sources import GitSource
from bot.stats_command import stats_command
from db import StoreLocation
from db.interfaces import Store
from tests.support.db_probe import query_one
from tests.support.fakes import FakeAlerts, FakeIngest, FakeReport
from tests.support.git_repos import Origin
from tests.support.polling import until
from tests.support.story_files import write_story


@dataclass
class JobServices:
    store: Store
    clock: ManualClock
    alerts: FakeAlerts
    admin_log: AdminLog | None = None

    @property
    def store_location(self) -> StoreLocation:
        return self.store.location


@pytest.fixture
async def make_jobs(
    tmp_path: Path, store: Store, clock: ManualClock
) -> AsyncIterator[Callable[..., tuple[PeriodicJobs, FakeAlerts]]]:
    made: list[PeriodicJobs] = []

    def make(**overrides: Any) -> tuple[PeriodicJobs, FakeAlerts]:
        alerts = FakeAlerts()
        options: dict[str, Any] = {
            "news_dir": tmp_path / "news",
            "scan_seconds": 3600,
            "post_seconds": 3600,
            "max_file_bytes": 1 << 20,
            "data_dir": tmp_path / "data",
            "ingest": ingest_paths,
        }
        options.update(overrides)
        admin_log = options.pop("admin_log", None)
        services = JobServices(store, clock, alerts, admin_log)
        jobs = PeriodicJobs(services, object(), **options)  # type: ignore[arg-type]
        made.append(jobs)
        return jobs, alerts

    yield make
    for jobs in made:
        await jobs.shutdown(grace=1)


def hot_origin(path: Path, clock: ManualClock, slug: str) -> Origin:
    origin = Origin(path)
    url = f"https://news.example.com/{slug}"
    origin.write_story(f"_news/{slug}.md", title=f"Story {slug}", webUrl=url, originalUrl=url, heat=92)
    origin.commit("start", when=clock.now())
    return origin


async def test_watcher_rescans_as_soon_as_a_file_lands(
    make_jobs: Callable[..., tuple[PeriodicJobs, FakeAlerts]], tmp_path: Path
) -> None:
    news = tmp_path / "news"
    news.mkdir()
    ingest = FakeIngest(reports=[FakeReport(scanned=1, added=1)])
    jobs, alerts = make_jobs(ingest=ingest, watch=True)
    jobs.start()
    await until(lambda: jobs.watching == (news,), 10, "the watcher to start")

    write_story(news / "fresh.md")

    await until(lambda: ingest.calls, 5, "a rescan caused by the new file")
    # The ingest added a story: the alert tick runs now, not at its hourly interval.
    await asyncio.wait_for(alerts.ticked.wait(), timeout=5)
    assert ingest.calls[0]["paths"] == [news]


async def test_rescan_reads_every_folder_source_that_exists(
    make_jobs: Callable[..., tuple[PeriodicJobs, FakeAlerts]], tmp_path: Path
) -> None:
    news, extra, missing = tmp_path / "news", tmp_path / "extra", tmp_path / "missing"
    news.mkdir()
    extra.mkdir()
    ingest = FakeIngest(reports=[FakeReport(scanned=0)])
    jobs, _ = make_jobs(ingest=ingest, extra_dirs=[extra, missing, news])

    await jobs.rescan()

    assert ingest.calls[0]["paths"] == [news, extra]


async def test_a_failing_git_source_records_its_error_retries_with_backoff_and_others_go_on(
    make_jobs: Callable[..., tuple[PeriodicJobs, FakeAlerts]],
    tmp_path: Path,
    clock: ManualClock,
    location: StoreLocation,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good_origin = hot_origin(tmp_path / "good", clock, "good")
    bad_origin = hot_origin(tmp_path / "bad", clock, "bad")
    good = GitSource(url=good_origin.url, subdir="_news", every_seconds=600)
    bad = GitSource(url=bad_origin.url, subdir="_news", every_seconds=600)
    jobs, alerts = make_jobs(git_sources=[good, bad])
    jobs.start()
    # Each sync records its source's status when it ends.
    statuses = "SELECT count(*) FROM app_state WHERE key LIKE ?"
    await until(lambda: query_one(location, statuses, ("source_status.%",)) == (2,), 20, "the first syncs")
    await until(lambda: "tick" in alerts.events, 5, "the alert tick the new stories asked for")

    bad_origin.vanish()
    clock.advance(timedelta(minutes=5))
    before = datetime.now(UTC)
    assert await jobs.sync_source(bad) is None
    assert await jobs.sync_source(good) is not None

    retry_at = jobs.scheduler.get_job(source_job_id(bad)).next_run_time
    # Retried after ~5 s (half to all of the first backoff step), not after its 10-minute interval.
    assert before + timedelta(seconds=2) <= retry_at <= before + timedelta(seconds=10)
    assert stats_command(store=location, as_json=True, sources=[good, bad]) == 0
    shown = json.loads(capsys.readouterr().out)
    good_status, bad_status = shown["sources"]
    assert good_status["failures"] == 0
    assert good_status["stories"] == 1
    assert good_status["commit"] == good_origin.head()
    assert bad_status["failures"] == 1
    assert bad_status["last_error"].startswith("git fetch failed: ")
    assert bad_status["stories"] == 1  # the last good sync is still shown
    assert bad_status["last_sync_at"] == "2026-11-26T12:00:00.000000+00:00"
    assert shown["stories"] == 2  # the failing source's story stays

    assert stats_command(store=location, as_json=False, sources=[good, bad]) == 0
    text = capsys.readouterr().out
    assert "Git sources (2):" in text
    assert "failing (1 in a row) at 2026-11-26 12:05:00 UTC: git fetch failed:" in text


async def test_a_source_that_comes_back_is_healthy_again(
    make_jobs: Callable[..., tuple[PeriodicJobs, FakeAlerts]],
    tmp_path: Path,
    clock: ManualClock,
    location: StoreLocation,
    capsys: pytest.CaptureFixture[str],
) -> None:
    origin = hot_origin(tmp_path / "origin", clock, "back")
    source = GitSource(url=origin.url, subdir="_news", every_seconds=600)
    jobs, _ = make_jobs(git_sources=[source])
    moved = tmp_path / "moved"
    origin.path.rename(moved)
    assert await jobs.sync_source(source) is None
    moved.rename(origin.path)

    assert await jobs.sync_source(source) is not None

    stats_command(store=location, as_json=True, sources=[source])
    (status,) = json.loads(capsys.readouterr().out)["sources"]
    assert status["failures"] == 0
    assert status["last_error"] is None
    assert status["stories"] == 1



@dataclass
class LogPosts:
    texts: list[tuple[int, str]] = field(default_factory=list)

    async def post_text(self, channel_id: int, text: str) -> None:
        self.texts.append((channel_id, text))


async def test_a_failing_source_is_told_in_every_admin_log_once_an_hour_and_its_recovery_too(
    make_jobs: Callable[..., tuple[PeriodicJobs, FakeAlerts]], tmp_path: Path, store: Store, clock: ManualClock
) -> None:
    admin_log = AdminLog(store, clock)
    admin_log.poster = posts = LogPosts()
    await admin_log.set_channel(guild_id=1, channel_id=11, actor_id=99)
    await admin_log.set_channel(guild_id=2, channel_id=22, actor_id=99)
    origin = hot_origin(tmp_path / "origin", clock, "told")
    source = GitSource(url=origin.url, subdir="_news", every_seconds=600)
    jobs, _ = make_jobs(git_sources=[source], admin_log=admin_log)
    moved = tmp_path / "moved"
    origin.path.rename(moved)

    assert await jobs.sync_source(source) is None
    told = list(posts.texts)
    clock.advance(timedelta(minutes=10))
    assert await jobs.sync_source(source) is None  # still failing, within the hour: not told again
    again = list(posts.texts)
    moved.rename(origin.path)
    assert await jobs.sync_source(source) is not None

    shown = escape(source.name)  # markdown in a URL is escaped, as in every message built from outside text
    assert [channel for channel, _ in told] == [11, 22]
    assert all(f"The news source {shown} is failing (1 in a row)" in text for _, text in told)
    assert again == told
    recovered = f"✅ The news source {shown} is syncing again."
    assert posts.texts[2:] == [(11, recovered), (22, recovered)]
