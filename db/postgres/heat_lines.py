"""Topic-relative heat lines ("top10%"), computed over the last 30 days of a topic's stories."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from db.models import PercentileRule
from db.postgres.database import PgDatabase

# Only these two tables carry rules; the name is picked from this map, never from input.
_TABLES = {"alert": "alert_subscriptions", "digest": "digest_subscriptions"}

# A topic's recent stories from its links (copies of heat and first-seen time, the story_topics_hot index),
# every topic's from the (first_seen_at, heat) index; suppressed (-1) and unknown (NULL) heat are left out.
_TOPIC_SET = "FROM story_topics x WHERE x.topic_id = %(topic)s AND x.first_seen_at >= %(since)s AND x.heat >= 0"
_EVERY_SET = "FROM stories x WHERE x.first_seen_at >= %(since)s AND x.heat >= 0"


class PgHeatLines:
    """Percentile rules on alert and digest subscriptions."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def line(self, topic_id: int | None, since: datetime, percentile: int) -> tuple[int | None, int]:
        """(the lowest heat of the hottest `percentile`% of the recent stories, how many there are)."""
        count = await self.recent_count(topic_id, since)
        if count == 0:
            return None, 0
        offset = min(count - 1, count * (100 - percentile) // 100)
        where = _TOPIC_SET if topic_id is not None else _EVERY_SET
        row = await self._db.one(
            f"SELECT x.heat {where} ORDER BY x.heat LIMIT 1 OFFSET %(offset)s",
            {"topic": topic_id, "since": since, "offset": offset},
        )
        return (None if row is None else int(row["heat"])), count

    async def recent_count(self, topic_id: int | None, since: datetime) -> int:
        """How many stories `line` looks at."""
        where = _TOPIC_SET if topic_id is not None else _EVERY_SET
        row = await self._db.one(f"SELECT count(*) AS n {where}", {"topic": topic_id, "since": since})
        return int(row["n"]) if row else 0

    async def rules(self) -> list[PercentileRule]:
        """Every subscription whose line is a percentile."""
        rows = await self._db.all(
            "SELECT 'alert' AS kind, id, topic_id, heat_percentile, min_heat, line_at, line_basis"
            " FROM alert_subscriptions WHERE heat_percentile IS NOT NULL"
            " UNION ALL SELECT 'digest', id, topic_id, heat_percentile, min_heat, line_at, line_basis"
            " FROM digest_subscriptions WHERE heat_percentile IS NOT NULL ORDER BY 1, 2"
        )
        return [
            PercentileRule(
                r["kind"], r["id"], r["topic_id"], r["heat_percentile"], r["min_heat"], r["line_at"], r["line_basis"]
            )
            for r in rows
        ]

    async def set_rule(
        self, kind: Literal["alert", "digest"], subscription_id: int, percentile: int | None, basis: int | None,
        now: datetime,
    ) -> None:
        """Make min_heat a percentile rule, or a plain number again (None)."""
        await self._db.execute(
            f"UPDATE {_TABLES[kind]} SET heat_percentile = %s, line_at = %s, line_basis = %s WHERE id = %s",
            (percentile, now if percentile is not None else None, basis, subscription_id),
        )

    async def set_line(
        self, kind: Literal["alert", "digest"], subscription_id: int, min_heat: int, basis: int, now: datetime
    ) -> None:
        """Today's number for a percentile rule."""
        await self._db.execute(
            f"UPDATE {_TABLES[kind]} SET min_heat = %s, line_at = %s, line_basis = %s"
            " WHERE id = %s AND heat_percentile IS NOT NULL",
            (min_heat, now, basis, subscription_id),
        )
