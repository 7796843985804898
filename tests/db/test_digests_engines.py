"""DigestStore on both engines: the stories of many windows at once equal a plain per-window answer."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from db import StoreLocation
from db.interfaces import Store
from db.models import DigestWindow
from tests.support.seed import NOW, Seeder, SeedStory

TOPICS = ("AI", "Cloud", "Chips", "Space")


@pytest.fixture
def seeded(location: StoreLocation, store: Store) -> list[tuple[int, int, tuple[str, ...], float]]:
    """60 stories over the last 10 days: (id, heat, topics, hours before NOW)."""
    rng = random.Random(9)
    rows = []
    with Seeder(location) as seeder:
        for _ in range(60):
            hours = rng.uniform(0, 240)
            heat = rng.choice([-1, 40, 70, 75, 80, 90, 100, 110, 120, 150])
            topics = tuple(rng.sample(TOPICS, rng.randint(1, 2)))
            story = SeedStory(heat=heat, quality=50, topics=topics)
            rows.append((seeder.add(story, at=NOW - timedelta(hours=hours)), heat, topics, hours))
    return rows


async def test_digest_stories_match_a_plain_answer_for_hours_days_and_weeks(
    store: Store, seeded: list[tuple[int, int, tuple[str, ...], float]]
) -> None:
    ids = {t.name: t.id for t in [await store.lookups.topic_by_name(n) for n in TOPICS] if t is not None}
    windows = []
    for span in (timedelta(hours=1), timedelta(hours=12), timedelta(days=1), timedelta(days=7)):
        for topic in (None, *TOPICS):
            for min_heat, top in ((70, 5), (100, 10), (0, 3)):
                windows.append(
                    DigestWindow(channel_id=1, topic_id=ids[topic] if topic else None, since=NOW - span, until=NOW,
                                 min_heat=min_heat, top=top)
                )  # fmt: skip
    answers = await store.digests.stories(windows)
    names = {v: k for k, v in ids.items()}
    for window, picks in zip(windows, answers, strict=True):
        span_hours = (window.until - window.since).total_seconds() / 3600
        expected = sorted(
            (
                (heat, story_id)
                for story_id, heat, topics, hours in seeded
                if hours <= span_hours
                and heat >= window.min_heat
                and heat >= 0
                and (window.topic_id is None or names[window.topic_id] in topics)
            ),
            key=lambda pair: (-pair[0], pair[1]),
        )[: window.top]
        assert [(p.heat, p.story_id) for p in picks] == expected, window


async def test_digest_stories_flag_what_the_channel_got_as_an_alert(store: Store, location: StoreLocation) -> None:
    with Seeder(location) as seeder:
        story = seeder.add(SeedStory(heat=120), at=NOW - timedelta(hours=2))
        other = seeder.add(SeedStory(heat=110), at=NOW - timedelta(hours=2))
    subscription = await store.subscriptions.upsert(
        guild_id=1, channel_id=5, kind="text", topic_id=None, min_heat=70, min_quality=None, now=NOW
    )
    await store.ledger.queue_backfill(subscription.subscription_id, 1, NOW)
    assert await store.ledger.claim(story, 5, NOW)
    await store.ledger.mark_sent(story, 5, 99, NOW)
    window = DigestWindow(5, None, NOW - timedelta(days=1), NOW, 70, 5)
    elsewhere = DigestWindow(6, None, NOW - timedelta(days=1), NOW, 70, 5)
    here, there = await store.digests.stories([window, elsewhere])
    assert [(p.story_id, p.alerted) for p in here] == [(story, True), (other, False)]
    assert [(p.story_id, p.alerted) for p in there] == [(story, False), (other, False)]
