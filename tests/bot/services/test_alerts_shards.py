"""Processes that each run some shards share one store: each posts only for the servers on its own shards."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from bot.clock import ManualClock
from bot.services.alerts import AlertService
from bot.services.digests import DigestService
from db.interfaces import Store
from db.models import ShardSet
from tests.support.alerts import FakePoster, StoryWriter
from tests.support.digests import FakeDigestPoster

# Two servers on different shards of 2: Discord routes a server to shard (guild_id >> 22) % shard_count.
ON_SHARD_0 = 4 << 22
ON_SHARD_1 = (5 << 22) | 17
NEWS_0, NEWS_1 = 100, 200


def shard(shard_id: int, count: int = 2) -> ShardSet:
    return ShardSet(count, frozenset({shard_id}))


async def _subscribe(alerts: AlertService) -> None:
    await alerts.add_subscription(guild_id=ON_SHARD_0, channel_id=NEWS_0, channel_kind="text")
    await alerts.add_subscription(guild_id=ON_SHARD_1, channel_id=NEWS_1, channel_kind="text")


async def test_each_process_posts_only_to_the_servers_of_its_shards(
    store: Store, writer: StoryWriter, clock: ManualClock
) -> None:
    first = AlertService(store, clock, max_posts_per_tick=5, rng=random.Random(1))
    second = AlertService(store, clock, max_posts_per_tick=5, rng=random.Random(2))
    await _subscribe(first)
    story = writer.add(120)
    one, two = FakePoster(), FakePoster()

    report = await first.tick(one, shards=shard(0))
    assert report.sent == 1
    assert one.stories_in(NEWS_0) == [story]
    assert one.stories_in(NEWS_1) == []
    # The other server's delivery waits for its own process, untouched.
    assert [q.story_id for q in await store.ledger.queued_for(NEWS_1, None, 10)] == [story]

    await second.tick(two, shards=shard(1))
    await first.tick(one, shards=shard(0))
    await second.tick(two, shards=shard(1))
    assert two.stories_in(NEWS_1) == [story]
    assert two.stories_in(NEWS_0) == []
    assert len(one.sent) == len(two.sent) == 1


async def test_recovery_leaves_the_claims_of_other_shards_alone(
    store: Store, writer: StoryWriter, clock: ManualClock
) -> None:
    alerts = AlertService(store, clock, max_posts_per_tick=5)
    await _subscribe(alerts)
    story = writer.add(120)
    await store.ledger.enqueue_due(clock.now())
    # Shard 1's process is sending right now: its claim is a send in flight, not a crash.
    assert await store.ledger.claim(story, NEWS_1, clock.now())
    assert await store.ledger.claim(story, NEWS_0, clock.now())  # shard 0's process died here
    poster = FakePoster()

    recovery = await alerts.recover(poster, shards=shard(0))

    assert recovery.requeued == 1
    assert poster.find_calls == 1
    assert [(c.story_id, c.channel_id) for c in await store.ledger.claimed()] == [(story, NEWS_1)]


async def test_each_process_sends_only_the_digests_of_its_own_servers(
    store: Store, writer: StoryWriter, clock: ManualClock
) -> None:
    alerts = AlertService(store, clock, max_posts_per_tick=5)
    digests = DigestService(store, clock, alerts=alerts, rng=random.Random(3))
    for guild, channel in ((ON_SHARD_0, NEWS_0), (ON_SHARD_1, NEWS_1)):
        await digests.add(guild_id=guild, channel_id=channel, channel_kind="text")
    [record, _] = await digests.list_digests(ON_SHARD_0) + await digests.list_digests(ON_SHARD_1)
    clock.set(record.next_due_at - timedelta(hours=1))
    writer.add(120)
    clock.set(record.next_due_at)
    first, second = FakeDigestPoster(), FakeDigestPoster()

    await digests.tick(first, shards=shard(0))
    assert [p.channel_id for p in first.posted] == [NEWS_0]
    await digests.tick(second, shards=shard(1))
    await digests.tick(first, shards=shard(0))
    assert [p.channel_id for p in second.posted] == [NEWS_1]
    assert len(first.posted) == 1


async def test_a_process_never_claims_a_delivery_of_another_shards_server(
    store: Store, writer: StoryWriter, clock: ManualClock
) -> None:
    # Twelve servers over four shards, one channel each; two processes run shards {0, 2} and {1, 3}.
    alerts = AlertService(store, clock, max_posts_per_tick=5)
    guilds = [(n << 22) | 5 for n in range(12)]
    channels = {guild: 1_000 + n for n, guild in enumerate(guilds)}
    for guild, channel in channels.items():
        await alerts.add_subscription(guild_id=guild, channel_id=channel, channel_kind="text")
    story = writer.add(150)
    even, odd = ShardSet(4, frozenset({0, 2})), ShardSet(4, frozenset({1, 3}))
    await store.ledger.enqueue_due(clock.now())

    batch = await store.ledger.next_batch(clock.now(), 5, shards=even)
    assert sorted(item.channel_id for item in batch) == sorted(c for g, c in channels.items() if even.owns(g))

    first, second = FakePoster(), FakePoster()
    assert (await alerts.tick(first, shards=even)).sent == 6
    for guild, channel in channels.items():
        delivery = await store.ledger.delivery(story, channel)
        assert delivery is not None
        # The other process's channels were never claimed: still queued, no attempt made.
        assert (delivery.status, delivery.attempts) == (("sent", 1) if even.owns(guild) else ("queued", 0))
    assert (await alerts.tick(second, shards=odd)).sent == 6
    assert sorted(s.channel_id for s in first.sent) == sorted(c for g, c in channels.items() if even.owns(g))
    assert sorted(s.channel_id for s in second.sent) == sorted(c for g, c in channels.items() if odd.owns(g))


class _BusyClock(ManualClock):
    """Time that passes while a tick runs (a second per reading), as it does while a process waits for the lock
    another process holds to queue deliveries."""

    def now(self) -> datetime:
        reading = super().now()
        self.advance(timedelta(seconds=1))
        return reading


async def test_deliveries_another_process_queued_at_a_later_time_go_out_in_the_same_tick(
    store: Store, writer: StoryWriter, clock: ManualClock
) -> None:
    # Both processes start a tick at the same news; the other queues every server's deliveries first, stamped
    # with its own clock half a second after this process's tick began.
    busy = _BusyClock(clock.now())
    alerts = AlertService(store, busy, max_posts_per_tick=5)
    await _subscribe(alerts)
    story = writer.add(120)
    began = clock.now() + timedelta(minutes=1)
    assert await store.ledger.enqueue_due(began + timedelta(seconds=0.5)) == 2
    busy.set(began)
    poster = FakePoster()

    report = await alerts.tick(poster, shards=shard(0))

    assert report.sent == 1  # not a whole post interval later
    assert poster.stories_in(NEWS_0) == [story]
