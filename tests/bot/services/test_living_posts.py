"""Living posts on both engines: one post per event in a channel, and messages that follow their story's heat."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.render.stories import LivingPost, living_embed
from bot.services.alerts import AlertService
from bot.services.living_posts import EDIT_INTERVAL, EditFailed, LivingPosts
from bot.services.lookups import LookupService
from bot.services.same_event import title_key
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter, ledger_row

CHANNEL = 501
GUILD = 9
EVENT = "Delhi airport evaluating computer vision tech to track passengers, ensure social distancing: CEO"
RETOLD = "Delhi Airport Evaluating 'computer Vision' Tech To Track Flyers, Ensure Social Distancing: Official"


@dataclass
class Edit:
    channel_id: int
    message_id: int
    post: LivingPost


@dataclass
class EditingPoster(FakePoster):
    """FakePoster that can also edit what it posted; edit failures are scripted (consumed in order)."""

    edits: list[Edit] = field(default_factory=list)
    edit_failures: list[EditFailed] = field(default_factory=list)

    async def edit(self, channel_id: int, message_id: int, post: LivingPost) -> None:
        if self.edit_failures:
            raise self.edit_failures.pop(0)
        living_embed(post)  # what Discord would get must render within its limits
        self.edits.append(Edit(channel_id, message_id, post))


@pytest.fixture
def living_alerts(store: Store, clock: ManualClock) -> AlertService:
    living = LivingPosts(store, clock, rng=random.Random(3))
    return AlertService(store, clock, max_posts_per_tick=5, rng=random.Random(7), living=living)


@pytest.fixture
def poster() -> EditingPoster:
    return EditingPoster()


async def _follow(alerts: AlertService, writer: StoryWriter, min_heat: int = 70) -> None:
    writer.add(1)  # the store needs a heat event before the subscription takes its cursor
    await alerts.add_subscription(guild_id=GUILD, channel_id=CHANNEL, channel_kind="text", min_heat=min_heat)


async def test_second_provider_of_one_event_is_listed_on_the_first_post_not_posted(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster, location: object, clock: ManualClock
) -> None:
    await _follow(living_alerts, writer)
    first = writer.add(90, title=EVENT, provider="compsmag.com")
    await living_alerts.tick(poster)
    assert poster.stories_in(CHANNEL) == [first]
    clock.advance(timedelta(hours=5))
    second = writer.add(95, title=RETOLD, url="https://republicworld.com/delhi", provider="republicworld.com")
    report = await living_alerts.tick(poster)
    assert poster.stories_in(CHANNEL) == [first]  # nothing new posted
    assert report.covered == 1
    assert report.edited == 1
    message_id = poster.sent[0].message_id
    assert ledger_row(location, second, CHANNEL) == ("sent", message_id)  # type: ignore[arg-type]
    [edit] = poster.edits
    assert (edit.channel_id, edit.message_id) == (CHANNEL, message_id)
    field_values = {f.name: f.value for f in living_embed(edit.post).fields}
    assert field_values["Also covered by"] == "[republicworld.com](https://republicworld.com/delhi)"


async def test_stories_that_list_each_other_in_related_are_one_event_whatever_their_titles(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster
) -> None:
    await _follow(living_alerts, writer)
    first = writer.add(90, title="Chip maker unveils a new accelerator", url="https://a.example/chip")
    await living_alerts.tick(poster)
    writer.add(90, title="What the new silicon means for cloud prices", related=["https://a.example/chip"])
    report = await living_alerts.tick(poster)
    assert poster.stories_in(CHANNEL) == [first]
    assert report.covered == 1


async def test_a_different_event_and_the_same_event_after_72_hours_are_posted(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster, clock: ManualClock
) -> None:
    await _follow(living_alerts, writer)
    first = writer.add(90, title=EVENT, provider="compsmag.com")
    other = writer.add(90, title="Microsoft fleshes out Power Apps", provider="infoworld.com")
    await living_alerts.tick(poster)
    clock.advance(timedelta(hours=73))
    late = writer.add(95, title=RETOLD, provider="republicworld.com")
    await living_alerts.tick(poster)
    assert sorted(poster.stories_in(CHANNEL)) == sorted([first, other, late])
    assert not [e for e in poster.edits if e.post.also_covered]


async def test_also_covered_names_five_providers_then_counts_the_rest(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster, clock: ManualClock
) -> None:
    await _follow(living_alerts, writer)
    writer.add(90, title=EVENT, provider="first.example")
    await living_alerts.tick(poster)
    for n in range(7):
        writer.add(90, title=EVENT, provider=f"p{n}.example")
        clock.advance(EDIT_INTERVAL)  # every tick may edit once
        await living_alerts.tick(poster)
    assert len(poster.stories_in(CHANNEL)) == 1
    value = {f.name: f.value for f in living_embed(poster.edits[-1].post).fields}["Also covered by"]
    assert value.count("](https://") == 5
    assert value.endswith("· +2 more")
    assert value.startswith("[p0.example]")


async def test_heat_rise_edits_the_message_once_per_window_and_the_latest_heat_wins(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster, clock: ManualClock
) -> None:
    await _follow(living_alerts, writer)
    story = writer.add(80, title="A story heating up")
    await living_alerts.tick(poster)
    writer.set_heat(story, 85)  # less than 10: no edit
    await living_alerts.tick(poster)
    assert poster.edits == []
    writer.set_heat(story, 104)
    clock.advance(timedelta(minutes=1))
    await living_alerts.tick(poster)
    assert [e.post.story.heat for e in poster.edits] == [104]
    assert {f.name: f.value for f in living_embed(poster.edits[0].post).fields}["Heat"] == "104 ▲ rising from 80"
    assert "updated 12:01 UTC" in (living_embed(poster.edits[0].post).footer.text or "")
    writer.set_heat(story, 130)
    clock.advance(timedelta(minutes=5))
    await living_alerts.tick(poster)
    writer.set_heat(story, 150)
    await living_alerts.tick(poster)
    assert len(poster.edits) == 1  # inside the 10-minute window
    clock.advance(timedelta(minutes=5))
    await living_alerts.tick(poster)
    assert [e.post.story.heat for e in poster.edits] == [104, 150]
    assert poster.edits[1].post.previous_heat == 104


async def test_cooling_and_suppression_are_shown_not_deleted(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster, clock: ManualClock
) -> None:
    await _follow(living_alerts, writer)
    story = writer.add(120, title="A story that cools")
    await living_alerts.tick(poster)
    writer.set_heat(story, 100)
    await living_alerts.tick(poster)
    assert {f.name: f.value for f in living_embed(poster.edits[0].post).fields}["Heat"] == "100 ▼ cooling from 120"
    clock.advance(EDIT_INTERVAL)
    writer.set_heat(story, -1)
    await living_alerts.tick(poster)
    embed = living_embed(poster.edits[1].post)
    assert {f.name: f.value for f in embed.fields}["Heat"] == "suppressed"
    assert (embed.description or "").startswith("⚠ The publisher has since withdrawn this story")


async def test_messages_older_than_48_hours_are_left_alone(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster, clock: ManualClock
) -> None:
    await _follow(living_alerts, writer)
    story = writer.add(80)
    await living_alerts.tick(poster)
    clock.advance(timedelta(hours=49))
    writer.set_heat(story, 150)
    await living_alerts.tick(poster)
    assert poster.edits == []


async def test_a_deleted_message_is_recorded_and_never_retried_and_a_transient_failure_is(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster, clock: ManualClock
) -> None:
    await _follow(living_alerts, writer)
    gone = writer.add(80, title="Deleted by a moderator")
    await living_alerts.tick(poster)
    flaky = writer.add(80, title="Edited after an outage")
    await living_alerts.tick(poster)
    writer.set_heat(gone, 150)  # the bigger change goes first
    writer.set_heat(flaky, 100)
    poster.edit_failures = [
        EditFailed("the message was deleted", gone=True),
        EditFailed("Discord error 503", gone=False),
    ]
    report = await living_alerts.tick(poster)
    assert report.edited == 0
    assert poster.edits == []
    for _ in range(3):
        clock.advance(EDIT_INTERVAL + timedelta(minutes=6))
        await living_alerts.tick(poster)
    assert [e.post.story.id for e in poster.edits] == [flaky]


async def test_edits_survive_a_restart_and_are_not_repeated(
    store: Store, writer: StoryWriter, poster: EditingPoster, clock: ManualClock
) -> None:
    first = AlertService(store, clock, max_posts_per_tick=5, living=LivingPosts(store, clock))
    await _follow(first, writer)
    story = writer.add(80)
    await first.tick(poster)
    writer.set_heat(story, 120)
    # A new process (new services over the same store) picks the edit up, once.
    again = AlertService(store, clock, max_posts_per_tick=5, living=LivingPosts(store, clock))
    await again.tick(poster)
    await again.tick(poster)
    clock.advance(EDIT_INTERVAL * 2)
    await AlertService(store, clock, max_posts_per_tick=5, living=LivingPosts(store, clock)).tick(poster)
    assert [e.post.story.heat for e in poster.edits] == [120]


async def test_a_small_change_across_the_channels_line_is_shown(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster
) -> None:
    await _follow(living_alerts, writer, min_heat=100)
    story = writer.add(103)
    await living_alerts.tick(poster)
    writer.set_heat(story, 98)  # 5 down, but now below the line this channel posts at
    await living_alerts.tick(poster)
    assert [e.post.story.heat for e in poster.edits] == [98]


async def test_related_shows_the_other_stories_of_the_event_both_ways(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster, store: Store, clock: ManualClock
) -> None:
    await _follow(living_alerts, writer)
    first = writer.add(90, title=EVENT, provider="compsmag.com")
    await living_alerts.tick(poster)
    second = writer.add(95, title=RETOLD, provider="republicworld.com")
    third = writer.add(95, title=EVENT, provider="newsbytesapp.com")
    await living_alerts.tick(poster)
    lookups = LookupService(store.lookups, clock, living=store.living)
    assert [s.id for s in (await lookups.related(str(first))).also_covered] == [second, third]
    assert [s.id for s in (await lookups.related(str(second))).also_covered] == [first, third]
    assert (await LookupService(store.lookups, clock).related(str(first))).also_covered == ()


async def test_a_channel_with_dedupe_off_posts_every_providers_story(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster
) -> None:
    writer.add(1)
    added = await living_alerts.add_subscription(guild_id=GUILD, channel_id=CHANNEL, channel_kind="text", dedupe=False)
    again = await living_alerts.add_subscription(guild_id=GUILD, channel_id=CHANNEL, channel_kind="text", min_heat=75)
    first = writer.add(90, title=EVENT, provider="compsmag.com")
    await living_alerts.tick(poster)
    second = writer.add(95, title=RETOLD, provider="republicworld.com")
    await living_alerts.tick(poster)
    assert added.dedupe is False
    assert again.dedupe is False  # left out when re-adding: unchanged
    assert poster.stories_in(CHANNEL) == [first, second]
    on = await living_alerts.add_subscription(guild_id=GUILD, channel_id=CHANNEL, channel_kind="text", dedupe=True)
    assert on.dedupe is True


async def test_title_words_are_forgotten_after_the_dedupe_window(
    living_alerts: AlertService, writer: StoryWriter, poster: EditingPoster, store: Store, clock: ManualClock
) -> None:
    await _follow(living_alerts, writer)
    old = writer.add(90, title=EVENT, provider="compsmag.com")
    await living_alerts.tick(poster)
    story = (await store.lookups.stories([old]))[0]
    words = sorted(title_key(EVENT).words)
    since = clock.now() - timedelta(hours=1)
    assert await store.living.recent_posts(CHANNEL, story, since, words=words, min_shared=1) == []  # itself only
    assert await store.living.prune_words(clock.now() - timedelta(hours=72)) == 0
    clock.advance(timedelta(hours=73))
    assert await store.living.prune_words(clock.now() - timedelta(hours=72)) == len(words)
