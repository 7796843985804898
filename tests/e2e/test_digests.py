"""/digest end to end: the real bot, the real scheduler job and SQLite, against the local Discord stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from tests.discord_standin import ChannelType
from tests.e2e.harness import start_harness
from tests.e2e.stories import Story

pytestmark = pytest.mark.e2e

# The clock starts at 2026-11-26 12:00 UTC; 09:00 in Berlin (CET, +01:00) the next morning is 08:00 UTC.
BERLIN_NINE = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def test_e2e_digest_add_then_the_digest_arrives_once(tmp_path: Path, clock: ManualClock) -> None:
    async with start_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        zones = await h.autocomplete("digest add", {"channel": news, "timezone": "berl"}, user=h.admin)
        reply = await h.invoke(
            "digest add", {"channel": news, "at": "09:00", "timezone": "Europe/Berlin", "top": 3}, user=h.admin
        )
        h.add_story(Story(slug="overnight", title="Overnight scoop", topics=("AI",), heat=185, quality=90))
        clock.advance(timedelta(hours=6))
        await h.rescan_now()  # first seen at 18:00 UTC: inside the digest's period
        await h.bot.jobs.post_digests()
        assert h.standin.messages_in(news.id) == []  # not due yet
        clock.set(BERLIN_NINE)
        await h.bot.jobs.post_digests()
        message = await h.standin.wait_for_message(news.id)
        # A restart right after: the digest is in the ledger, so nothing is sent again.
        await h.restart()
        await h.bot.jobs.post_digests()
        clock.advance(timedelta(minutes=5))
        await h.bot.jobs.post_digests()
        messages = h.standin.messages_in(news.id)

    assert [c["value"] for c in zones][:1] == ["Europe/Berlin"]
    assert reply.ephemeral
    assert "daily at 09:00 Europe/Berlin" in reply.content
    embed = message.embeds[0]
    assert embed["title"] == "Daily digest · every topic"
    lines = embed["description"].splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("1. [Overnight scoop](https://testwire.example/news/overnight)")
    assert "heat 185" in lines[0]
    assert "Europe/Berlin" in embed["footer"]["text"]
    assert len(messages) == 1


async def test_e2e_digest_bad_time_zone_is_refused_with_suggestions(tmp_path: Path, clock: ManualClock) -> None:
    async with start_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        reply = await h.invoke("digest add", {"channel": news, "timezone": "Europe/Berln"}, user=h.admin)
        listing = await h.invoke("digest list", {}, user=h.admin)

    assert reply.ephemeral
    assert "Unknown time zone" in reply.content
    assert "Europe/Berlin" in reply.content
    assert "No digests" in listing.content


async def test_e2e_digest_add_names_the_permission_the_bot_lacks(tmp_path: Path, clock: ManualClock) -> None:
    async with start_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        h.standin.deny_bot(news.id, "send_messages")
        reply = await h.invoke("digest add", {"channel": news}, user=h.admin)
        member = await h.invoke("digest list", {}, user=h.member)
        listing = await h.invoke("digest list", {}, user=h.admin)

    assert reply.ephemeral
    assert "I can't post digests in" in reply.content
    assert "Send Messages" in reply.content
    assert "Manage Server" in member.content
    assert "No digests" in listing.content


async def test_e2e_digest_in_a_forum_is_a_post_titled_by_the_digest(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with start_harness(tmp_path, clock) as h:
        forum = h.standin.add_channel(h.guild.id, "digests", ChannelType.FORUM)
        await h.invoke("digest add", {"channel": forum, "topic": "AI", "every": "hourly", "at": "00:00"}, user=h.admin)
        h.add_story(Story(slug="forum-digest", title="Forum digest story", topics=("AI",), heat=150, quality=90))
        clock.advance(timedelta(minutes=10))
        await h.rescan_now()
        clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
        await h.bot.jobs.post_digests()
        await h.standin.wait_for(lambda: h.standin.threads_in(forum.id))
        (thread,) = h.standin.threads_in(forum.id)
        starter = h.standin.messages_in(thread.id)[0]
        preview = await h.invoke("digest preview", {"channel": forum, "topic": "AI"}, user=h.admin)

    assert thread.name == "Hourly digest · AI"
    assert starter.embeds[0]["description"].startswith("1. [Forum digest story]")
    assert preview.ephemeral
    assert "nothing to report yet" in preview.content


async def test_e2e_bad_percentiles_get_a_clear_reply_and_change_nothing(tmp_path: Path, clock: ManualClock) -> None:
    async with start_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        alert = await h.invoke("alerts add", {"channel": news, "min_heat": "top150%"}, user=h.admin)
        digest = await h.invoke("digest add", {"channel": news, "min_heat": "top%"}, user=h.admin)
        good = await h.invoke("alerts add", {"channel": news, "min_heat": "top10%"}, user=h.admin)
        listing = await h.invoke("digest list", {}, user=h.admin)

    for reply in (alert, digest):
        assert reply.ephemeral
        assert "top1% to top99%" in reply.content
    assert "(top 10% of the last 30 days)" in good.content
    assert "No digests" in listing.content
