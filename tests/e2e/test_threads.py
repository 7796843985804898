"""Related-story threads and forum tags end to end: the real bot starts threads on its alert messages, posts the
related stories and later coverage there, and tags its forum posts, on the stand-in."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

import discord
import pytest

from bot.clock import ManualClock
from bot.render.threads import RELATED_HEADING
from tests.discord_standin import ChannelType, Perm
from tests.e2e.harness import Harness
from tests.e2e.stories import Related, Story
from tests.e2e.test_alerts import alerts_harness, post_now
from tests.e2e.test_living_posts import EVENT, RETOLD
from tests.support.polling import until

pytestmark = pytest.mark.e2e

EARLIER = Story(slug="chip", title="Chip maker unveils a new accelerator", topics=("Chips",), heat=110)
WITH_RELATED = Story(
    slug="silicon",
    title="What the new silicon means for cloud prices",
    topics=("Cloud",),
    heat=120,
    related=(
        Related(title="Chip maker unveils a new accelerator", url=EARLIER.link),
        Related(title="An analysis we never stored @everyone", url="https://elsewhere.example/analysis"),
    ),
)


async def _follow(h: Harness, name: str, kind: int, **options: object) -> int:
    channel = h.standin.add_channel(h.guild.id, name, kind)
    reply = await h.invoke("alerts add", {"channel": channel, "min_heat": 80, **options}, user=h.admin)
    assert "now get" in reply.content, reply.content
    await h.bot.jobs.post_alerts()  # the stories already hot are not posted
    return channel.id


async def test_e2e_a_posted_story_gets_a_thread_with_its_related_stories_linked_to_our_post(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        chips = await _follow(h, "chips", ChannelType.TEXT)
        # Dedupe off: with it on, a story listing one the channel posted is that post's event (coverage).
        news = await _follow(h, "news", ChannelType.TEXT, threads=True, dedupe=False)
        h.add_story(EARLIER)
        await post_now(h)
        await h.standin.wait_for_message(chips)
        earlier_post = await h.standin.wait_for_message(news)
        h.add_story(WITH_RELATED)
        await post_now(h)
        post = next(m for m in h.standin.messages_in(news) if m.embeds[0]["title"] == WITH_RELATED.title)
        threads = h.standin.threads_in(news)
        listing = h.standin.messages_in(post.id)
        listed = await h.invoke("alerts list", user=h.admin)

    thread = next(t for t in threads if t.id == post.id)
    assert (thread.name, thread.type) == (WITH_RELATED.title, ChannelType.PUBLIC_THREAD)
    [related] = listing
    assert related.content.startswith(RELATED_HEADING)
    # Our copy in this channel is preferred to the one in #chips.
    assert f"https://discord.com/channels/{h.guild.id}/{news}/{earlier_post.id}>) (our post)" in related.content
    assert "(<https://elsewhere.example/analysis>)" in related.content
    assert related.allowed_mentions == {"parse": []}
    assert related.pings() == set()
    assert f"🧵 <#{news}>: related-story threads" in listed.content


async def test_e2e_a_second_providers_story_of_the_event_is_posted_in_the_thread(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = await _follow(h, "news", ChannelType.TEXT, threads=True)
        h.add_story(EVENT)
        await post_now(h)
        post = await h.standin.wait_for_message(news)
        clock.advance(timedelta(hours=2))
        h.add_story(RETOLD)
        await post_now(h)
        in_thread = h.standin.messages_in(post.id)
        in_channel = h.standin.messages_in(news)

    assert len(in_channel) == 1  # one post per event: the retelling is not posted again
    [coverage] = in_thread  # EVENT lists no related stories: only the coverage
    assert coverage.content.startswith("Also covered by **Republic World**")
    assert f"(<{RETOLD.link}>)" in coverage.content


async def test_e2e_forum_posts_carry_the_tags_of_their_topics_and_create_missing_ones(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        forum = h.standin.add_channel(h.guild.id, "stories", ChannelType.FORUM)
        h.standin.add_forum_tags(forum.id, "ai", "Space")
        await until(lambda: _tag_count(h, forum.id) == 2, 5, "the bot to see the forum's tags")
        h.standin.set_overwrite(forum.id, h.standin.bot_user.id, allow=Perm.MANAGE_CHANNELS, member=True)
        reply = await h.invoke(
            "alerts add", {"channel": forum, "min_heat": 80, "threads": True, "create_tags": True}, user=h.admin
        )
        await h.bot.jobs.post_alerts()
        h.add_story(
            Story(
                slug="tagged",
                title="A robot learns to fly",
                topics=("AI", "Robotics"),
                heat=120,
                related=(Related(title="Drones", url="https://elsewhere.example/drones"),),
            )
        )
        await post_now(h)
        [post] = h.standin.threads_in(forum.id)
        tags = h.standin.tag_names(post.id)
        names = [t["name"] for t in h.standin.channels[forum.id].available_tags]
        in_post = h.standin.messages_in(post.id)

    assert "tags named like their topics" in reply.content
    assert tags == ["ai", "Robotics"]
    assert names == ["ai", "Space", "Robotics"]
    assert [m.id == post.id for m in in_post] == [True, False]  # the story, then its related list
    assert in_post[1].content.startswith(RELATED_HEADING)


async def test_e2e_tag_creation_stops_at_discords_twenty_tags(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        forum = h.standin.add_channel(h.guild.id, "stories", ChannelType.FORUM)
        h.standin.add_forum_tags(forum.id, *(f"tag {i}" for i in range(19)))
        await until(lambda: _tag_count(h, forum.id) == 19, 5, "the bot to see the forum's tags")
        h.standin.set_overwrite(forum.id, h.standin.bot_user.id, allow=Perm.MANAGE_CHANNELS, member=True)
        await h.invoke("alerts add", {"channel": forum, "min_heat": 80, "create_tags": True}, user=h.admin)
        await h.bot.jobs.post_alerts()
        h.add_story(
            Story(slug="full", title="A forum that is nearly full", topics=("Quantum", "Space", "tag 3"), heat=120)
        )
        await post_now(h)
        [post] = h.standin.threads_in(forum.id)
        tags = h.standin.tag_names(post.id)
        names = [t["name"] for t in h.standin.channels[forum.id].available_tags]
        refused = [r for r in h.standin.requests_to(f"PATCH /channels/{forum.id}") if r.status != 200]

    assert len(names) == 20
    assert names[-1] == "Quantum"
    assert tags == ["tag 3", "Quantum"]
    assert refused == []


async def test_e2e_a_restart_between_starting_the_thread_and_recording_it_makes_no_second_thread(
    tmp_path: Path, clock: ManualClock
) -> None:
    story = Story(
        slug="restart",
        title="A story whose thread outlives a crash",
        topics=("AI",),
        heat=120,
        related=(Related(title="Background", url="https://elsewhere.example/background"),),
    )
    async with alerts_harness(tmp_path, clock) as h:
        news = await _follow(h, "news", ChannelType.TEXT, threads=True)
        held = h.standin.faults.delay("POST /channels/*/messages/*/threads", seconds=1.0, times=1, received=True)
        h.add_story(story)
        await h.rescan_now()
        tick = asyncio.create_task(h.bot.jobs.post_alerts())
        await until(lambda: held.fired == 1, 10, "the thread to be asked for")
        # The bot goes down while Discord creates the thread: the tick dies mid-request (as at shutdown), so the
        # ledger keeps the claim and never hears of the thread.
        tick.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tick
        # Discord goes on with the request nobody waits for: the thread exists before the bot is back.
        await until(lambda: h.standin.api_in_flight == 0, 10, "the held request to settle")
        created_while_down = [t.id for t in h.standin.threads_in(news)]
        await h.restart()
        await h.bot.jobs.post_alerts()
        await h.bot.jobs.post_alerts()
        [post] = h.standin.messages_in(news)
        threads = h.standin.threads_in(news)
        in_thread = h.standin.messages_in(post.id)
        starts = h.standin.requests_to(f"POST /channels/{news}/messages/{post.id}/threads")

    assert [t.id for t in threads] == [post.id]
    assert [m.content.startswith(RELATED_HEADING) for m in in_thread] == [True]
    assert created_while_down == [post.id]
    # The answer never reached the bot (logged as 0); asked again after the restart, Discord said 160004.
    assert [s.status for s in starts] == [0, 400]


async def test_e2e_alerts_add_names_a_missing_thread_permission(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        h.standin.deny_bot(news.id, "create_public_threads")
        refused = await h.invoke("alerts add", {"channel": news, "threads": True}, user=h.admin)
        plain = await h.invoke("alerts add", {"channel": news}, user=h.admin)
        forum = h.standin.add_channel(h.guild.id, "stories", ChannelType.FORUM)
        no_tags = await h.invoke("alerts add", {"channel": forum, "create_tags": True}, user=h.admin)

    assert "missing Create Public Threads" in refused.content
    assert "Send Messages in Threads" not in refused.content
    assert "will now get" in plain.content  # without threads the channel is fine
    assert "missing Manage Channels" in no_tags.content


def _tag_count(h: Harness, forum_id: int) -> int:
    channel = h.bot.get_channel(forum_id)
    return len(channel.available_tags) if isinstance(channel, discord.ForumChannel) else -1


async def test_e2e_a_deleted_alert_gets_no_thread_and_is_not_tried_again(tmp_path: Path, clock: ManualClock) -> None:
    story = Story(
        slug="gone",
        title="An alert a moderator deleted at once",
        topics=("AI",),
        heat=120,
        related=(Related(title="Background", url="https://elsewhere.example/background"),),
    )
    async with alerts_harness(tmp_path, clock) as h:
        news = await _follow(h, "news", ChannelType.TEXT, threads=True)
        h.standin.faults.fail("POST /channels/*/messages/*/threads", status=503, times=1)
        h.add_story(story)
        await post_now(h)  # posted; starting its thread fails for now
        posted = await h.standin.wait_for_message(news)
        posted.deleted = True  # a moderator removes the alert before the retry
        for _ in range(3):
            clock.advance(timedelta(hours=1))
            await h.bot.jobs.post_alerts()
        starts = h.standin.requests_to(f"POST /channels/{news}/messages/*/threads")
        listed = await h.invoke("alerts list", user=h.admin)

    assert [s.status for s in starts] == [503, 404]
    assert h.standin.threads_in(news) == []
    assert "failing" not in listed.content  # a deleted alert is not a fault of the channel
