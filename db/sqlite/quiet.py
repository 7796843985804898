"""Quiet hours per alert channel, and summary messages (several queued stories in one post)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from db.models import QuietHours, SummaryItem, SummaryKind
from db.records import quiet_hours, summary_item, summary_kind
from db.sqlite.alert_sql import _GUILD_ACTIVE, _QUALIFIES
from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import from_db, to_db

_QUIET_SELECT = (
    "SELECT channel_id, guild_id, start_minute, end_minute, timezone, breaking, held_since FROM alert_quiet_hours"
)

# Rows of alert_summaries whose story is no longer waiting in the ledger (posted, withdrawn) are done with.
_PRUNE = """
DELETE FROM alert_summaries WHERE NOT EXISTS (
    SELECT 1 FROM alert_deliveries d WHERE d.story_id = alert_summaries.story_id
    AND d.channel_id = alert_summaries.channel_id AND d.status IN ('queued', 'claimed')
)
"""

_PENDING = f"""
SELECT m.channel_id, c.guild_id, c.kind AS channel_kind, m.kind, m.story_id, d.heat, d.attempts
FROM alert_summaries m
JOIN alert_deliveries d ON d.story_id = m.story_id AND d.channel_id = m.channel_id
JOIN alert_channels c ON c.channel_id = m.channel_id
WHERE d.status = 'queued' AND d.next_attempt_at <= :now
  AND c.paused_at IS NULL AND (c.hold_until IS NULL OR c.hold_until <= :now) AND {_GUILD_ACTIVE}
ORDER BY m.channel_id, d.heat DESC, d.story_id
"""

# A story a summary adds that the channel never had (a pause skipped it) gets its ledger row here, owned by the
# first subscription of the channel that wants it ("every topic" first), as the enqueue would have made it.
_QUEUE_MISSING = f"""
INSERT INTO alert_deliveries (story_id, channel_id, status, heat, queued_at, next_attempt_at, topic_key)
SELECT st.id, :channel, 'queued', st.heat, :now, :now,
       (SELECT min(s.topic_key) FROM alert_subscriptions s WHERE s.channel_id = :channel AND {_QUALIFIES})
FROM stories st WHERE st.id IN (SELECT value FROM json_each(:ids))
ON CONFLICT (story_id, channel_id) DO NOTHING
"""

_ADD = """
INSERT INTO alert_summaries (channel_id, story_id, kind, created_at)
SELECT :channel, j.value, :kind, :now FROM json_each(:ids) j
WHERE EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.story_id = j.value AND d.channel_id = :channel
              AND d.status = 'queued')
ON CONFLICT (channel_id, story_id) DO UPDATE SET kind = excluded.kind
"""

_NOT_IN_SUMMARY = (
    "NOT EXISTS (SELECT 1 FROM alert_summaries m WHERE m.channel_id = d.channel_id AND m.story_id = d.story_id)"
)


class SqliteQuietHours:
    """alert_quiet_hours."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def set(
        self,
        *,
        guild_id: int,
        channel_id: int,
        start_minute: int,
        end_minute: int,
        timezone: str,
        breaking: int | None,
        now: datetime,
    ) -> bool:
        """Create or replace the channel's window (one in force stays in force); True when new."""
        async with self._db.write() as conn:
            async with conn.execute("SELECT 1 FROM alert_quiet_hours WHERE channel_id = ?", (channel_id,)) as cur:
                existed = await cur.fetchone() is not None
            await conn.execute(
                "INSERT INTO alert_quiet_hours (channel_id, guild_id, start_minute, end_minute, timezone, breaking,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel_id) DO UPDATE SET guild_id = excluded.guild_id,"
                " start_minute = excluded.start_minute, end_minute = excluded.end_minute,"
                " timezone = excluded.timezone, breaking = excluded.breaking, updated_at = excluded.updated_at",
                (channel_id, guild_id, start_minute, end_minute, timezone, breaking, to_db(now), to_db(now)),
            )
        return not existed

    async def clear(self, channel_id: int) -> bool:
        """Remove the channel's window."""
        async with self._db.write() as conn:
            cur = await conn.execute("DELETE FROM alert_quiet_hours WHERE channel_id = ?", (channel_id,))
            return cur.rowcount == 1

    async def for_guild(self, guild_id: int) -> list[QuietHours]:
        rows = await self._db.all(_QUIET_SELECT + " WHERE guild_id = ? ORDER BY channel_id", (guild_id,))
        return [quiet_hours(r, from_db) for r in rows]

    async def every(self) -> list[QuietHours]:
        """Every channel's window."""
        return [quiet_hours(r, from_db) for r in await self._db.all(_QUIET_SELECT + " ORDER BY channel_id")]

    async def mark_held(self, channel_id: int, since: datetime) -> None:
        """A window came into force."""
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE alert_quiet_hours SET held_since = ? WHERE channel_id = ? AND held_since IS NULL",
                (to_db(since), channel_id),
            )

    async def end(self, channel_id: int, keep: Sequence[int], now: datetime) -> int:
        """The window ended: `keep` go out in one "away" summary, every other queued story is withdrawn."""
        params = {"channel": channel_id, "ids": json.dumps(list(keep)), "now": to_db(now), "kind": "away"}
        async with self._db.write() as conn:
            await conn.execute(_ADD, params)
            cur = await conn.execute(
                "UPDATE alert_deliveries AS d SET status = 'withdrawn',"
                " last_error = 'held during quiet hours; not among the hottest in the summary'"
                f" WHERE d.channel_id = :channel AND d.status = 'queued' AND {_NOT_IN_SUMMARY}",
                params,
            )
            withdrawn = cur.rowcount
            await conn.execute("UPDATE alert_quiet_hours SET held_since = NULL WHERE channel_id = :channel", params)
        return withdrawn


