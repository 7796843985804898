"""The crosspost log: publishes per announcement channel (Discord allows 10 per hour)."""

from __future__ import annotations

from datetime import datetime

from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import to_db


class SqliteCrossposts:
    """alert_crossposts."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def count_since(self, channel_id: int, since: datetime) -> int:
        """How many messages of this channel were published after `since`."""
        row = await self._db.one(
            "SELECT count(*) AS n FROM alert_crossposts WHERE channel_id = ? AND published_at > ?",
            (channel_id, to_db(since)),
        )
        return int(row["n"])

    async def record(self, channel_id: int, message_id: int, now: datetime) -> None:
        """Count a publish (recorded before the call, so a crash can only under-use the budget)."""
        async with self._db.write() as conn:
            await conn.execute(
                "INSERT INTO alert_crossposts (channel_id, message_id, published_at) VALUES (?, ?, ?)",
                (channel_id, message_id, to_db(now)),
            )

    async def prune(self, before: datetime) -> None:
        """Forget publishes older than the rate-limit window."""
        async with self._db.write() as conn:
            await conn.execute("DELETE FROM alert_crossposts WHERE published_at < ?", (to_db(before),))
