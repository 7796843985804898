"""/heat's data on both engines: a story's heat history, its topic's median over the period, the breaking line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.errors import NotFound
from bot.services.heat_chart import HeatChartService
from bot.services.lookups import LookupService
from db.interfaces import Store
from db.sqlite.heat_charts import TOPIC_MEDIAN_SQL
from db.sqlite.store import SqliteStore
from tests.support.alerts import StoryWriter
from tests.support.storydb import Story, add_stories

GUILD = 1
NEWS, DESK, OTHER = 100, 200, 300


@pytest.fixture
def charts(store: Store, clock: ManualClock) -> HeatChartService:
    return HeatChartService(store, LookupService(store.lookups, clock), clock)


async def test_history_in_order_with_first_peak_and_now(
    charts: HeatChartService, writer: StoryWriter, clock: ManualClock
) -> None:
    start = clock.now()
    story = writer.add(72, topics=("AI",))
    for heat in (95, 140, 120):
        clock.advance(timedelta(hours=2))
        writer.set_heat(story, heat)
    clock.advance(timedelta(hours=1))

    chart = await charts.chart(str(story))

    assert [(p.at - start, p.heat) for p in chart.points] == [
        (timedelta(0), 72),
        (timedelta(hours=2), 95),
        (timedelta(hours=4), 140),
        (timedelta(hours=6), 120),
    ]
    assert chart.first is not None
    assert chart.first.heat == 72
    assert chart.peak is not None
    assert (chart.peak.heat, chart.peak.at) == (140, start + timedelta(hours=4))
    assert chart.latest.heat == 120
    assert chart.start == start  # published when first seen
    assert chart.end == clock.now()  # the last reading was an hour ago: the line runs on to now


async def test_a_long_quiet_tail_is_cut_after_as_long_again_as_the_history(
    charts: HeatChartService, writer: StoryWriter, clock: ManualClock
) -> None:
    start = clock.now()
    story = writer.add(80)
    clock.advance(timedelta(hours=3))
    writer.set_heat(story, 100)
    clock.advance(timedelta(days=30))

    chart = await charts.chart(str(story))

    assert chart.end == start + timedelta(hours=6)


async def test_an_old_story_first_read_today_is_charted_from_its_readings(
    charts: HeatChartService, writer: StoryWriter, clock: ManualClock
) -> None:
    published = clock.now() - timedelta(days=3 * 365)
    first_read = clock.now()
    story = writer.add(74, topics=("AI",), published_at=published)
    clock.advance(timedelta(hours=2))
    writer.set_heat(story, 79)

    chart = await charts.chart(str(story))

    # Not 2023 → now with both readings at the right edge: half the readings' span of lead-in before the first.
    assert chart.start == first_read - timedelta(hours=1)
    assert chart.story.published_at == published  # still named in the message


async def test_a_story_read_soon_after_publication_is_charted_from_its_publication(
    charts: HeatChartService, writer: StoryWriter, clock: ManualClock
) -> None:
    published = clock.now() - timedelta(hours=3)
    story = writer.add(74, published_at=published)
    clock.advance(timedelta(hours=2))
    writer.set_heat(story, 79)

    chart = await charts.chart(str(story))

    assert chart.start == published


async def test_a_single_reading_is_still_a_chart(charts: HeatChartService, writer: StoryWriter) -> None:
    story = writer.add(88)
    chart = await charts.chart(str(story))
    assert [p.heat for p in chart.points] == [88]
    assert chart.first == chart.peak == chart.latest


async def test_a_suppressed_story_says_since_when_and_what_it_was(
    charts: HeatChartService, writer: StoryWriter, clock: ManualClock
) -> None:
    story = writer.add(90)
    clock.advance(timedelta(hours=1))
    writer.set_heat(story, 130)
    clock.advance(timedelta(hours=1))
    suppressed_at = clock.now()
    writer.set_heat(story, -1)

    chart = await charts.chart(str(story))

    assert chart.suppressed_since == suppressed_at
    assert chart.before_suppression == 130
    assert chart.peak is not None
    assert chart.peak.heat == 130


async def test_unknown_story_is_not_found_with_a_hint(charts: HeatChartService) -> None:
    with pytest.raises(NotFound, match="search"):
        await charts.chart("no such words anywhere")


async def test_topic_median_over_the_period_leaves_out_suppressed_unknown_and_the_story(
    charts: HeatChartService, store: Store, writer: StoryWriter, clock: ManualClock
) -> None:
    now = clock.now()
    inside = now - timedelta(hours=3)
    await add_stories(
        store,
        [
            *(Story(f"AI {h}", topics=("AI", "Robots"), heat=h, published_at=inside) for h in (10, 20, 30, 40)),
            Story("AI suppressed", heat=-1, published_at=inside),
            Story("AI unknown", heat=None, published_at=inside),
            Story("Robots first", topics=("Robots", "AI"), heat=999, published_at=inside),  # AI, not listed first
            Story("AI long before", heat=500, published_at=now - timedelta(days=3)),
            Story("Cooking", topics=("Cooking",), heat=700, published_at=inside),
        ],
    )
    story = writer.add(200, topics=("AI",))

    chart = await charts.chart(str(story))

    # Every story that carries the topic counts (not only those listing it first): 10, 20, 30, 40, 999.
    assert chart.median is not None
    assert (chart.median.topic, chart.median.median, chart.median.stories) == ("AI", 30.0, 5)
    assert chart.median.since == chart.end - timedelta(hours=24)  # a young story: the last 24 hours
    assert chart.median.until == chart.end


async def test_topic_median_of_an_even_count_is_the_mean_of_the_middle_two(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    ids = await add_stories(
        store,
        [Story(f"s{h}", heat=h, published_at=now - timedelta(minutes=m)) for m, h in enumerate((15, 5, 40, 20, 90))],
    )
    topic = await store.lookups.topic_by_name("AI")
    assert topic is not None
    window = {"since": now - timedelta(hours=1), "until": now}
    every = await store.heat_charts.topic_median(topic.id, exclude_story=0, cap=100, **window)
    without_90 = await store.heat_charts.topic_median(topic.id, exclude_story=ids[-1], cap=100, **window)
    latest_three = await store.heat_charts.topic_median(topic.id, exclude_story=0, cap=3, **window)
    none = await store.heat_charts.topic_median(
        topic.id, exclude_story=0, cap=100, since=now + timedelta(hours=1), until=now + timedelta(hours=2)
    )

    assert (every.median, every.stories) == (20.0, 5)
    assert (without_90.median, without_90.stories) == (17.5, 4)
    assert (latest_three.median, latest_three.stories) == (15.0, 3)  # published last: 15, 5, 40
    assert (none.median, none.stories) == (None, 0)


async def test_breaking_line_is_the_channels_own_else_the_servers(
    charts: HeatChartService, store: Store, writer: StoryWriter, clock: ManualClock
) -> None:
    now = clock.now()
    for channel in (NEWS, DESK):
        await store.subscriptions.upsert(
            guild_id=GUILD, channel_id=channel, kind="text", topic_id=None, min_heat=70, min_quality=None, now=now
        )
    await store.quiet_hours.set(
        guild_id=GUILD, channel_id=NEWS, start_minute=22 * 60, end_minute=7 * 60, timezone="UTC", breaking=150, now=now
    )
    await store.roles.set_ping_heat(DESK, 120)
    await store.roles.set_ping_heat(NEWS, 130)
    story = writer.add(90)

    in_news = await charts.chart(str(story), guild_id=GUILD, channel_id=NEWS)
    in_desk = await charts.chart(str(story), guild_id=GUILD, channel_id=DESK)
    elsewhere = await charts.chart(str(story), guild_id=GUILD, channel_id=OTHER)
    other_guild = await charts.chart(str(story), guild_id=GUILD + 1, channel_id=OTHER)
    direct = await charts.chart(str(story))

    assert in_news.breaking is not None
    assert (in_news.breaking.heat, in_news.breaking.kind) == (150, "quiet")
    assert in_news.breaking_here
    assert in_desk.breaking is not None
    assert (in_desk.breaking.heat, in_desk.breaking.kind) == (120, "ping")
    assert in_desk.breaking_here
    assert elsewhere.breaking is not None
    assert (elsewhere.breaking.channel_id, elsewhere.breaking.heat) == (NEWS, 150)
    assert not elsewhere.breaking_here
    assert other_guild.breaking is None
    assert direct.breaking is None


async def test_breaking_lines_come_highest_first(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    for channel in (NEWS, DESK, OTHER):
        await store.subscriptions.upsert(
            guild_id=GUILD, channel_id=channel, kind="text", topic_id=None, min_heat=70, min_quality=None, now=now
        )
    await store.quiet_hours.set(
        guild_id=GUILD, channel_id=NEWS, start_minute=0, end_minute=60, timezone="UTC", breaking=None, now=now
    )
    await store.quiet_hours.set(
        guild_id=GUILD, channel_id=DESK, start_minute=0, end_minute=60, timezone="UTC", breaking=110, now=now
    )
    await store.roles.set_ping_heat(OTHER, 160)
    await store.roles.set_ping_heat(NEWS, None)

    lines = await store.heat_charts.breaking_lines(GUILD)

    assert [(line.channel_id, line.kind, line.heat) for line in lines] == [(OTHER, "ping", 160), (DESK, "quiet", 110)]


@pytest.mark.parametrize("engine", ["sqlite"])
async def test_topic_median_walks_the_topics_newest_index_not_the_table(store: Store) -> None:
    # Bounded by its LIMIT only while it reads story_topics_new in published order (bench/heat_chart.py times it).
    assert isinstance(store, SqliteStore)
    params = {"topic": 1, "since": "2026-11-01", "until": "2026-11-05", "story": 1, "cap": 1000}
    async with store._database.conn.execute("EXPLAIN QUERY PLAN " + TOPIC_MEDIAN_SQL, params) as cursor:
        plan = [row[3] for row in await cursor.fetchall()]
    assert any(
        "SEARCH x USING INDEX story_topics_new (topic_id=? AND published_at>? AND published_at<?)" in p for p in plan
    ), plan
    assert not any(p.startswith("SCAN x") or "stories" in p for p in plan), plan
