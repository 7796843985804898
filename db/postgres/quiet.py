"""Quiet hours per alert channel, and summary messages (several queued stories in one post).

Writers of new ledger rows hold the alert_engine row lock (see db/postgres/ledger.py); `SummaryStore.add` may
insert ledger rows too, so it takes the same lock first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from db.models import QuietHours, SummaryItem, SummaryKind
from db.postgres.alert_sql import GUILD_ACTIVE, QUALIFIES
from db.postgres.database import AsyncConn, PgDatabase
from db.records import as_is, quiet_hours, summary_item, summary_kind

_QUIET_SELECT = (
    "SELECT channel_id, guild_id, start_minute, end_minute, timezone, breaking, held_since FROM alert_quiet_hours"
)

_PRUNE = """
DELETE FROM alert_summaries m WHERE NOT EXISTS (
    SELECT 1 FROM alert_deliveries d WHERE d.story_id = m.story_id AND d.channel_id = m.channel_id
    AND d.status IN ('queued', 'claimed')
)
"""

_PENDING = f"""
SELECT m.channel_id, c.guild_id, c.kind AS channel_kind, m.kind, m.story_id, d.heat, d.attempts
FROM alert_summaries m
JOIN alert_deliveries d ON d.story_id = m.story_id AND d.channel_id = m.channel_id
JOIN alert_channels c ON c.channel_id = m.channel_id
WHERE d.status = 'queued' AND d.next_attempt_at <= %(now)s
  AND c.paused_at IS NULL AND (c.hold_until IS NULL OR c.hold_until <= %(now)s) AND {GUILD_ACTIVE}
ORDER BY m.channel_id, d.heat DESC NULLS LAST, d.story_id
"""

_QUEUE_MISSING = f"""
INSERT INTO alert_deliveries (story_id, channel_id, status, heat, queued_at, next_attempt_at, topic_key)
SELECT st.id, %(channel)s, 'queued', st.heat, %(now)s, %(now)s,
       (SELECT min(s.topic_key) FROM alert_subscriptions s WHERE s.channel_id = %(channel)s AND {QUALIFIES})
FROM stories st WHERE st.id = ANY(%(ids)s::bigint[])
ON CONFLICT (story_id, channel_id) DO NOTHING
"""

_ADD = """
INSERT INTO alert_summaries (channel_id, story_id, kind, created_at)
SELECT %(channel)s, j.id, %(kind)s, %(now)s FROM unnest(%(ids)s::bigint[]) AS j(id)
WHERE EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.story_id = j.id AND d.channel_id = %(channel)s
              AND d.status = 'queued')
ON CONFLICT (channel_id, story_id) DO UPDATE SET kind = excluded.kind
"""

_NOT_IN_SUMMARY = (
    "NOT EXISTS (SELECT 1 FROM alert_summaries m WHERE m.channel_id = d.channel_id AND m.story_id = d.story_id)"
)


class PgQuietHours:
    """alert_quiet_hours."""

    def __init__(self, database: PgDatabase) -> None:
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
        row = await self._db.transact(
            lambda conn: _fetch_one(
                conn,
                "INSERT INTO alert_quiet_hours (channel_id, guild_id, start_minute, end_minute, timezone, breaking,"
                " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (channel_id) DO UPDATE SET guild_id = excluded.guild_id,"
                " start_minute = excluded.start_minute, end_minute = excluded.end_minute,"
                " timezone = excluded.timezone, breaking = excluded.breaking, updated_at = excluded.updated_at"
                " RETURNING (xmax = 0) AS created",
                (channel_id, guild_id, start_minute, end_minute, timezone, breaking, now, now),
            )
        )
        return bool(row and row["created"])

    async def clear(self, channel_id: int) -> bool:
        """Remove the channel's window."""
        return await self._db.execute("DELETE FROM alert_quiet_hours WHERE channel_id = %s", (channel_id,)) == 1

    async def for_guild(self, guild_id: int) -> list[QuietHours]:
        rows = await self._db.all(_QUIET_SELECT + " WHERE guild_id = %s ORDER BY channel_id", (guild_id,))
        return [quiet_hours(r, as_is) for r in rows]

    async def every(self) -> list[QuietHours]:
        """Every channel's window."""
        return [quiet_hours(r, as_is) for r in await self._db.all(_QUIET_SELECT + " ORDER BY channel_id")]

    async def mark_held(self, channel_id: int, since: datetime) -> None:
        """A window came into force."""
        await self._db.execute(
            "UPDATE alert_quiet_hours SET held_since = %s WHERE channel_id = %s AND held_since IS NULL",
            (since, channel_id),
        )

    async def end(self, channel_id: int, keep: Sequence[int], now: datetime) -> int:
        """The window ended: `keep` go out in one "away" summary, every other queued story is withdrawn."""
        params = {"channel": channel_id, "ids": list(keep), "now": now, "kind": "away"}

        async def work(conn: AsyncConn) -> int:
            await conn.execute(_ADD, params)
            cur = await conn.execute(
                "UPDATE alert_deliveries d SET status = 'withdrawn',"
                " last_error = 'held during quiet hours; not among the hottest in the summary'"
                f" WHERE d.channel_id = %(channel)s AND d.status = 'queued' AND {_NOT_IN_SUMMARY}",
                params,
            )
            withdrawn = cur.rowcount
            await conn.execute("UPDATE alert_quiet_hours SET held_since = NULL WHERE channel_id = %(channel)s", params)
            return withdrawn

        return await self._db.transact(work)


