"""Topic-relative heat lines ("top10%"), computed over the last 30 days of a topic's stories."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from db.models import PercentileRule
from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import from_db_optional, to_db

# Only these two tables carry rules; the name is picked from this map, never from input.
_TABLES = {"alert": "alert_subscriptions", "digest": "digest_subscriptions"}

# A topic's recent stories from its links (which carry copies of heat and first-seen time), every topic's from
# the (first_seen_at, heat) index; suppressed (-1) and unknown (NULL) heat are not part of any scale.
_TOPIC_SET = "FROM story_topics x WHERE x.topic_id = :topic AND x.first_seen_at >= :since AND x.heat >= 0"
_EVERY_SET = "FROM stories x WHERE x.first_seen_at >= :since AND x.heat >= 0"


class SqliteHeatLines:
    """Percentile rules on alert and digest subscriptions."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def line(self, topic_id: int | None, since: datetime, percentile: int) -> tuple[int | None, int]:
        """(the lowest heat of the hottest `percentile`% of the recent stories, how many there are)."""
        count = await self.recent_count(topic_id, since)
        if count == 0:
            return None, 0
        # Ascending position of the first story in the hottest `percentile`%: at or above it lies that share.
        offset = min(count - 1, count * (100 - percentile) // 100)
        where = _TOPIC_SET if topic_id is not None else _EVERY_SET
        row = await self._db.one(
            f"SELECT x.heat {where} ORDER BY x.heat LIMIT 1 OFFSET :offset",
            {"topic": topic_id, "since": to_db(since), "offset": offset},
        )
        return (None if row is None else int(row["heat"])), count

    async def recent_count(self, topic_id: int | None, since: datetime) -> int:
        """How many stories `line` looks at."""
        where = _TOPIC_SET if topic_id is not None else _EVERY_SET
        row = await self._db.one(f"SELECT count(*) AS n {where}", {"topic": topic_id, "since": to_db(since)})
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
                r["kind"], r["id"], r["topic_id"], r["heat_percentile"], r["min_heat"], from_db_optional(r["line_at"]),
                r["line_basis"],
            )
            for r in rows
        ]

    async def set_rule(
        self, kind: Literal["alert", "digest"], subscription_id: int, percentile: int | None, basis: int | None,
        now: datetime,
    ) -> None:
        """Make min_heat a percentile rule, or a plain number again (None)."""
        async with self._db.write() as conn:
            await conn.execute(
                f"UPDATE {_TABLES[kind]} SET heat_percentile = ?, line_at = ?, line_basis = ? WHERE id = ?",
                (percentile, to_db(now) if percentile is not None else None, basis, subscription_id),
            )

    async def set_line(
        self, kind: Literal["alert", "digest"], subscription_id: int, min_heat: int, basis: int, now: datetime
    ) -> None:
        """Today's number for a percentile rule."""
        async with self._db.write() as conn:
            await conn.execute(
                f"UPDATE {_TABLES[kind]} SET min_heat = ?, line_at = ?, line_basis = ?"
                " WHERE id = ? AND heat_percentile IS NOT NULL",
                (min_heat, to_db(now), basis, subscription_id),
            )
