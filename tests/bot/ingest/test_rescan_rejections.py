"""The running bot's rescan job with the real pipeline: a folder it may not read is a rejection like any other."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bot.clock import Clock, ManualClock
from bot.ingest.pipeline import IngestReport, ingest_paths
from bot.scheduling import PeriodicJobs
from db import StoreLocation, open_ingest_store
from tests.support.fakes import FakeAlerts, FakeServices
from tests.support.permissions import locked, permissions_enforced
from tests.support.story_files import write_raw, write_story


def _ingest_as_a_user(
    paths: Sequence[Path],
    location: StoreLocation,
    *,
    clock: Clock,
    max_file_bytes: int,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    # The real pipeline, in the job's worker thread, refused what file permissions refuse (as for the bot's user).
    with permissions_enforced():
        return ingest_paths(paths, location, clock=clock, max_file_bytes=max_file_bytes, progress=progress)


async def test_rescan_logs_an_unreadable_folder_with_the_other_rejections_and_stats_lists_it(
    tmp_path: Path, location: StoreLocation, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    news = tmp_path / "news"
    write_story(news / "good.md")
    write_raw(news / "notes.md", b"just some notes\n")
    write_story(news / "private" / "inside.md", webUrl="https://news.example.com/inside")
    services = FakeServices(store_location=location, clock=clock, alerts=FakeAlerts())
    jobs = PeriodicJobs(
        services,  # type: ignore[arg-type]
        object(),  # type: ignore[arg-type]
        news_dir=news,
        scan_seconds=3600,
        post_seconds=3600,
        max_file_bytes=1 << 20,
        ingest=_ingest_as_a_user,
    )
    caplog.set_level(logging.WARNING)
    try:
        with locked(news / "private"):
            report = await jobs.rescan(kick_alerts=False)
    finally:
        await jobs.shutdown()

    assert report is not None
    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert warnings == [
        f"rejected {news / 'notes.md'}: no front matter: the file must start with a `---` line",
        f"rejected {news / 'private'}: cannot list the folder: Permission denied",
    ]
    with open_ingest_store(location, create=False) as store:
        listed = [(item.path, item.reason) for item in store.read_stats().rejected_files]
    assert listed == [
        (str(news / "notes.md"), "no front matter: the file must start with a `---` line"),
        (str(news / "private"), "cannot list the folder: Permission denied"),
    ]