class SqliteSummaries:
    """alert_summaries, over the delivery ledger."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def add(self, channel_id: int, kind: SummaryKind, story_ids: Sequence[int], now: datetime) -> int:
        """Put these stories in the channel's next `kind` summary (queueing any the channel never had)."""
        params = {"channel": channel_id, "ids": json.dumps(list(story_ids)), "now": to_db(now), "kind": kind}
        async with self._db.write() as conn:
            await conn.execute(_QUEUE_MISSING, params)
            await conn.execute(_ADD, params)
            async with conn.execute("SELECT changes()") as cur:
                row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def pending(self, now: datetime) -> list[SummaryItem]:
        """Summary stories whose ledger row is queued and due, in postable channels."""
        async with self._db.write() as conn:
            await conn.execute(_PRUNE)
            async with conn.execute(_PENDING, {"now": to_db(now)}) as cur:
                rows: list[Any] = list(await cur.fetchall())
        return [summary_item(r) for r in rows]

    async def finish(self, channel_id: int, story_ids: Sequence[int]) -> None:
        """These stories left their summary."""
        async with self._db.write() as conn:
            await conn.execute(
                "DELETE FROM alert_summaries WHERE channel_id = ? AND story_id IN (SELECT value FROM json_each(?))",
                (channel_id, json.dumps(list(story_ids))),
            )

    async def kind_of(self, channel_id: int, story_id: int) -> SummaryKind | None:
        row = await self._db.one(
            "SELECT kind FROM alert_summaries WHERE channel_id = ? AND story_id = ?", (channel_id, story_id)
        )
        return None if row is None else summary_kind(str(row["kind"]))

    async def qualifying(self, channel_id: int, story_ids: Sequence[int]) -> list[int]:
        """Those of the stories some subscription of the channel still wants, hottest first."""
        rows = await self._db.all(
            "SELECT st.id FROM stories st WHERE st.id IN (SELECT value FROM json_each(:ids))"
            f" AND EXISTS (SELECT 1 FROM alert_subscriptions s WHERE s.channel_id = :channel AND {_QUALIFIES})"
            " ORDER BY st.heat DESC, st.id",
            {"channel": channel_id, "ids": json.dumps(list(story_ids))},
        )
        return [r["id"] for r in rows]

    async def crossed_since(self, channel_id: int, since: datetime, limit: int) -> list[int]:
        """The hottest stories that crossed one of the channel's lines since `since`, qualify, and were never
        queued there."""
        rows = await self._db.all(
            "SELECT st.id FROM stories st WHERE st.id IN ("
            "  SELECT e.story_id FROM heat_history e JOIN alert_subscriptions s ON s.channel_id = :channel"
            "  WHERE e.observed_at > :since AND e.heat >= s.min_heat AND coalesce(e.previous_heat, -1) < s.min_heat)"
            f" AND EXISTS (SELECT 1 FROM alert_subscriptions s WHERE s.channel_id = :channel AND {_QUALIFIES})"
            " AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.story_id = st.id AND d.channel_id = :channel)"
            " ORDER BY st.heat DESC, st.id LIMIT :limit",
            {"channel": channel_id, "since": to_db(since), "limit": limit},
        )
        return [r["id"] for r in rows]

    async def queued_ids(self, channel_id: int, limit: int) -> list[int]:
        """The channel's queued stories in no summary, hottest first."""
        rows = await self._db.all(
            "SELECT d.story_id FROM alert_deliveries d WHERE d.channel_id = ? AND d.status = 'queued'"
            f" AND {_NOT_IN_SUMMARY} ORDER BY d.heat DESC, d.story_id LIMIT ?",
            (channel_id, limit),
        )
        return [r["story_id"] for r in rows]

    async def backlogged(self, more_than: int) -> list[int]:
        """Channels with more than `more_than` queued stories in no summary."""
        rows = await self._db.all(
            f"SELECT d.channel_id FROM alert_deliveries d WHERE d.status = 'queued' AND {_NOT_IN_SUMMARY}"
            " GROUP BY d.channel_id HAVING count(*) > ? ORDER BY d.channel_id",
            (more_than,),
        )
        return [r["channel_id"] for r in rows]



    async def guild_paused_at(self, guild_id: int) -> datetime | None:
        """When the guild's alerts were paused."""
        row = await self._db.one("SELECT paused_at FROM alert_guild_pauses WHERE guild_id = ?", (guild_id,))
        return None if row is None else from_db(row["paused_at"])
