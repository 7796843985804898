"""The admin log channel end to end: `/alerts log`, problems told once an hour, recovery, and who changed what."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from tests.discord_standin import Channel, ChannelType, Message
from tests.e2e.harness import Harness, start_harness
from tests.e2e.stories import Story
from tests.support.polling import until

pytestmark = pytest.mark.e2e

_slugs = itertools.count(1)


@contextlib.asynccontextmanager
async def logged(tmp_path: Path, clock: ManualClock) -> AsyncIterator[tuple[Harness, Channel, Channel]]:
    """A bot with #news subscribed and #mod-log as the server's alerts log: (harness, news, log)."""
    async with start_harness(tmp_path, clock) as h:
        jobs = h.bot.jobs
        await until(lambda: jobs.recovered and not jobs.busy, 5, "the bot's first alert tick to finish")
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        log = h.standin.add_channel(h.guild.id, "mod-log", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        reply = await h.invoke("alerts log", {"channel": log}, user=h.admin)
        assert "now go to" in reply.content
        yield h, news, log


async def post_a_hot_story(h: Harness) -> None:
    """A new hot story lands, is scanned, and one alert tick runs."""
    slug = f"hot-{next(_slugs)}"
    h.add_story(Story(slug=slug, title=f"Hot story {slug}", topics=("AI",), heat=150, quality=90))
    await h.rescan_now()
    await h.bot.jobs.post_alerts()


async def retry_tick(h: Harness, *, minutes: int = 16) -> None:
    """Past the retry backoff (at most 15 minutes; 2 minutes up to the 4th retry), one more alert tick."""
    h.clock.advance(timedelta(minutes=minutes))
    await h.bot.jobs.post_alerts()


def texts(h: Harness, log: Channel) -> list[str]:
    return [m.content for m in h.standin.messages_in(log.id)]


def only_pings_none(messages: list[Message]) -> bool:
    return all(not m.pings() for m in messages)


async def test_e2e_admin_log_tells_who_set_it_and_who_changed_alerts(tmp_path: Path, clock: ManualClock) -> None:
    async with logged(tmp_path, clock) as (h, news, log):
        await h.invoke("alerts add", {"channel": news, "min_heat": 90}, user=h.admin)
        await h.invoke("alerts pause", {"channel": news}, user=h.admin)
        await h.invoke("alerts remove", {"channel": str(news.id)}, user=h.admin)
        shown = await h.invoke("alerts log", {}, user=h.admin)
        told = texts(h, log)
        messages = h.standin.messages_in(log.id)

    admin = f"<@{h.admin.id}>"
    assert told == [
        f"🛠 {admin} made <#{log.id}> the alerts log",
        f"🛠 {admin} changed the alerts for every topic in <#{news.id}>: min_heat 70 → 90 (heat ≥ 90)",
        f"🛠 {admin} paused alerts in <#{news.id}>",
        f"🛠 {admin} removed every alert subscription of <#{news.id}>",
    ]
    assert only_pings_none(messages)
    assert f"goes to <#{log.id}> (set by {admin}" in shown.content


async def test_e2e_admin_log_tells_a_deleted_channel_once_an_hour(tmp_path: Path, clock: ManualClock) -> None:
    async with logged(tmp_path, clock) as (h, news, log):
        h.standin.delete_channel(news.id)
        await post_a_hot_story(h)
        first = texts(h, log)[-1]
        await retry_tick(h)
        await retry_tick(h)
        told_in_the_hour = texts(h, log)[1:]
        clock.advance(timedelta(minutes=30))
        await h.bot.jobs.post_alerts()
        told = texts(h, log)[1:]
        h.check_clean = False  # posting to a deleted channel is the point

    assert first.startswith(f"⚠ Alerts to <#{news.id}> are failing: the channel no longer exists")
    assert "(failure 1 of 5" in first
    assert len(told_in_the_hour) == 1
    assert len(told) == 2
    assert "(failure 4 of 5" in told[1]


async def test_e2e_admin_log_tells_recovery_after_the_permission_is_back(tmp_path: Path, clock: ManualClock) -> None:
    async with logged(tmp_path, clock) as (h, news, log):
        h.standin.deny_bot(news.id, "send_messages")
        await post_a_hot_story(h)
        h.standin.set_overwrite(news.id, h.standin.bot_user.id, member=True)  # the permission is back
        await retry_tick(h)
        await h.standin.wait_for_message(news.id)
        await post_a_hot_story(h)  # all is well: nothing more is told
        told = texts(h, log)[1:]
        h.check_clean = False

    assert len(told) == 2
    assert told[0].startswith(f"⚠ Alerts to <#{news.id}> are failing:")
    assert told[1] == f"✅ Alerts to <#{news.id}> are posting again."


async def test_e2e_admin_log_tells_an_automatic_pause(tmp_path: Path, clock: ManualClock) -> None:
    async with logged(tmp_path, clock) as (h, news, log):
        h.standin.deny_bot(news.id, "embed_links")
        await post_a_hot_story(h)
        for _ in range(4):
            await retry_tick(h, minutes=5)  # all five failures within the hour
        told = texts(h, log)[1:]
        h.check_clean = False

    assert told[0].startswith(f"⚠ Alerts to <#{news.id}> are failing:")
    assert told[-1].startswith(f"⏸ Alerts to <#{news.id}> paused automatically after repeated failures:")
    assert len(told) == 2


async def test_e2e_admin_log_off_stops_it_and_failures_still_show_in_list(tmp_path: Path, clock: ManualClock) -> None:
    async with logged(tmp_path, clock) as (h, news, log):
        off = await h.invoke("alerts log", {"off": True}, user=h.admin)
        h.standin.delete_channel(news.id)
        await post_a_hot_story(h)
        listing = await h.invoke("alerts list", user=h.admin)
        told = texts(h, log)
        h.check_clean = False

    assert "The alerts log is off" in off.content
    assert len(told) == 1  # only "made #mod-log the alerts log", from before
    assert "failing" in listing.content


async def test_e2e_admin_log_needs_a_channel_the_bot_can_post_in(tmp_path: Path, clock: ManualClock) -> None:
    async with logged(tmp_path, clock) as (h, _, log):
        hidden = h.standin.add_channel(h.guild.id, "hidden", ChannelType.TEXT)
        h.standin.deny_bot(hidden.id, "send_messages")
        refused = await h.invoke("alerts log", {"channel": hidden}, user=h.admin)
        both = await h.invoke("alerts log", {"channel": log, "off": True}, user=h.admin)
        member = await h.invoke("alerts log", {"channel": log})

    assert "missing Send Messages" in refused.content
    assert "not both" in both.content
    assert "Manage Server" in member.content
