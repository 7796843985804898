"""The alert engine on both storage engines (the `location`/`store` fixtures of tests/conftest.py): the real
AlertService over each store, stories written by the ingester's store, and a recording poster. PostgreSQL also
runs two bot processes against one queue."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from bot.clock import ManualClock
from bot.services.alerts import AlertService, DeliveryFailed
from db import StoreLocation, open_store, parse_location
from db.interfaces import Store
from tests.support.alerts import LIVING_TABLES, FakePoster
from tests.support.pg import private_schema
from tests.support.seed import NOW, Seeder, SeedStory

GUILD = 1
NEWS = 100
OTHER = 200


@pytest.fixture
def pg_location() -> Iterator[StoreLocation]:
    """For what only PostgreSQL offers: several bot processes on one store (a SQLite file serves one)."""
    with private_schema() as url:
        yield parse_location(url)


@pytest.fixture
def seeder(location: StoreLocation, store: Store) -> Iterator[Seeder]:
    # After `store`: the schema exists before the first story is written.
    with Seeder(location) as s:
        yield s


@pytest.fixture
def service(store: Store, clock: ManualClock) -> AlertService:
    return AlertService(store, clock, max_posts_per_tick=5, rng=random.Random(7))


@pytest.fixture
def poster() -> FakePoster:
    return FakePoster()


class Stories:
    """Stories landing at the clock's time, as a rescan of the news folder writes them."""

    def __init__(self, seeder: Seeder, clock: ManualClock) -> None:
        self._seeder = seeder
        self._clock = clock

    def add(self, heat: int | None, *, topics: tuple[str, ...] = ("AI",), quality: int | None = 80) -> int:
        return self._seeder.add(SeedStory(heat=heat, topics=topics, quality=quality), at=self._clock.now())

    def heat(self, story_id: int, heat: int | None) -> None:
        self._seeder.change(story_id, at=self._clock.now(), heat=heat)


@pytest.fixture
def stories(seeder: Seeder, clock: ManualClock) -> Stories:
    return Stories(seeder, clock)


async def add(service: AlertService, channel: int = NEWS, **kwargs: object) -> int:
    result = await service.add_subscription(guild_id=GUILD, channel_id=channel, channel_kind="text", **kwargs)  # type: ignore[arg-type]
    return result.subscription.id


def permanent(reason: str = "Unknown Channel") -> DeliveryFailed:
    return DeliveryFailed(reason, permanent=True)


def transient() -> DeliveryFailed:
    return DeliveryFailed("503 Service Unavailable", permanent=False)


