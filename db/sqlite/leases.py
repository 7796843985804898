"""Leases: one holder at a time for a named job, until the lease runs out (the leases table)."""

from __future__ import annotations

from datetime import datetime, timedelta

from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import to_db


class SqliteLeases:
    """Take, renew and give back leases."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def acquire(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        """Take the lease (or renew it when `holder` has it) until now + ttl; False while another holds it."""
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
                " WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
                (name, holder, to_db(now + ttl), to_db(now)),
            )
            return cursor.rowcount == 1

    async def release(self, name: str, holder: str) -> None:
        """Give the lease back (only when `holder` still has it), so another process can take it at once."""
        async with self._db.write() as conn:
            await conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def holder(self, name: str, *, now: datetime) -> str | None:
        """Who holds the lease now (None: nobody, or it ran out)."""
        row = await self._db.one(
            "SELECT holder FROM leases WHERE name = ? AND expires_at > ?", (name, to_db(now))
        )
        return None if row is None else str(row["holder"])
