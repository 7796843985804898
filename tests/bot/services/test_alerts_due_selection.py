"""Which stories become due where: no floods, backfill, later crossings, filters, one post per channel."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import ManualClock
from bot.services.alerts import AlertService
from tests.support.alerts import FakePoster, StoryWriter

GUILD = 1
NEWS = 100
OTHER = 200


async def add(alert_service: AlertService, channel: int = NEWS, **kwargs: object) -> None:
    await alert_service.add_subscription(guild_id=GUILD, channel_id=channel, channel_kind="text", **kwargs)  # type: ignore[arg-type]


async def test_add_subscription_posts_nothing_already_hot(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    for heat in (80, 120, 150):
        writer.add(heat)
    await add(alert_service)
    report = await alert_service.tick(poster)
    assert poster.sent == []
    assert report.queued == 0


async def test_add_subscription_backfill_posts_the_hottest(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    ids = {heat: writer.add(heat) for heat in (75, 150, 90, 189, 60)}
    await add(alert_service, backfill=2)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [ids[189], ids[150]]


async def test_tick_posts_a_new_hot_story(alert_service: AlertService, writer: StoryWriter, poster: FakePoster) -> None:
    await add(alert_service)
    story = writer.add(95)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]


async def test_tick_posts_a_story_when_its_heat_crosses_the_line_later(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    story = writer.add(40)
    await add(alert_service)
    await alert_service.tick(poster)
    writer.set_heat(story, 65)
    await alert_service.tick(poster)
    assert poster.sent == []
    clock.advance(timedelta(minutes=5))
    writer.set_heat(story, 71)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]


async def test_tick_posts_a_story_once_even_if_it_falls_and_crosses_again(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await add(alert_service)
    story = writer.add(90)
    await alert_service.tick(poster)
    writer.set_heat(story, 50)
    writer.set_heat(story, 100)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]


async def test_tick_never_posts_suppressed_or_unknown_heat(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await add(alert_service, min_heat=0)
    writer.add(-1)
    writer.add(None)
    await alert_service.tick(poster)
    assert poster.sent == []


async def test_tick_skips_a_crossing_story_that_was_suppressed_before_the_tick(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await add(alert_service)
    story = writer.add(90)
    writer.set_heat(story, -1)
    await alert_service.tick(poster)
    assert poster.sent == []


async def test_tick_withdraws_a_queued_story_suppressed_while_waiting(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await add(alert_service)
    story = writer.add(90)
    await alert_service.pause(GUILD, NEWS)
    await alert_service.tick(poster)
    await alert_service.resume(GUILD, NEWS)
    await add(alert_service, backfill=1)
    writer.set_heat(story, -1)
    report = await alert_service.tick(poster)
    assert poster.sent == []
    assert report.withdrawn == 1


async def test_tick_follows_only_the_subscribed_topic(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    writer.add(10, topics=["AI", "Robots"])  # makes both topics known
    await add(alert_service, topic="ai")
    on_topic = writer.add(90, topics=["Robots", "AI"])
    writer.add(90, topics=["Robots"])
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [on_topic]


async def test_tick_respects_min_quality(alert_service: AlertService, writer: StoryWriter, poster: FakePoster) -> None:
    await add(alert_service, min_quality=80)
    writer.add(90, quality=60)
    good = writer.add(90, quality=85)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [good]


async def test_tick_posts_once_per_channel_when_two_subscriptions_match(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    writer.add(10, topics=["AI", "Cloud"])
    await add(alert_service, topic="AI")
    await add(alert_service, topic="Cloud")
    story = writer.add(90, topics=["AI", "Cloud"])
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]


async def test_tick_posts_to_each_subscribed_channel(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await add(alert_service, channel=NEWS)
    await add(alert_service, channel=OTHER, min_heat=100)
    warm = writer.add(90)
    hot = writer.add(120)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [hot, warm]
    assert poster.stories_in(OTHER) == [hot]


async def test_tick_caps_posts_per_channel_and_delivers_the_rest_hottest_first(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await add(alert_service)
    heats = list(range(71, 86))  # 15 stories: three ticks' worth, so none is rolled up
    ids = {writer.add(h): h for h in heats}
    per_tick = []
    for _ in range(3):
        before = len(poster.sent)
        await alert_service.tick(poster)
        per_tick.append(len(poster.sent) - before)
        clock.advance(timedelta(minutes=1))
    assert per_tick == [5, 5, 5]
    assert poster.summaries == []
    assert [ids[s] for s in poster.stories_in(NEWS)] == sorted(heats, reverse=True)


async def test_tick_keeps_queued_stories_when_a_hotter_one_arrives(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await add(alert_service)
    for heat in range(71, 78):  # 7 stories: 5 go now, 2 wait
        writer.add(heat)
    await alert_service.tick(poster)
    hottest = writer.add(180)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS)[5] == hottest
    assert len(poster.sent) == 8


async def test_tick_reorders_the_queue_when_a_waiting_story_heats_up(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await add(alert_service)
    ids = [writer.add(heat) for heat in range(71, 78)]  # 7 stories: 71..75 wait after the first tick
    await alert_service.tick(poster)
    writer.set_heat(ids[0], 150)  # the coolest waiting story becomes the hottest
    clock.advance(timedelta(minutes=1))
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS)[5] == ids[0]
