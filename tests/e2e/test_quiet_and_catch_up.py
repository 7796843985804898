"""Quiet hours and the catch-up after /alerts resume, end to end on the Discord stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from tests.discord_standin import ChannelType
from tests.e2e.stories import Story
from tests.e2e.test_alerts import alerts_harness

pytestmark = pytest.mark.e2e


def hot(slug: str, heat: int) -> Story:
    return Story(slug=slug, title=f"Story {slug}", topics=("AI",), heat=heat, quality=80)


async def test_e2e_resume_brings_one_catch_up_message(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        await h.invoke("alerts pause", {"channel": news}, user=h.admin)
        clock.advance(timedelta(minutes=10))
        h.add_story(hot("while-paused-a", 140))
        h.add_story(hot("while-paused-b", 120))
        await h.rescan_now()
        await h.bot.jobs.post_alerts()
        assert h.standin.messages_in(news.id) == []
        resumed = await h.invoke("alerts resume", {"channel": news}, user=h.admin)
        await h.bot.jobs.post_alerts()
        await h.bot.jobs.post_alerts()
        messages = h.standin.messages_in(news.id)

    assert "While alerts were paused" in resumed.content
    assert len(messages) == 1
    content = messages[0].content
    assert content.startswith("⏸ **While alerts were paused** · the hottest 2 that turned hot meanwhile:")
    assert content.index("Story while-paused-a") < content.index("Story while-paused-b")
    assert "(<https://testwire.example/news/while-paused-a>)" in content
    assert messages[0].pings() == set()


async def test_e2e_quiet_hours_hold_alerts_let_breaking_through_and_summarise(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        reply = await h.invoke(
            "alerts quiet", {"channel": news, "start": "22:00", "end": "07:00", "breaking": 150}, user=h.admin
        )
        bad = await h.invoke("alerts quiet", {"channel": news, "start": "22:00"}, user=h.admin)
        clock.set(datetime(2026, 11, 26, 23, 0, tzinfo=UTC))
        h.add_story(hot("night-held", 120))
        h.add_story(hot("night-breaking", 170))
        await h.rescan_now()
        await h.bot.jobs.post_alerts()
        during = list(h.standin.messages_in(news.id))
        clock.set(datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
        await h.bot.jobs.post_alerts()
        await h.bot.jobs.post_alerts()
        after = h.standin.messages_in(news.id)

    assert reply.ephemeral
    assert "22:00–07:00 UTC, breaking ≥ 150" in reply.content
    assert "Give both start and end" in bad.content
    assert [m.embeds[0]["title"] for m in during] == ["Story night-breaking"]
    assert len(after) == 2
    assert after[1].content.startswith("🌙 **While you were away**")
    assert "Story night-held" in after[1].content