async def test_a_story_crossing_the_line_after_the_subscription_is_posted_once(
    service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    stories.add(120)  # hot before the subscription: never posted
    warming = stories.add(40)
    await add(service)
    await service.tick(poster)
    stories.heat(warming, 65)
    await service.tick(poster)
    assert poster.sent == []
    clock.advance(timedelta(minutes=5))
    stories.heat(warming, 90)
    report = await service.tick(poster)
    assert report.queued == 1
    stories.heat(warming, 50)
    stories.heat(warming, 110)  # falls and crosses again: still once
    clock.advance(timedelta(minutes=5))
    await service.tick(poster)
    assert poster.stories_in(NEWS) == [warming]


async def test_re_adding_a_subscription_with_only_min_quality_keeps_its_heat_line(
    service: AlertService, stories: Stories, poster: FakePoster
) -> None:
    stories.add(10)  # the topic exists before anyone follows it
    await add(service, topic="AI", min_heat=100)
    await add(service, topic="AI", min_quality=50)
    stories.add(90, quality=80)  # below the line the re-add must not have lowered to 70
    stories.add(110, quality=40)
    wanted = stories.add(110, quality=60)
    await service.tick(poster)
    assert poster.stories_in(NEWS) == [wanted]


async def test_a_new_subscription_does_not_flood_and_backfill_posts_the_hottest(
    service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    ids = {heat: stories.add(heat) for heat in (75, 150, 90, 189, 60)}
    stories.add(-1)
    stories.add(None)
    await add(service, channel=OTHER)
    await add(service, backfill=2)
    for _ in range(2):
        await service.tick(poster)
        clock.advance(timedelta(minutes=1))
    assert poster.stories_in(OTHER) == []
    assert poster.stories_in(NEWS) == [ids[189], ids[150]]


async def test_a_backfill_on_one_topic_posts_its_hottest_stories_only(
    service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    cloud = [stories.add(heat, topics=("Cloud", "AI")) for heat in (80, 130, 100)]
    stories.add(180, topics=("AI",))
    stories.add(170, topics=("Cloud",), quality=10)
    subscription = await add(service, topic="cloud", min_quality=50, backfill=2)
    preview = await service.preview(guild_id=GUILD, channel_id=NEWS, topic="Cloud", backfill=5)
    assert [item.story.id for item in preview.queued] == [cloud[1], cloud[2]]
    assert preview.backfill is not None
    assert [s.id for s in preview.backfill.stories] == [cloud[0]]
    await service.tick(poster)
    assert poster.stories_in(NEWS) == [cloud[1], cloud[2]]
    listing = await service.list_subscriptions(GUILD)
    assert [(s.id, s.topic_name) for s in listing.subscriptions] == [(subscription, "Cloud")]


async def test_fifteen_queued_stories_go_five_per_tick_hottest_first(
    service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    await add(service)
    heats = {stories.add(heat): heat for heat in random.Random(3).sample(range(71, 86), 15)}
    per_tick = []
    for _ in range(4):
        before = len(poster.sent)
        await service.tick(poster)
        per_tick.append(len(poster.sent) - before)
        clock.advance(timedelta(minutes=1))
    assert per_tick == [5, 5, 5, 0]
    assert [heats[s] for s in poster.stories_in(NEWS)] == sorted(heats.values(), reverse=True)
    assert poster.summaries == []


async def test_a_forty_story_burst_keeps_three_ticks_of_posts_and_rolls_up_the_rest(
    service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    await add(service)
    heats = {stories.add(heat): heat for heat in random.Random(4).sample(range(71, 111), 40)}
    by_heat = sorted(heats, key=lambda s: -heats[s])
    first = await service.tick(poster)
    # The 25 beyond three ticks' worth go out at once, together, hottest first; the hottest 5 on their own.
    assert first.rolled_up == 25
    assert poster.summaries == [(NEWS, "rollup", by_heat[15:])]
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        await service.tick(poster)
    assert len(poster.summaries) == 1
    singles = [s for s in poster.stories_in(NEWS) if s not in by_heat[15:]]
    assert singles == by_heat[:15]
    assert sorted(poster.stories_in(NEWS)) == sorted(heats)  # every story exactly once


async def test_a_queued_story_that_cools_or_is_suppressed_is_withdrawn_and_returns_if_it_crosses_again(
    store: Store, service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    await add(service)
    ids = [stories.add(heat) for heat in range(71, 78)]  # 77..73 go now; 71 and 72 wait
    await service.tick(poster)
    assert [q.story_id for q in await store.ledger.queued_for(NEWS, None, 10)] == [ids[1], ids[0]]
    stories.heat(ids[1], 50)
    stories.heat(ids[0], -1)
    clock.advance(timedelta(minutes=1))
    report = await service.tick(poster)
    assert (report.withdrawn, report.sent) == (2, 0)
    assert await store.ledger.queued_for(NEWS, None, 10) == []
    stories.heat(ids[1], 95)
    clock.advance(timedelta(minutes=1))
    await service.tick(poster)
    assert poster.stories_in(NEWS) == [*reversed(ids[2:]), ids[1]]


async def test_a_failed_send_is_retried_after_the_backoff_and_posted_once(
    service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    await add(service)
    story = stories.add(90)
    poster.fail(NEWS, transient(), transient())
    assert (await service.tick(poster)).retrying == 1
    await service.tick(poster)  # still backing off
    assert poster.sent == []
    for _ in range(2):
        clock.advance(timedelta(minutes=1))
        await service.tick(poster)
    assert poster.stories_in(NEWS) == [story]
    (subscription,) = (await service.list_subscriptions(GUILD)).subscriptions
    # The post that finally went through ends the failure: no old error is left to show.
    assert (subscription.last_error, subscription.last_error_at, subscription.failure_count) == (None, None, 0)


async def test_five_channel_faults_pause_the_channel_and_resume_delivers(
    service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    await add(service)
    await add(service, channel=OTHER)
    story = stories.add(90)
    poster.fail(NEWS, *[permanent() for _ in range(5)])
    paused: list[int] = []
    for _ in range(10):
        paused.extend((await service.tick(poster)).auto_paused)
        clock.advance(timedelta(minutes=15))
    assert paused == [NEWS]
    assert poster.stories_in(OTHER) == [story]
    news = next(s for s in (await service.list_subscriptions(GUILD)).subscriptions if s.channel_id == NEWS)
    assert (news.auto_paused_reason, news.failure_count, news.queued) == ("Unknown Channel", 5, 1)
    assert news.channel_paused_at is not None
    resumed = await service.resume(GUILD, NEWS)
    assert resumed.changed
    await service.tick(poster)
    assert poster.stories_in(NEWS) == [story]


async def test_a_story_discord_rejects_is_given_up_and_the_channel_goes_on(
    service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    await add(service)
    bad = stories.add(120)
    good = stories.add(90)
    poster.fail(NEWS, DeliveryFailed("400 Invalid Form Body", permanent=True, story_only=True))
    assert (await service.tick(poster)).rejected == 1
    clock.advance(timedelta(hours=1))
    await service.tick(poster)
    assert poster.stories_in(NEWS) == [good]
    assert bad not in poster.stories_in(NEWS)


async def test_a_paused_channel_keeps_its_queue_and_catches_up_on_what_turned_hot_meanwhile(
    service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    await add(service)
    ids = [stories.add(heat) for heat in range(71, 77)]  # 76..72 go now; 71 waits
    await service.tick(poster)
    paused = await service.pause(GUILD, NEWS)
    assert (paused.changed, paused.queued) == (True, 1)
    clock.advance(timedelta(minutes=1))
    during_pause = stories.add(130)  # turns hot while the channel is paused: in the catch-up message
    await service.tick(poster)
    assert len(poster.sent) == 5
    await service.resume(GUILD, NEWS)
    clock.advance(timedelta(minutes=1))
    await service.tick(poster)
    assert poster.summaries == [(NEWS, "paused", [during_pause])]
    assert [s for s in poster.stories_in(NEWS) if s != during_pause] == list(reversed(ids))


async def test_a_paused_guild_posts_nothing_until_resumed(
    service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    await add(service)
    await add(service, channel=OTHER)
    ids = [stories.add(heat) for heat in range(71, 78)]  # 5 go per channel; 71 and 72 wait
    await service.tick(poster)
    assert (await service.pause(GUILD)).changed
    clock.advance(timedelta(minutes=1))
    during_pause = stories.add(150)
    await service.tick(poster)
    assert len(poster.sent) == 10
    resumed = await service.resume(GUILD)
    assert (resumed.changed, resumed.queued) == (True, 4)
    clock.advance(timedelta(minutes=1))
    await service.tick(poster)
    for channel in (NEWS, OTHER):
        assert [s for s in poster.stories_in(channel) if s != during_pause] == list(reversed(ids))
    assert poster.summaries == [(NEWS, "paused", [during_pause]), (OTHER, "paused", [during_pause])]


async def test_a_removed_subscription_drops_its_queue(
    service: AlertService, stories: Stories, poster: FakePoster
) -> None:
    stories.add(90)
    await add(service, backfill=1)
    await service.pause(GUILD, NEWS)
    await service.tick(poster)
    removed = await service.remove_subscription(guild_id=GUILD, channel_id=NEWS)
    assert removed.removed == 1
    await add(service)
    await service.tick(poster)
    assert poster.sent == []


async def test_a_story_two_subscriptions_of_a_channel_want_is_queued_and_counted_once(
    service: AlertService, stories: Stories, poster: FakePoster
) -> None:
    warming = stories.add(40, topics=("AI",))
    await add(service)
    await add(service, topic="AI", min_heat=60)
    stories.heat(warming, 90)  # crosses both lines in one change
    poster.fail(NEWS, transient())
    assert (await service.tick(poster)).queued == 1
    listing = await service.list_subscriptions(GUILD)
    assert [(s.topic_name, s.queued) for s in listing.subscriptions] == [(None, 1), ("AI", 0)]


def rewind_to_version_3(location: StoreLocation) -> None:
    """Put a store back to before migration 0004: its ledger without the record of who queued each row, and
    without the tables later migrations create (they are created again on the way back up)."""
    statements = [
        # Later migrations' tables go too, so that upgrading runs them again from version 3.
        *(f"DROP TABLE IF EXISTS {t}" for t in LIVING_TABLES),
        "ALTER TABLE alert_deliveries DROP COLUMN topic_key",
        "ALTER TABLE alert_deliveries DROP COLUMN queued_by",
        # Tables and columns of later migrations, which the upgrade makes again.
        "ALTER TABLE alert_subscriptions DROP COLUMN heat_percentile",
        "ALTER TABLE alert_subscriptions DROP COLUMN line_at",
        "ALTER TABLE alert_subscriptions DROP COLUMN line_basis",
        "DROP TABLE IF EXISTS digest_deliveries",
        "DROP TABLE IF EXISTS digest_subscriptions",
        "DROP TABLE IF EXISTS alert_quiet_hours",
        "DROP TABLE IF EXISTS alert_summaries",
        "DROP TABLE alert_log_notices",
        "DROP TABLE alert_log_channels",
    ]
    if location.engine == "sqlite":
        conn = sqlite3.connect(location.path)
        try:
            for statement in [*statements, "PRAGMA user_version = 3"]:
                conn.execute(statement)
            conn.commit()
        finally:
            conn.close()
    else:
        assert location.url is not None
        with psycopg.connect(location.url) as pg:
            for statement in [*statements, "UPDATE schema_version SET version = 3"]:
                pg.execute(statement)


async def test_an_older_stores_queue_is_counted_once_after_the_upgrade(
    location: StoreLocation, clock: ManualClock
) -> None:
    store = await open_store(location)
    try:
        with Seeder(location) as seeder:
            for heat in (100, 120):
                seeder.add(SeedStory(heat=heat, topics=("AI",), quality=80), at=clock.now())
        service = AlertService(store, clock, max_posts_per_tick=5)
        await add(service)
        await add(service, topic="AI", backfill=2)
    finally:
        await store.close()
    rewind_to_version_3(location)
    store = await open_store(location)
    try:
        service = AlertService(store, clock, max_posts_per_tick=5)
        listing = await service.list_subscriptions(GUILD)
        preview = await service.preview(guild_id=GUILD, channel_id=NEWS)
    finally:
        await store.close()
    # Who queued them is not known any more: each row goes to the first subscription that wants it ("every
    # topic" first), so the channel's two stories are counted once, on one line, and no reason is made up.
    assert [(s.topic_name, s.queued) for s in listing.subscriptions] == [(None, 2), ("AI", 0)]
    assert [(i.queued_for.topic_id if i.queued_for else -1, i.queued_by) for i in preview.queued] == [(None, None)] * 2


async def test_recovery_finds_a_message_sent_before_a_crash_and_never_posts_it_again(
    store: Store, service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    subscription = await add(service)
    story = stories.add(90)
    await store.ledger.enqueue_due(clock.now())
    assert await store.ledger.claim(story, NEWS, clock.now())
    assert not await store.ledger.claim(story, NEWS, clock.now())
    await poster.send(NEWS, (await store.lookups.stories([story]))[0])  # sent; the process died here
    (claim,) = await store.ledger.claimed()
    assert (claim.story_id, claim.channel_id, claim.attempts) == (story, NEWS, 1)
    restarted = AlertService(store, clock, max_posts_per_tick=5)
    recovery = await restarted.recover(poster)
    clock.advance(timedelta(hours=1))
    await restarted.tick(poster)
    assert (recovery.found_existing, recovery.requeued) == (1, 0)
    assert poster.stories_in(NEWS) == [story]
    assert await store.ledger.claimed() == []
    assert story not in await store.subscriptions.backfill_candidates(subscription, 10)


async def test_a_claim_without_outcome_is_sent_once_after_recovery_or_when_stale(
    store: Store, service: AlertService, stories: Stories, poster: FakePoster, clock: ManualClock
) -> None:
    await add(service)
    crashed = stories.add(90)
    cancelled = stories.add(80)
    await store.ledger.enqueue_due(clock.now())
    assert await store.ledger.claim(crashed, NEWS, clock.now())  # died before sending
    recovery = await AlertService(store, clock, max_posts_per_tick=5).recover(poster)
    assert recovery.requeued == 1
    assert await store.ledger.claim(cancelled, NEWS, clock.now())  # a tick cancelled mid-send
    await service.tick(poster)
    assert poster.stories_in(NEWS) == [crashed]
    clock.advance(timedelta(minutes=11))
    await service.tick(poster)
    assert poster.stories_in(NEWS) == [crashed, cancelled]


async def test_two_bot_processes_post_every_story_exactly_once_per_channel(pg_location: StoreLocation) -> None:
    clock = ManualClock(NOW)
    first, second = await open_store(pg_location), await open_store(pg_location)
    try:
        with Seeder(pg_location) as seeder:
            stories = Stories(seeder, clock)
            bots = [
                AlertService(s, clock, max_posts_per_tick=5, rng=random.Random(n))
                for n, s in enumerate((first, second))
            ]
            stories.add(10, topics=("AI",))  # makes the topic known
            await bots[0].add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
            await bots[1].add_subscription(guild_id=GUILD, channel_id=OTHER, channel_kind="text", topic="AI")
            await bots[1].add_subscription(guild_id=GUILD, channel_id=300, channel_kind="text", min_heat=100)
            poster = FakePoster()
            rng = random.Random(11)
            on_ai: set[int] = set()
            everything: set[int] = set()
            warming: list[int] = []
            for _ in range(6):
                # Each round: two stories land hot, two land cool and cross every line a round later.
                for story in warming:
                    stories.heat(story, rng.randint(100, 150))
                warming = []
                for hot in (True, True, False, False):
                    topics = rng.choice((("AI",), ("Cloud",), ("Cloud", "AI")))
                    story = stories.add(rng.randint(100, 150) if hot else 60, topics=topics)
                    everything.add(story)
                    if "AI" in topics:
                        on_ai.add(story)
                    if not hot:
                        warming.append(story)
                # Two ticks in each process at once: the pool lets one process race itself, too.
                await asyncio.gather(*(bot.tick(poster) for bot in (*bots, *bots)))
                clock.advance(timedelta(minutes=1))
            for story in warming:
                stories.heat(story, 120)
            for _ in range(4):  # drain the queues
                await asyncio.gather(*(bot.tick(poster) for bot in (*bots, *bots)))
                clock.advance(timedelta(minutes=1))
        posts = Counter((s.channel_id, s.story_id) for s in poster.sent)
        assert max(posts.values()) == 1
        assert {s for c, s in posts if c == NEWS} == everything
        assert {s for c, s in posts if c == 300} == everything
        assert {s for c, s in posts if c == OTHER} == on_ai
        assert await first.ledger.claimed() == []
    finally:
        await first.close()
        await second.close()


async def test_two_processes_turn_each_heat_change_into_deliveries_once(
    pg_location: StoreLocation, clock: ManualClock
) -> None:
    first, second = await open_store(pg_location), await open_store(pg_location)
    try:
        service = AlertService(first, clock, max_posts_per_tick=5)
        await add(service)
        await add(service, channel=OTHER, min_heat=86)
        with Seeder(pg_location) as seeder:
            stories = Stories(seeder, clock)
            for heat in range(80, 92):
                stories.add(heat)
        # A second subscription of the same channel, backfilled while both processes queue the same stories.
        on_topic = await add(service, topic="AI")
        counts = await asyncio.gather(
            *(s.ledger.enqueue_due(clock.now()) for s in (first, second, first, second)),
            second.ledger.queue_backfill(on_topic, 25, clock.now()),
        )
        assert sum(counts) == 12 + 6
        assert sorted(counts[:4])[:3] == [0, 0, 0]
        assert len(await first.ledger.queued_for(NEWS, None, 100)) == 12
    finally:
        await first.close()
        await second.close()


def rewind_to_before_living_posts(location: StoreLocation) -> None:
    """Put a store back to before the living-posts migration (found by name, whatever its number)."""
    from db.postgres.migrate import available_migrations as pg_migrations
    from db.sqlite.migrate import available_migrations as sqlite_migrations

    statements = [f"DROP TABLE {t}" for t in LIVING_TABLES]
    if location.engine == "sqlite":
        before = next(m.number for m in sqlite_migrations() if m.name.endswith("_living_posts.sql")) - 1
        conn = sqlite3.connect(location.path)
        try:
            for statement in [*statements, f"PRAGMA user_version = {before}"]:
                conn.execute(statement)
            conn.commit()
        finally:
            conn.close()
    else:
        assert location.url is not None
        before = next(m.number for m in pg_migrations() if m.name.endswith("_living_posts.sql")) - 1
        with psycopg.connect(location.url) as pg:
            for statement in [*statements, f"UPDATE schema_version SET version = {before}"]:
                pg.execute(statement)


async def test_alerts_posted_in_the_days_before_the_upgrade_follow_their_story_after_it(
    location: StoreLocation, clock: ManualClock
) -> None:
    from bot.render.stories import LivingPost
    from bot.services.living_posts import LivingPosts

    edited: list[tuple[int, int | None]] = []

    class Editor(FakePoster):
        async def edit(self, channel_id: int, message_id: int, post: LivingPost) -> None:
            edited.append((message_id, post.story.heat))

    poster = Editor()
    store = await open_store(location)
    try:
        with Seeder(location) as seeder:
            seeder.add(SeedStory(heat=1), at=clock.now())  # a heat event before the subscription
            service = AlertService(store, clock, max_posts_per_tick=5)
            await add(service)
            old = seeder.add(SeedStory(heat=90, title="Posted five days before"), at=clock.now())
            await service.tick(poster)
            clock.advance(timedelta(days=4))
            recent = seeder.add(SeedStory(heat=90, title="Posted the day before"), at=clock.now())
            await service.tick(poster)
            clock.advance(timedelta(days=1))
            seeder.change(old, at=clock.now(), heat=150)
            seeder.change(recent, at=clock.now(), heat=140)
    finally:
        await store.close()
    rewind_to_before_living_posts(location)
    store = await open_store(location)
    try:
        upgraded = AlertService(store, clock, max_posts_per_tick=5, living=LivingPosts(store, clock))
        await upgraded.tick(poster)
    finally:
        await store.close()
    [posted_recent] = [s.message_id for s in poster.sent if s.story_id == recent]
    assert edited == [(posted_recent, 140)]
