"""The admin log channel of each guild and the rate limit of its notices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from db.models import LogChannelRecord
from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import from_db, to_db


class SqliteAdminLog:
    """alert_log_channels and alert_log_notices."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def logged_guilds(self) -> list[int]:
        rows = await self._db.all("SELECT guild_id FROM alert_log_channels ORDER BY guild_id")
        return [int(r["guild_id"]) for r in rows]

    async def get(self, guild_id: int) -> LogChannelRecord | None:
        row = await self._db.one(
            "SELECT guild_id, channel_id, set_by, set_at FROM alert_log_channels WHERE guild_id = ?", (guild_id,)
        )
        if row is None:
            return None
        return LogChannelRecord(
            int(row["guild_id"]), int(row["channel_id"]), int(row["set_by"]), from_db(row["set_at"])
        )

    async def set(self, guild_id: int, channel_id: int, set_by: int, now: datetime) -> None:
        async with self._db.write() as conn:
            await set_log_channel(conn, guild_id, channel_id, set_by, to_db(now))

    async def clear(self, guild_id: int) -> bool:
        async with self._db.write() as conn:
            return await clear_log_channel(conn, guild_id)

    async def claim_notice(self, guild_id: int, problem: str, now: datetime, told_before: datetime) -> bool:
        key = (guild_id, problem)
        async with self._db.write() as conn:
            cur = await conn.execute(
                "INSERT INTO alert_log_notices (guild_id, problem, posted_at) VALUES (?, ?, ?)"
                " ON CONFLICT (guild_id, problem) DO NOTHING",
                (*key, to_db(now)),
            )
            if cur.rowcount > 0:
                return True
            cur = await conn.execute(
                "UPDATE alert_log_notices SET posted_at = ?, resolved_at = NULL"
                " WHERE guild_id = ? AND problem = ? AND posted_at <= ?",
                (to_db(now), *key, to_db(told_before)),
            )
            if cur.rowcount > 0:
                return True
            await conn.execute(
                "UPDATE alert_log_notices SET resolved_at = NULL WHERE guild_id = ? AND problem = ?", key
            )
            return False

    async def resolve_notices(self, guild_id: int, problems: Sequence[str], now: datetime) -> list[str]:
        if not problems:
            return []
        marks = ", ".join("?" for _ in problems)
        async with self._db.write() as conn, conn.execute(
            f"UPDATE alert_log_notices SET resolved_at = ? WHERE guild_id = ? AND problem IN ({marks})"
            " AND resolved_at IS NULL RETURNING problem",
            (to_db(now), guild_id, *problems),
        ) as cur:
            rows = await cur.fetchall()
        return sorted(str(r[0]) for r in rows)


async def set_log_channel(conn: aiosqlite.Connection, guild_id: int, channel_id: int, set_by: int, stamp: str) -> None:
    """Make `channel_id` the guild's log channel, inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO alert_log_channels (guild_id, channel_id, set_by, set_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (guild_id) DO UPDATE SET channel_id = excluded.channel_id, set_by = excluded.set_by,"
        " set_at = excluded.set_at",
        (guild_id, channel_id, set_by, stamp),
    )


async def clear_log_channel(conn: aiosqlite.Connection, guild_id: int) -> bool:
    """Stop the guild's log (and forget its notices), inside the caller's transaction."""
    cur = await conn.execute("DELETE FROM alert_log_channels WHERE guild_id = ?", (guild_id,))
    await conn.execute("DELETE FROM alert_log_notices WHERE guild_id = ?", (guild_id,))
    return cur.rowcount > 0
