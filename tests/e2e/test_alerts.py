"""/alerts end to end: the real bot, the real scheduler jobs and SQLite, against the local Discord stand-in."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from tests.discord_standin import ChannelType
from tests.e2e.harness import Harness, start_harness
from tests.e2e.stories import HOSTILE_TITLE, Story
from tests.support.polling import until

pytestmark = pytest.mark.e2e


@contextlib.asynccontextmanager
async def alerts_harness(tmp_path: Path, clock: ManualClock, **options: Any) -> AsyncIterator[Harness]:
    """The e2e harness, once the alert tick the bot runs on READY is over (so tests decide when ticks happen)."""
    async with start_harness(tmp_path, clock, **options) as h:
        # on_ready asks for one tick right away (recovery, then posting); wait for it to finish.
        jobs = h.bot.jobs
        await until(lambda: jobs.recovered and not jobs.busy, 5, "the bot's first alert tick to finish")
        yield h


@pytest.fixture
async def harness(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Harness]:
    async with alerts_harness(tmp_path, clock) as h:
        yield h


def hot(slug: str, heat: int = 95, *, title: str | None = None, topics: tuple[str, ...] = ("AI",)) -> Story:
    return Story(slug=slug, title=title or f"Hot story {slug}", topics=topics, heat=heat, quality=80)


async def post_now(h: Harness) -> None:
    """One rescan then one alert tick, as the two scheduled jobs would run them."""
    await h.rescan_now()
    await h.bot.jobs.post_alerts()


async def test_e2e_admin_adds_alert_and_a_new_hot_story_is_posted(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        reply = await h.invoke("alerts add", {"channel": news, "min_heat": "80"}, user=h.admin)
        await h.bot.jobs.post_alerts()
        assert h.standin.messages_in(news.id) == []  # the 20+ stories already hot are not a flood
        h.add_story(hot("fresh-hot", 120))
        await post_now(h)
        message = await h.standin.wait_for_message(news.id)

    assert reply.in_time
    assert reply.ephemeral
    assert "heat ≥ 80" in reply.content
    assert message.embeds[0]["title"].startswith("Hot story fresh-hot")
    assert message.embeds[0]["url"] == "https://testwire.example/news/fresh-hot"


async def test_e2e_alert_arrives_within_scan_and_post_interval(tmp_path: Path, clock: ManualClock) -> None:
    async with start_harness(tmp_path, clock, scan_seconds=1, post_seconds=1) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        landed = time.monotonic()
        h.add_story(hot("scheduled"))
        message = await h.standin.wait_for_message(news.id, timeout=10.0)
        took = time.monotonic() - landed

    assert message.embeds[0]["title"].startswith("Hot story scheduled")
    assert took <= 1 + 1 + 2, f"took {took:.2f} s with 1 s scan and 1 s post intervals"


async def test_e2e_alerts_remove_offers_only_alert_channels(harness: Harness) -> None:
    news = harness.standin.add_channel(harness.guild.id, "news", ChannelType.TEXT)
    harness.standin.add_channel(harness.guild.id, "newsroom-chat", ChannelType.TEXT)
    await harness.invoke("alerts add", {"channel": news}, user=harness.admin)
    choices = await harness.autocomplete("alerts remove", {"channel": "news"}, user=harness.admin)
    hidden = await harness.autocomplete("alerts remove", {"channel": "news"}, user=harness.member)
    removed = await harness.invoke("alerts remove", {"channel": "#news"}, user=harness.admin)

    assert choices == [{"name": "#news", "value": str(news.id)}]
    assert hidden == []
    assert "Removed 1 alert subscription" in removed.content


async def test_e2e_member_without_manage_server_is_refused(harness: Harness) -> None:
    news = harness.standin.add_channel(harness.guild.id, "news", ChannelType.TEXT)
    # Discord would hide the command from this member; the stand-in delivers it anyway, as an owner override would.
    reply = await harness.invoke("alerts add", {"channel": news}, user=harness.member)
    listing = await harness.invoke("alerts list", user=harness.admin)

    assert reply.ephemeral
    assert "Manage Server" in reply.content
    assert "No alerts in this server yet" in listing.content


async def test_e2e_alerts_add_names_the_permission_the_bot_lacks(harness: Harness) -> None:
    news = harness.standin.add_channel(harness.guild.id, "news", ChannelType.TEXT)
    harness.standin.deny_bot(news.id, "embed_links")
    reply = await harness.invoke("alerts add", {"channel": news}, user=harness.admin)
    listing = await harness.invoke("alerts list", user=harness.admin)

    assert reply.ephemeral
    assert "Embed Links" in reply.content
    assert "No alerts in this server yet" in listing.content


async def test_e2e_alerts_add_unknown_topic_suggests_close_ones(harness: Harness) -> None:
    reply = await harness.invoke(
        "alerts add", {"channel": harness.channel, "topic": "Quantum Computin"}, user=harness.admin
    )
    assert reply.ephemeral
    assert "Did you mean: Quantum Computing" in reply.content


async def test_e2e_alerts_add_negative_threshold_is_refused(harness: Harness) -> None:
    reply = await harness.invoke(
        "alerts add", {"channel": harness.channel, "min_heat": "-5"}, user=harness.admin
    )
    assert reply.ephemeral
    assert "min_heat must be between 0 and 500" in reply.content


async def test_e2e_restart_does_not_post_again(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        h.add_story(hot("once"))
        await post_now(h)
        await h.standin.wait_for_message(news.id)
        await h.restart()
        await post_now(h)
        await h.bot.jobs.post_alerts()
        messages = h.standin.messages_in(news.id)

    assert len(messages) == 1


async def test_e2e_5xx_burst_then_recovery_posts_exactly_once(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        # discord.py gives up on a 503 at once (it retries 500/502/504 itself): the engine's own retries act.
        outage = h.standin.faults.fail(f"POST /channels/{news.id}/messages", status=503, times=3)
        h.add_story(hot("outage"))
        await post_now(h)
        for _ in range(4):
            clock.advance(timedelta(minutes=2))
            await h.bot.jobs.post_alerts()
        listing = await h.invoke("alerts list", user=h.admin)
        messages = h.standin.messages_in(news.id)

    assert outage.fired == 3
    assert len(messages) == 1
    # The post that went through ended the failure: no stale error (a line's ids may contain "503" by chance).
    assert "last error" not in listing.content
    assert "failing" not in listing.content


async def test_e2e_rate_limit_retry_after_is_honoured(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        h.standin.faults.rate_limit(f"POST /channels/{news.id}/messages", retry_after=1.5, times=1)
        h.add_story(hot("limited"))
        await post_now(h)
        messages = h.standin.messages_in(news.id)
        posts = h.standin.requests_to(f"POST /channels/{news.id}/messages")

    assert len(messages) == 1
    assert [p.status for p in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 1.5


async def test_e2e_hostile_title_is_posted_without_pinging_anyone(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        h.add_story(hot("hostile-new", 150, title=HOSTILE_TITLE))
        await post_now(h)
        message = await h.standin.wait_for_message(news.id)

    assert "Breaking" in message.embeds[0]["title"]
    assert message.pings() == set()
    assert message.allowed_mentions is not None
    assert message.allowed_mentions.get("parse") == []


async def test_e2e_twenty_hot_stories_keep_three_ticks_of_posts_and_roll_up_the_rest(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        heats = [100 + 3 * n for n in range(20)]
        for n, heat in enumerate(heats):
            h.add_story(hot(f"burst-{n:02d}", heat, title=f"Burst {heat}"))
        await h.rescan_now()
        per_tick = []
        for _ in range(4):
            before = len(h.standin.messages_in(news.id))
            await h.bot.jobs.post_alerts()
            per_tick.append(len(h.standin.messages_in(news.id)) - before)
        messages = h.standin.messages_in(news.id)

    # Three ticks' worth (15) keep their own posts, hottest first; the 5 beyond go out at once in one roll-up.
    assert per_tick == [6, 5, 5, 0]
    rollups = [m for m in messages if not m.embeds]
    titles = [m.embeds[0]["title"] for m in messages if m.embeds]
    by_heat = sorted(heats, reverse=True)
    assert titles == [f"Burst {heat}" for heat in by_heat[:15]]
    assert len(rollups) == 1
    assert rollups[0].content.startswith("📚 **5 more stories above your line:**")
    for heat in by_heat[15:]:
        assert f"Burst {heat}" in rollups[0].content
    assert rollups[0].pings() == set()


async def test_e2e_announcement_alerts_are_published(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "announcements", ChannelType.ANNOUNCEMENT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        h.add_story(hot("announce"))
        await post_now(h)
        message = await h.standin.wait_for_message(news.id)
        await h.standin.wait_for(lambda: h.standin.messages_in(news.id)[0].crossposted)

    assert message.embeds


async def test_e2e_forum_alert_is_a_post_titled_by_the_story(tmp_path: Path, clock: ManualClock) -> None:
    long_title = "Forum " + "very long headline " * 10
    async with alerts_harness(tmp_path, clock) as h:
        forum = h.standin.add_channel(h.guild.id, "news-forum", ChannelType.FORUM)
        reply = await h.invoke("alerts add", {"channel": forum}, user=h.admin)
        h.add_story(hot("forum", title=long_title))
        await post_now(h)
        await h.standin.wait_for(lambda: h.standin.threads_in(forum.id))
        (thread,) = h.standin.threads_in(forum.id)
        starter = h.standin.messages_in(thread.id)[0]

    assert "will now get" in reply.content
    assert thread.name.startswith("Forum very long headline")
    assert len(thread.name) <= 100
    assert starter.embeds[0]["url"] == "https://testwire.example/news/forum"


async def test_e2e_deleted_channel_shows_as_failing_and_others_still_post(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        doomed = h.standin.add_channel(h.guild.id, "doomed", ChannelType.TEXT)
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": doomed}, user=h.admin)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        h.standin.delete_channel(doomed.id)
        h.add_story(hot("after-delete"))
        await post_now(h)
        await h.standin.wait_for_message(news.id)
        listing = await h.invoke("alerts list", user=h.admin)
        choices = await h.autocomplete("alerts remove", {"channel": "del"}, user=h.admin)
        removed = await h.invoke("alerts remove", {"channel": choices[0]["value"]}, user=h.admin)
        after = await h.invoke("alerts list", user=h.admin)

    assert "failing" in listing.content
    assert "no longer exists" in listing.content
    assert [c["name"] for c in choices] == [f"deleted channel ({doomed.id})"]
    assert "Removed 1 alert subscription" in removed.content
    assert str(doomed.id) not in after.content


async def test_e2e_pause_and_preview_send_nothing_until_resume(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news, "backfill": 2}, user=h.admin)
        paused = await h.invoke("alerts pause", {"channel": news}, user=h.admin)
        await h.bot.jobs.post_alerts()
        preview = await h.invoke("alerts preview", {"channel": news}, user=h.admin)
        assert h.standin.messages_in(news.id) == []
        resumed = await h.invoke("alerts resume", {"channel": news}, user=h.admin)
        await h.bot.jobs.post_alerts()
        messages = h.standin.messages_in(news.id)

    assert "come in one message" in paused.content
    assert "AI story number 01" in preview.content
    assert "Resumed" in resumed.content
    assert len(messages) == 2


async def test_e2e_same_story_in_two_files_posts_once(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        url = "https://testwire.example/news/twice"
        h.add_story(Story(slug="twice-a", title="Told twice", topics=("AI",), heat=110, url=url))
        h.add_story(Story(slug="twice-b", title="Told twice", topics=("AI", "Cloud"), heat=115, url=url))
        await post_now(h)
        await h.bot.jobs.post_alerts()
        messages = h.standin.messages_in(news.id)

    assert len(messages) == 1
