"""Quiet hours, catch-up after a pause, on both engines: held alerts, breaking stories, summary messages."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.errors import InvalidArgument, NotFound
from bot.services.alerts import AlertService
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter, transient

GUILD = 1
NEWS = 100
DAY = datetime(2026, 11, 26, tzinfo=UTC)


async def quiet_news(alert_service: AlertService, **options: object) -> None:
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    await alert_service.set_quiet(guild_id=GUILD, channel_id=NEWS, **{"start": "22:00", "end": "07:00", **options})  # type: ignore[arg-type]


async def test_quiet_hours_across_midnight_hold_alerts_except_breaking_then_summarise(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await quiet_news(alert_service, breaking=150)
    clock.set(DAY + timedelta(hours=23))
    held = [writer.add(heat) for heat in (90, 100, 80, 85, 95, 75)]
    breaking = writer.add(160)
    report = await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [breaking]  # posts at once, quiet or not
    assert report.held >= 1
    clock.set(DAY + timedelta(days=1, hours=3))  # past midnight: still quiet
    late = writer.add(120)
    writer.set_heat(held[1], -1)  # suppressed while held: left out of the summary
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [breaking]
    clock.set(DAY + timedelta(days=1, hours=7))
    await alert_service.tick(poster)
    # One message with the 5 hottest still eligible; the sixth is handled, never posted on its own.
    assert poster.summaries == [(NEWS, "away", [late, held[4], held[0], held[3], held[2]])]
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        await alert_service.tick(poster)
    assert sorted(poster.stories_in(NEWS)) == sorted([breaking, late, held[4], held[0], held[3], held[2]])


async def test_quiet_hours_without_a_breaking_line_hold_everything(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await quiet_news(alert_service)
    clock.set(DAY + timedelta(hours=23))
    writer.add(189)
    await alert_service.tick(poster)
    assert poster.sent == []


async def test_quiet_hours_held_set_survives_a_restart(
    store: Store, alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await quiet_news(alert_service)
    clock.set(DAY + timedelta(hours=23))
    first = writer.add(90)
    await alert_service.tick(poster)
    # The bot restarts in the middle of the night: a new service over the same store.
    restarted = AlertService(store, clock, max_posts_per_tick=5, rng=random.Random(1))
    clock.set(DAY + timedelta(days=1, hours=2))
    second = writer.add(110)
    await restarted.tick(poster)
    assert poster.sent == []
    clock.set(DAY + timedelta(days=1, hours=7, minutes=1))
    await restarted.tick(poster)
    assert poster.summaries == [(NEWS, "away", [second, first])]


async def test_quiet_hours_summary_that_fails_is_retried_and_sent_once(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await quiet_news(alert_service)
    clock.set(DAY + timedelta(hours=23))
    story = writer.add(90)
    await alert_service.tick(poster)
    clock.set(DAY + timedelta(days=1, hours=7))
    poster.fail(NEWS, transient())
    await alert_service.tick(poster)
    assert poster.sent == []
    clock.advance(timedelta(minutes=2))
    await alert_service.tick(poster)
    clock.advance(timedelta(minutes=2))
    await alert_service.tick(poster)
    assert poster.summaries == [(NEWS, "away", [story])]
    assert poster.stories_in(NEWS) == [story]


async def test_quiet_hours_off_lets_held_alerts_post_normally(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await quiet_news(alert_service)
    clock.set(DAY + timedelta(hours=23))
    story = writer.add(90)
    await alert_service.tick(poster)
    assert await alert_service.quiet_off(GUILD, NEWS)
    assert not await alert_service.quiet_off(GUILD, NEWS)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]
    assert poster.summaries == []


async def test_quiet_hours_follow_the_local_time_zone(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await quiet_news(alert_service, timezone="America/New_York")  # 22:00-07:00 EST = 03:00-12:00 UTC
    clock.set(DAY + timedelta(hours=23))  # 18:00 in New York: not quiet
    story = writer.add(90)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]
    clock.set(DAY + timedelta(days=1, hours=4))  # 23:00 in New York: quiet
    writer.add(95)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start": "22:00", "end": "22:00"}, "must differ"),
        ({"start": "22", "end": "07:00"}, "HH:MM"),
        ({"start": "22:00", "end": "07:00", "timezone": "Mars/Base"}, "Unknown time zone"),
        ({"start": "22:00", "end": "07:00", "breaking": 900}, "breaking must be between"),
    ],
)
async def test_quiet_hours_bad_input_changes_nothing(
    alert_service: AlertService, options: dict[str, object], message: str
) -> None:
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    with pytest.raises(InvalidArgument, match=message):
        await alert_service.set_quiet(guild_id=GUILD, channel_id=NEWS, **options)  # type: ignore[arg-type]
    assert await alert_service.quiet_hours(GUILD) == []


async def test_quiet_hours_need_alerts_in_the_channel(alert_service: AlertService) -> None:
    with pytest.raises(NotFound, match="no alerts"):
        await alert_service.set_quiet(guild_id=GUILD, channel_id=NEWS, start="22:00", end="07:00")


async def test_resume_sends_the_hottest_stories_of_the_pause_in_one_message(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    queued_before = writer.add(75)
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", backfill=1)
    await alert_service.pause(GUILD, NEWS)
    clock.advance(timedelta(hours=1))
    during = {writer.add(heat): heat for heat in (90, 130, 80, 110, 100, 120, 95)}
    cooled = writer.add(150)
    writer.set_heat(cooled, 50)  # crossed during the pause, but no longer hot: not caught up
    await alert_service.tick(poster)
    result = await alert_service.resume(GUILD, NEWS)
    await alert_service.tick(poster)
    hottest = sorted(during, key=lambda s: -during[s])[:5]
    assert result.catch_up == 5
    assert poster.summaries == [(NEWS, "paused", hottest)]
    assert queued_before in poster.stories_in(NEWS)  # queued before the pause: posts on its own, as before
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        await alert_service.tick(poster)
    assert sorted(poster.stories_in(NEWS)) == sorted([queued_before, *hottest])


async def test_a_failed_summary_counts_as_one_failure_of_the_channel_and_is_retried_whole(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    from tests.support.alerts import permanent

    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    await alert_service.pause(GUILD, NEWS)
    clock.advance(timedelta(minutes=1))
    missed = [writer.add(heat) for heat in (90, 100, 110)]
    await alert_service.tick(poster)
    await alert_service.resume(GUILD, NEWS)
    poster.fail(NEWS, permanent())
    await alert_service.tick(poster)
    [sub] = (await alert_service.list_subscriptions(GUILD)).subscriptions
    assert sub.failure_count == 1
    clock.advance(timedelta(minutes=2))
    await alert_service.tick(poster)
    assert poster.summaries == [(NEWS, "paused", list(reversed(missed)))]
