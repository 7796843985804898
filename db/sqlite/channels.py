"""Alert channels: per-channel delivery state, and pauses of channels and whole guilds."""

from __future__ import annotations

from datetime import datetime

from db.models import ChannelRecord
from db.records import channel_record
from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import from_db, to_db


class SqliteChannels:
    """alert_channels and alert_guild_pauses."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def for_guild(self, guild_id: int) -> list[ChannelRecord]:
        """The guild's alert channels with their state and queue length."""
        rows = await self._db.all(
            "SELECT c.*, (SELECT count(*) FROM alert_deliveries d WHERE d.channel_id = c.channel_id"
            " AND d.status = 'queued') AS queued FROM alert_channels c WHERE c.guild_id = ? ORDER BY c.channel_id",
            (guild_id,),
        )
        return [channel_record(r, from_db) for r in rows]

    async def every_channel(self) -> list[ChannelRecord]:
        """Every alert channel of every guild with its state and queue length (for `heatwave doctor`)."""
        rows = await self._db.all(
            "SELECT c.*, (SELECT count(*) FROM alert_deliveries d WHERE d.channel_id = c.channel_id"
            " AND d.status = 'queued') AS queued FROM alert_channels c ORDER BY c.guild_id, c.channel_id"
        )
        return [channel_record(r, from_db) for r in rows]

    async def guild_paused(self, guild_id: int) -> bool:
        """Whether /alerts pause was used for the whole guild."""
        return await self._db.one("SELECT 1 FROM alert_guild_pauses WHERE guild_id = ?", (guild_id,)) is not None

    async def set_guild_paused(self, guild_id: int, paused: bool, now: datetime) -> bool:
        """Pause or resume a guild; returns whether anything changed."""
        async with self._db.write() as conn:
            if paused:
                cur = await conn.execute(
                    "INSERT OR IGNORE INTO alert_guild_pauses (guild_id, paused_at) VALUES (?, ?)",
                    (guild_id, to_db(now)),
                )
            else:
                cur = await conn.execute("DELETE FROM alert_guild_pauses WHERE guild_id = ?", (guild_id,))
            return cur.rowcount > 0

    async def set_channel_paused(self, guild_id: int, channel_id: int, paused: bool, now: datetime) -> bool:
        """Pause or resume one channel; resuming also clears failures and an auto-pause. Returns whether anything
        changed."""
        async with self._db.write() as conn:
            if paused:
                cur = await conn.execute(
                    "UPDATE alert_channels SET paused_at = ? WHERE channel_id = ? AND guild_id = ?"
                    " AND paused_at IS NULL",
                    (to_db(now), channel_id, guild_id),
                )
            else:
                cur = await conn.execute(
                    "UPDATE alert_channels SET paused_at = NULL, auto_paused_reason = NULL, failure_count = 0,"
                    " hold_until = NULL WHERE channel_id = ? AND guild_id = ?"
                    " AND (paused_at IS NOT NULL OR failure_count > 0 OR hold_until IS NOT NULL)",
                    (channel_id, guild_id),
                )
                # An admin who resumes has usually just fixed the cause: retry at once instead of after the backoff.
                await conn.execute(
                    "UPDATE alert_deliveries SET next_attempt_at = ? WHERE channel_id = ? AND status = 'queued'"
                    " AND next_attempt_at > ?",
                    (to_db(now), channel_id, to_db(now)),
                )
            return cur.rowcount > 0
