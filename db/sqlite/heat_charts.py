"""/heat: a topic's median heat over a period, and a guild's breaking lines, on SQLite."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, cast

from db.models import BreakingLine, TopicMedian
from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import to_db

# The latest `cap` stories of the period come from a walk down story_topics_new (topic, published_at DESC), which
# stops after `cap` rows: the cost is bounded by the cap, not by the topic's size or the period's length. The
# heat is story_topics' own copy, so no story row is read. The two middle rows give the median.
TOPIC_MEDIAN_SQL = """
WITH recent AS (
    SELECT x.heat FROM story_topics x
    WHERE x.topic_id = :topic AND x.published_at >= :since AND x.published_at <= :until
      AND x.heat >= 0 AND x.story_id != :story
    ORDER BY x.published_at DESC LIMIT :cap
), ranked AS (
    SELECT heat, row_number() OVER (ORDER BY heat) AS position, count(*) OVER () AS n FROM recent
)
SELECT avg(heat) AS median, max(n) AS stories FROM ranked WHERE position IN ((n + 1) / 2, (n + 2) / 2)
"""

BREAKING_LINES_SQL = """
SELECT q.channel_id, 'quiet' AS kind, q.breaking AS heat FROM alert_quiet_hours q
WHERE q.guild_id = :guild AND q.breaking IS NOT NULL
UNION ALL
SELECT l.channel_id, 'ping', l.ping_heat FROM living_channels l JOIN alert_channels c ON c.channel_id = l.channel_id
WHERE c.guild_id = :guild AND l.ping_heat IS NOT NULL
ORDER BY 3 DESC, 1, 2
"""


class SqliteHeatCharts:
    """Implements `db.interfaces.HeatChartStore`."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def topic_median(
        self, topic_id: int, *, since: datetime, until: datetime, exclude_story: int, cap: int
    ) -> TopicMedian:
        row = await self._db.one(
            TOPIC_MEDIAN_SQL,
            {"topic": topic_id, "since": to_db(since), "until": to_db(until), "story": exclude_story, "cap": cap},
        )
        if row is None or row["stories"] is None:
            return TopicMedian(None, 0)
        return TopicMedian(float(row["median"]), int(row["stories"]))

    async def breaking_lines(self, guild_id: int) -> list[BreakingLine]:
        rows = await self._db.all(BREAKING_LINES_SQL, {"guild": guild_id})
        return [
            BreakingLine(int(r["channel_id"]), cast(Literal["quiet", "ping"], r["kind"]), int(r["heat"])) for r in rows
        ]
