"""Alert channels: per-channel delivery state, and pauses of channels and whole guilds."""

from __future__ import annotations

from datetime import datetime

from db.models import ChannelRecord
from db.postgres.database import AsyncConn, PgDatabase
from db.records import as_is, channel_record


class PgChannels:
    """alert_channels and alert_guild_pauses."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def for_guild(self, guild_id: int) -> list[ChannelRecord]:
        """The guild's alert channels with their state and queue length."""
        rows = await self._db.all(
            "SELECT c.*, (SELECT count(*) FROM alert_deliveries d WHERE d.channel_id = c.channel_id"
            " AND d.status = 'queued') AS queued FROM alert_channels c WHERE c.guild_id = %s ORDER BY c.channel_id",
            (guild_id,),
        )
        return [channel_record(r, as_is) for r in rows]

    async def every_channel(self) -> list[ChannelRecord]:
        """Every alert channel of every guild with its state and queue length (for `heatwave doctor`)."""
        rows = await self._db.all(
            "SELECT c.*, (SELECT count(*) FROM alert_deliveries d WHERE d.channel_id = c.channel_id"
            " AND d.status = 'queued') AS queued FROM alert_channels c ORDER BY c.guild_id, c.channel_id"
        )
        return [channel_record(r, as_is) for r in rows]

    async def guild_paused(self, guild_id: int) -> bool:
        """Whether /alerts pause was used for the whole guild."""
        return await self._db.one("SELECT 1 FROM alert_guild_pauses WHERE guild_id = %s", (guild_id,)) is not None

    async def set_guild_paused(self, guild_id: int, paused: bool, now: datetime) -> bool:
        """Pause or resume a guild; returns whether anything changed."""
        if paused:
            changed = await self._db.execute(
                "INSERT INTO alert_guild_pauses (guild_id, paused_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (guild_id, now),
            )
        else:
            changed = await self._db.execute("DELETE FROM alert_guild_pauses WHERE guild_id = %s", (guild_id,))
        return changed > 0

    async def set_channel_paused(self, guild_id: int, channel_id: int, paused: bool, now: datetime) -> bool:
        """Pause or resume one channel; resuming also clears failures and an auto-pause. Returns whether anything
        changed."""
        if paused:
            changed = await self._db.execute(
                "UPDATE alert_channels SET paused_at = %s WHERE channel_id = %s AND guild_id = %s"
                " AND paused_at IS NULL",
                (now, channel_id, guild_id),
            )
            return changed > 0

        async def resume(conn: AsyncConn) -> bool:
            cur = await conn.execute(
                "UPDATE alert_channels SET paused_at = NULL, auto_paused_reason = NULL, failure_count = 0,"
                " hold_until = NULL WHERE channel_id = %s AND guild_id = %s"
                " AND (paused_at IS NOT NULL OR failure_count > 0 OR hold_until IS NOT NULL)",
                (channel_id, guild_id),
            )
            # An admin who resumes has usually just fixed the cause: retry at once instead of after the backoff.
            await conn.execute(
                "UPDATE alert_deliveries SET next_attempt_at = %s WHERE channel_id = %s AND status = 'queued'"
                " AND next_attempt_at > %s",
                (now, channel_id, now),
            )
            return cur.rowcount > 0

        return await self._db.transact(resume)