async def _fetch_one(conn: AsyncConn, statement: str, params: Sequence[object]) -> dict[str, object] | None:
    cur = await conn.execute(statement, params)
    return await cur.fetchone()


class PgSummaries:
    """alert_summaries, over the delivery ledger."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def add(self, channel_id: int, kind: SummaryKind, story_ids: Sequence[int], now: datetime) -> int:
        """Put these stories in the channel's next `kind` summary (queueing any the channel never had)."""
        params = {"channel": channel_id, "ids": list(story_ids), "now": now, "kind": kind}

        async def work(conn: AsyncConn) -> int:
            await conn.execute("SELECT 1 FROM alert_engine WHERE id = 1 FOR UPDATE")
            await conn.execute(_QUEUE_MISSING, params)
            cur = await conn.execute(_ADD, params)
            return cur.rowcount

        return await self._db.transact(work)

    async def pending(self, now: datetime) -> list[SummaryItem]:
        """Summary stories whose ledger row is queued and due, in postable channels."""

        async def work(conn: AsyncConn) -> list[SummaryItem]:
            await conn.execute(_PRUNE)
            cur = await conn.execute(_PENDING, {"now": now})
            return [summary_item(r) for r in await cur.fetchall()]

        return await self._db.transact(work)

    async def finish(self, channel_id: int, story_ids: Sequence[int]) -> None:
        """These stories left their summary."""
        await self._db.execute(
            "DELETE FROM alert_summaries WHERE channel_id = %s AND story_id = ANY(%s::bigint[])",
            (channel_id, list(story_ids)),
        )

    async def kind_of(self, channel_id: int, story_id: int) -> SummaryKind | None:
        row = await self._db.one(
            "SELECT kind FROM alert_summaries WHERE channel_id = %s AND story_id = %s", (channel_id, story_id)
        )
        return None if row is None else summary_kind(str(row["kind"]))

    async def qualifying(self, channel_id: int, story_ids: Sequence[int]) -> list[int]:
        """Those of the stories some subscription of the channel still wants, hottest first."""
        rows = await self._db.all(
            "SELECT st.id FROM stories st WHERE st.id = ANY(%(ids)s::bigint[])"
            f" AND EXISTS (SELECT 1 FROM alert_subscriptions s WHERE s.channel_id = %(channel)s AND {QUALIFIES})"
            " ORDER BY st.heat DESC NULLS LAST, st.id",
            {"channel": channel_id, "ids": list(story_ids)},
        )
        return [r["id"] for r in rows]

    async def crossed_since(self, channel_id: int, since: datetime, limit: int) -> list[int]:
        """The hottest stories that crossed one of the channel's lines since `since`, qualify, and were never
        queued there."""
        rows = await self._db.all(
            "SELECT st.id FROM stories st WHERE st.id IN ("
            "  SELECT e.story_id FROM heat_history e JOIN alert_subscriptions s ON s.channel_id = %(channel)s"
            "  WHERE e.observed_at > %(since)s AND e.heat >= s.min_heat"
            "  AND coalesce(e.previous_heat, -1) < s.min_heat)"
            f" AND EXISTS (SELECT 1 FROM alert_subscriptions s WHERE s.channel_id = %(channel)s AND {QUALIFIES})"
            " AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.story_id = st.id"
            " AND d.channel_id = %(channel)s)"
            " ORDER BY st.heat DESC NULLS LAST, st.id LIMIT %(limit)s",
            {"channel": channel_id, "since": since, "limit": limit},
        )
        return [r["id"] for r in rows]

    async def queued_ids(self, channel_id: int, limit: int) -> list[int]:
        """The channel's queued stories in no summary, hottest first."""
        rows = await self._db.all(
            "SELECT d.story_id FROM alert_deliveries d WHERE d.channel_id = %s AND d.status = 'queued'"
            f" AND {_NOT_IN_SUMMARY} ORDER BY d.heat DESC NULLS LAST, d.story_id LIMIT %s",
            (channel_id, limit),
        )
        return [r["story_id"] for r in rows]

    async def backlogged(self, more_than: int) -> list[int]:
        """Channels with more than `more_than` queued stories in no summary."""
        rows = await self._db.all(
            f"SELECT d.channel_id FROM alert_deliveries d WHERE d.status = 'queued' AND {_NOT_IN_SUMMARY}"
            " GROUP BY d.channel_id HAVING count(*) > %s ORDER BY d.channel_id",
            (more_than,),
        )
        return [r["channel_id"] for r in rows]

    async def guild_paused_at(self, guild_id: int) -> datetime | None:
        """When the guild's alerts were paused."""
        row = await self._db.one("SELECT paused_at FROM alert_guild_pauses WHERE guild_id = %s", (guild_id,))
        return None if row is None else row["paused_at"]
