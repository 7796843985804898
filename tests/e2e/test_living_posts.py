"""Living posts end to end: the real bot edits its alert messages on the stand-in (PATCH .../messages/{id})."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from tests.discord_standin import ChannelType
from tests.e2e.harness import Harness
from tests.e2e.stories import Story
from tests.e2e.test_alerts import alerts_harness, post_now

pytestmark = pytest.mark.e2e


def fields(message: Any) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


async def follow(h: Harness) -> int:
    news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
    await h.invoke("alerts add", {"channel": news, "min_heat": 80}, user=h.admin)
    await h.bot.jobs.post_alerts()  # the stories already hot are not posted
    return news.id


EVENT = Story(
    slug="delhi-compsmag",
    title="Delhi airport evaluating \u2018computer vision\u2019 tech to track passengers, ensure social distancing: "
    "CEO",
    topics=("AI",),
    heat=120,
    provider="Compsmag",
    domain="compsmag.com",
)
RETOLD = Story(
    slug="delhi-republic",
    title="Delhi Airport Evaluating 'computer Vision' Tech To Track Flyers, Ensure Social Distancing: Official",
    topics=("AI",),
    heat=125,
    provider="Republic World",
    domain="republicworld.com",
)


async def test_e2e_two_providers_of_one_event_make_one_post_that_lists_the_other(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = await follow(h)
        h.add_story(EVENT)
        await post_now(h)
        await h.standin.wait_for_message(news)
        clock.advance(timedelta(hours=2))
        h.add_story(RETOLD)
        await post_now(h)
        [message] = h.standin.messages_in(news)
        related = await h.invoke("related", {"story": RETOLD.link})

    assert message.embeds[0]["title"].startswith("Delhi airport evaluating")
    assert message.edits == 1
    assert fields(message)["Also covered by"] == f"[Republic World]({RETOLD.link})"
    assert message.allowed_mentions == {"parse": []}
    listing = related.embeds[1]["description"]
    assert "**Also covered by**\n• [Delhi airport evaluating" in listing
    assert f"]({EVENT.link}) · Compsmag · story " in listing


async def test_e2e_posted_message_follows_the_files_heat_once_per_window(tmp_path: Path, clock: ManualClock) -> None:
    story = Story(slug="rising", title="A story that keeps heating up", topics=("AI",), heat=90)
    async with alerts_harness(tmp_path, clock) as h:
        news = await follow(h)
        h.add_story(story)
        await post_now(h)
        posted = await h.standin.wait_for_message(news)
        assert fields(posted)["Heat"] == "90"
        clock.advance(timedelta(minutes=3))
        h.add_story(dataclasses.replace(story, heat=135))
        await post_now(h)
        [first] = h.standin.messages_in(news)
        first_heat, first_edits = fields(first)["Heat"], first.edits
        h.add_story(dataclasses.replace(story, heat=160))
        await post_now(h)  # inside the 10-minute window: no second edit yet
        held_edits = h.standin.messages_in(news)[0].edits
        clock.advance(timedelta(minutes=10))
        await h.bot.jobs.post_alerts()
        [last] = h.standin.messages_in(news)

    assert first_heat == "135 ▲ rising from 90"
    assert first_edits == 1
    assert held_edits == 1
    assert last.edits == 2
    assert fields(last)["Heat"] == "160 ▲ rising from 135"
    assert last.embeds[0]["footer"]["text"].endswith(f"updated {clock.now():%H:%M} UTC")


async def test_e2e_alerts_add_dedupe_false_posts_each_provider(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        reply = await h.invoke("alerts add", {"channel": news, "min_heat": 80, "dedupe": False}, user=h.admin)
        await h.bot.jobs.post_alerts()
        h.add_story(EVENT)
        h.add_story(RETOLD)
        await post_now(h)
        titles = sorted(m.embeds[0]["title"][:14] for m in h.standin.messages_in(news.id))

    assert "dedupe off" in reply.content
    assert titles == ["Delhi Airport ", "Delhi airport "]


async def test_e2e_forum_post_is_edited_through_its_thread(tmp_path: Path, clock: ManualClock) -> None:
    story = Story(slug="forum-rising", title="A forum story heating up", topics=("AI",), heat=90)
    async with alerts_harness(tmp_path, clock) as h:
        forum = h.standin.add_channel(h.guild.id, "stories", ChannelType.FORUM)
        await h.invoke("alerts add", {"channel": forum, "min_heat": 80}, user=h.admin)
        await h.bot.jobs.post_alerts()
        h.add_story(story)
        await post_now(h)
        [thread] = h.standin.threads_in(forum.id)
        h.add_story(dataclasses.replace(story, heat=120))
        await post_now(h)
        [starter] = h.standin.messages_in(thread.id)

    assert starter.id == thread.id
    assert starter.edits == 1
    assert fields(starter)["Heat"] == "120 ▲ rising from 90"


async def test_e2e_a_deleted_message_is_tried_once_and_then_left_alone(tmp_path: Path, clock: ManualClock) -> None:
    story = Story(slug="deleted", title="A story whose alert a moderator deleted", topics=("AI",), heat=90)
    async with alerts_harness(tmp_path, clock) as h:
        news = await follow(h)
        h.add_story(story)
        await post_now(h)
        posted = await h.standin.wait_for_message(news)
        posted.deleted = True  # a moderator removed the alert
        h.add_story(dataclasses.replace(story, heat=130))
        await post_now(h)
        clock.advance(timedelta(hours=1))
        h.add_story(dataclasses.replace(story, heat=170))
        await post_now(h)
        patches = h.standin.requests_to(f"PATCH /channels/{news}/messages/*")
        later = await h.invoke("alerts list", user=h.admin)

    assert [p.status for p in patches] == [404]
    assert "failing" not in later.content  # a deleted alert is not a fault of the channel
