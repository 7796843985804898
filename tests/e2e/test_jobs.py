"""The scheduled rescan against the running bot: new files show up, and a big ingest never stalls replies."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.ingest.pipeline import IngestReport, ingest_paths
from bot.scheduling import RESCAN_JOB_ID
from tests.discord_standin import ChannelType
from tests.e2e.harness import start_harness
from tests.e2e.stories import Story, generated_stories, write_story_set
from tests.support.polling import until

pytestmark = pytest.mark.e2e

BULK_FILES = 3000


@dataclass
class TimedIngest:
    """The real ingester, recording when each run started and ended (monotonic seconds)."""

    spans: list[tuple[float, float]] = field(default_factory=list)
    reports: list[IngestReport] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)

    def __call__(self, *args: Any, **kwargs: Any) -> IngestReport:
        begin = time.monotonic()
        self.started.set()
        try:
            report = ingest_paths(*args, **kwargs)
            self.reports.append(report)
            return report
        finally:
            self.spans.append((begin, time.monotonic()))


async def test_rescan_job_picks_up_a_story_dropped_into_the_news_folder(tmp_path: Path, clock: ManualClock) -> None:
    timed = TimedIngest()
    async with start_harness(tmp_path, clock, scan_seconds=1, ingest=timed) as h:
        h.add_story(Story(slug="fusion", title="Fusion startup reaches ignition", topics=("Fusion Energy",), heat=93))

        await until(lambda: any(r.added for r in timed.reports), 10, "the rescan to add the story")
        result = await h.invoke("topic", {"name": "Fusion Energy"})

    assert result.in_time
    assert "Fusion startup reaches ignition" in result.text()


async def test_bot_keeps_answering_within_3_s_during_a_big_ingest(tmp_path: Path, clock: ManualClock) -> None:
    timed = TimedIngest()
    async with start_harness(tmp_path, clock, ingest=timed) as h:
        await asyncio.to_thread(write_story_set, h.news_dir / "bulk", generated_stories(BULK_FILES))

        h.bot.jobs.run_soon(RESCAN_JOB_ID)
        await until(timed.started.is_set, 10, "the rescan to start")
        answered: list[tuple[float, float, bool]] = []
        while not timed.spans:
            sent = time.monotonic()
            result = await h.invoke("topic", {"name": "AI"})
            answered.append((sent, time.monotonic(), result.in_time))
        ((begin, end),) = timed.spans
        report = timed.reports[0]
        bulk = await h.invoke("topic", {"name": "Bulk"})

    during = [(a, b, ok) for a, b, ok in answered if begin <= a and b <= end]
    assert report.added == BULK_FILES
    assert len(during) >= 2, f"only {len(during)} replies fell inside the {end - begin:.2f} s ingest"
    assert all(ok and b - a < 3.0 for a, b, ok in during)
    assert bulk.in_time
    assert "Bulk story" in bulk.text()


async def test_new_hot_story_is_posted_by_the_rescan_without_waiting_for_the_alert_interval(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with start_harness(tmp_path, clock, scan_seconds=1, post_seconds=3600) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        added = await h.invoke("alerts add", {"channel": news, "min_heat": "80"}, user=h.admin)
        assert added.in_time
        h.add_story(Story(slug="breaking", title="Breaking: fusion plant goes online", topics=("AI",), heat=140))

        message = await h.standin.wait_for_message(news.id, timeout=10)

    assert message.embeds[0]["title"] == "Breaking: fusion plant goes online"
