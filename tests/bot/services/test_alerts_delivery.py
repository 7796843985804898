"""Exactly once: retries with backoff, channel faults, auto-pause, crash recovery, crossposting."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.services.alerts import AlertService, DeliveryFailed, retry_delay
from db import StoreLocation
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter, ledger_row, permanent, transient

GUILD = 1
NEWS = 100
OTHER = 200


async def add(alert_service: AlertService, channel: int = NEWS, kind: str = "text") -> None:
    await alert_service.add_subscription(guild_id=GUILD, channel_id=channel, channel_kind=kind)  # type: ignore[arg-type]


def test_retry_delay_starts_within_a_minute_and_caps_at_fifteen_minutes() -> None:
    rng = random.Random(1)
    delays = [retry_delay(n, rng) for n in range(1, 30)]
    assert all(d <= timedelta(minutes=1) for d in delays[:3])
    assert delays[1] > delays[0] or delays[2] > delays[0]
    assert max(delays) <= timedelta(minutes=15)
    assert delays[-1] >= timedelta(minutes=15) * 0.75


async def test_tick_retries_a_transient_failure_after_backoff_and_posts_once(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await add(alert_service)
    story = writer.add(90)
    poster.fail(NEWS, transient(), transient())
    first = await alert_service.tick(poster)
    assert first.retrying == 1
    await alert_service.tick(poster)  # still backing off: nothing is tried
    assert poster.sent == []
    clock.advance(timedelta(minutes=1))
    await alert_service.tick(poster)  # second failure
    clock.advance(timedelta(minutes=1))
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]
    listing = await alert_service.list_subscriptions(GUILD)
    assert (listing.subscriptions[0].last_error, listing.subscriptions[0].failure_count) == (None, 0)


async def test_tick_honours_retry_after_from_a_rate_limit(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await add(alert_service)
    story = writer.add(90)
    poster.fail(NEWS, transient("429 Too Many Requests", retry_after=120))
    await alert_service.tick(poster)
    clock.advance(timedelta(seconds=119))
    await alert_service.tick(poster)
    assert poster.sent == []
    clock.advance(timedelta(seconds=1))
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]


async def test_tick_checks_the_channel_before_retrying_an_ambiguous_failure(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await add(alert_service)
    story = writer.add(90)
    poster.lose_reply_for.add((NEWS, story))  # Discord created the message; the reply never arrived
    await alert_service.tick(poster)
    clock.advance(timedelta(minutes=1))
    report = await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]
    assert report.found_existing == 1


async def test_tick_marks_a_channel_failing_with_the_reason(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await add(alert_service)
    writer.add(90)
    poster.fail(NEWS, permanent("Missing Permissions (Send Messages)"))
    report = await alert_service.tick(poster)
    assert report.channel_faults == 1
    sub = (await alert_service.list_subscriptions(GUILD)).subscriptions[0]
    assert sub.failure_count == 1
    assert sub.last_error == "Missing Permissions (Send Messages)"
    assert sub.queued == 1  # not dropped: it goes once the permission is fixed


async def test_tick_auto_pauses_a_channel_after_repeated_faults_and_resume_delivers(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await add(alert_service)
    story = writer.add(90)
    poster.fail(NEWS, *[permanent("Unknown Channel") for _ in range(5)])
    paused_in: list[int] = []
    for _ in range(12):
        report = await alert_service.tick(poster)
        paused_in.extend(report.auto_paused)
        clock.advance(timedelta(minutes=15))
    assert paused_in == [NEWS]
    sub = (await alert_service.list_subscriptions(GUILD)).subscriptions[0]
    assert sub.auto_paused_reason == "Unknown Channel"
    assert sub.channel_paused_at is not None
    assert poster.sent == []
    await alert_service.resume(GUILD, NEWS)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]


async def test_tick_a_failing_channel_does_not_block_others(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await add(alert_service, channel=NEWS)
    await add(alert_service, channel=OTHER)
    stories = [writer.add(90), writer.add(80)]
    poster.fail(NEWS, permanent())
    await alert_service.tick(poster)
    assert poster.stories_in(OTHER) == stories
    assert poster.stories_in(NEWS) == []


async def test_tick_gives_up_on_a_story_discord_rejects_and_keeps_posting(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await add(alert_service)
    bad = writer.add(120)
    good = writer.add(90)
    poster.fail(NEWS, DeliveryFailed("400 Invalid Form Body", permanent=True, story_only=True))
    report = await alert_service.tick(poster)
    assert report.rejected == 1
    assert poster.stories_in(NEWS) == [good]
    await alert_service.tick(poster)
    assert bad not in poster.stories_in(NEWS)


async def test_recover_finds_the_message_sent_before_a_crash(
    store: Store,
    location: StoreLocation,
    alert_service: AlertService,
    writer: StoryWriter,
    poster: FakePoster,
    clock: ManualClock,
) -> None:
    await add(alert_service)
    story = writer.add(90)
    await store.ledger.enqueue_due(clock.now())
    assert await store.ledger.claim(story, NEWS, clock.now())
    await poster.send(NEWS, (await store.lookups.stories([story]))[0])  # the send happened; the process died here
    restarted = AlertService(store, clock, max_posts_per_tick=5)
    recovery = await restarted.recover(poster)
    await restarted.tick(poster)
    clock.advance(timedelta(hours=1))
    await restarted.tick(poster)
    assert recovery.found_existing == 1
    assert poster.stories_in(NEWS) == [story]
    # Recorded as delivered: no claim left to recover, nothing queued, never offered to the channel again.
    assert await store.ledger.claimed() == []
    assert await store.ledger.queued_for(NEWS, None, 10) == []
    (subscription,) = (await alert_service.list_subscriptions(GUILD)).subscriptions
    assert story not in await store.subscriptions.backfill_candidates(subscription.id, 10)
    assert ledger_row(location, story, NEWS) == ("sent", poster.sent[0].message_id)


async def test_recover_sends_once_when_the_crash_came_before_the_send(
    store: Store, alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await add(alert_service)
    story = writer.add(90)
    await store.ledger.enqueue_due(clock.now())
    assert await store.ledger.claim(story, NEWS, clock.now())  # the process died before sending
    restarted = AlertService(store, clock, max_posts_per_tick=5)
    recovery = await restarted.recover(poster)
    await restarted.tick(poster)
    await restarted.tick(poster)
    assert recovery.requeued == 1
    assert poster.stories_in(NEWS) == [story]


async def test_tick_requeues_a_claim_left_by_a_cancelled_tick(
    store: Store, alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await add(alert_service)
    story = writer.add(90)
    await store.ledger.enqueue_due(clock.now())
    assert await store.ledger.claim(story, NEWS, clock.now())
    clock.advance(timedelta(minutes=11))
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [story]


async def test_tick_publishes_in_announcement_channels_within_ten_an_hour(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await add(alert_service, kind="announcement")
    for heat in range(71, 83):  # 12 stories
        writer.add(heat)
    skipped = 0
    for _ in range(3):
        skipped += (await alert_service.tick(poster)).crosspost_skipped
        clock.advance(timedelta(minutes=1))
    assert len(poster.sent) == 12
    assert len(poster.published) == 10
    assert skipped == 2
    clock.advance(timedelta(hours=1))
    writer.add(150)
    await alert_service.tick(poster)
    assert len(poster.published) == 11


@pytest.mark.parametrize("kind", ["text", "forum", "console"])
async def test_tick_publishes_only_in_announcement_channels(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, kind: str
) -> None:
    await add(alert_service, kind=kind)
    writer.add(90)
    await alert_service.tick(poster)
    assert len(poster.sent) == 1
    assert poster.published == []


async def test_tick_removed_subscription_drops_its_queue(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    writer.add(90)
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", backfill=1)
    await alert_service.pause(GUILD, NEWS)
    await alert_service.tick(poster)
    await alert_service.remove_subscription(guild_id=GUILD, channel_id=NEWS)
    await add(alert_service)
    await alert_service.tick(poster)
    assert poster.sent == []
