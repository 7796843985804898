"""Leases: one holder at a time for a named job, until the lease runs out (the leases table)."""

from __future__ import annotations

from datetime import datetime, timedelta

from db.postgres.database import PgDatabase


class PgLeases:
    """Take, renew and give back leases."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def acquire(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        """Take the lease (or renew it when `holder` has it) until now + ttl; False while another holds it."""
        # Two processes at once: the second waits for the first's row lock, then re-checks the WHERE against the
        # row the first committed (another holder, not expired) and changes nothing.
        changed = await self._db.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
            " WHERE leases.holder = excluded.holder OR leases.expires_at <= %s",
            (name, holder, now + ttl, now),
        )
        return changed == 1

    async def release(self, name: str, holder: str) -> None:
        """Give the lease back (only when `holder` still has it), so another process can take it at once."""
        await self._db.execute("DELETE FROM leases WHERE name = %s AND holder = %s", (name, holder))

    async def holder(self, name: str, *, now: datetime) -> str | None:
        """Who holds the lease now (None: nobody, or it ran out)."""
        row = await self._db.one("SELECT holder FROM leases WHERE name = %s AND expires_at > %s", (name, now))
        return None if row is None else str(row["holder"])
