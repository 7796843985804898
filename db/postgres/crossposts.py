"""The crosspost log: publishes per announcement channel (Discord allows 10 per hour)."""

from __future__ import annotations

from datetime import datetime

from db.postgres.database import PgDatabase


class PgCrossposts:
    """alert_crossposts."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def count_since(self, channel_id: int, since: datetime) -> int:
        """How many messages of this channel were published after `since`."""
        row = await self._db.one(
            "SELECT count(*) AS n FROM alert_crossposts WHERE channel_id = %s AND published_at > %s",
            (channel_id, since),
        )
        return 0 if row is None else int(row["n"])

    async def record(self, channel_id: int, message_id: int, now: datetime) -> None:
        """Count a publish (recorded before the call, so a crash can only under-use the budget)."""
        await self._db.execute(
            "INSERT INTO alert_crossposts (channel_id, message_id, published_at) VALUES (%s, %s, %s)",
            (channel_id, message_id, now),
        )

    async def prune(self, before: datetime) -> None:
        """Forget publishes older than the rate-limit window."""
        await self._db.execute("DELETE FROM alert_crossposts WHERE published_at < %s", (before,))
