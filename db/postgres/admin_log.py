"""The admin log channel of each guild and the rate limit of its notices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from db.models import LogChannelRecord
from db.postgres.database import AsyncConn, PgDatabase


class PgAdminLog:
    """alert_log_channels and alert_log_notices."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def logged_guilds(self) -> list[int]:
        rows = await self._db.all("SELECT guild_id FROM alert_log_channels ORDER BY guild_id")
        return [int(r["guild_id"]) for r in rows]

    async def get(self, guild_id: int) -> LogChannelRecord | None:
        row = await self._db.one(
            "SELECT guild_id, channel_id, set_by, set_at FROM alert_log_channels WHERE guild_id = %s", (guild_id,)
        )
        if row is None:
            return None
        return LogChannelRecord(int(row["guild_id"]), int(row["channel_id"]), int(row["set_by"]), row["set_at"])

    async def set(self, guild_id: int, channel_id: int, set_by: int, now: datetime) -> None:
        await self._db.transact(lambda conn: set_log_channel(conn, guild_id, channel_id, set_by, now))

    async def clear(self, guild_id: int) -> bool:
        return await self._db.transact(lambda conn: clear_log_channel(conn, guild_id))

    async def claim_notice(self, guild_id: int, problem: str, now: datetime, told_before: datetime) -> bool:
        return await self._db.transact(lambda conn: self._claim(conn, guild_id, problem, now, told_before))

    @staticmethod
    async def _claim(conn: AsyncConn, guild_id: int, problem: str, now: datetime, told_before: datetime) -> bool:
        key = (guild_id, problem)
        cur = await conn.execute(
            "INSERT INTO alert_log_notices (guild_id, problem, posted_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (guild_id, problem) DO NOTHING",
            (*key, now),
        )
        if cur.rowcount > 0:
            return True
        # Under READ COMMITTED the WHERE is re-checked once the row lock is ours: of two processes telling the
        # same problem at once, only the first moves posted_at.
        cur = await conn.execute(
            "UPDATE alert_log_notices SET posted_at = %s, resolved_at = NULL"
            " WHERE guild_id = %s AND problem = %s AND posted_at <= %s",
            (now, *key, told_before),
        )
        if cur.rowcount > 0:
            return True
        await conn.execute("UPDATE alert_log_notices SET resolved_at = NULL WHERE guild_id = %s AND problem = %s", key)
        return False

    async def resolve_notices(self, guild_id: int, problems: Sequence[str], now: datetime) -> list[str]:
        if not problems:
            return []
        rows = await self._db.transact(lambda conn: self._resolve(conn, guild_id, list(problems), now))
        return sorted(rows)

    @staticmethod
    async def _resolve(conn: AsyncConn, guild_id: int, problems: list[str], now: datetime) -> list[str]:
        cur = await conn.execute(
            "UPDATE alert_log_notices SET resolved_at = %s WHERE guild_id = %s AND problem = ANY(%s)"
            " AND resolved_at IS NULL RETURNING problem",
            (now, guild_id, problems),
        )
        return [str(r["problem"]) for r in await cur.fetchall()]


async def set_log_channel(conn: AsyncConn, guild_id: int, channel_id: int, set_by: int, now: datetime) -> None:
    """Make `channel_id` the guild's log channel, inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO alert_log_channels (guild_id, channel_id, set_by, set_at) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (guild_id) DO UPDATE SET channel_id = excluded.channel_id, set_by = excluded.set_by,"
        " set_at = excluded.set_at",
        (guild_id, channel_id, set_by, now),
    )


async def clear_log_channel(conn: AsyncConn, guild_id: int) -> bool:
    """Stop the guild's log (and forget its notices), inside the caller's transaction."""
    cur = await conn.execute("DELETE FROM alert_log_channels WHERE guild_id = %s", (guild_id,))
    await conn.execute("DELETE FROM alert_log_notices WHERE guild_id = %s", (guild_id,))
    return cur.rowcount > 0
