"""Subscriptions: which channel wants which stories (/alerts add, remove, list)."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from db.models import ChannelKind, GuildConfigChange, SubscriptionRecord, UpsertOutcome
from db.records import subscription_record
from db.sqlite.admin_log import clear_log_channel, set_log_channel
from db.sqlite.alert_sql import _QUALIFIES, _REASSIGN_ORPHANS, _WITHDRAW
from db.sqlite.database import SqliteDatabase
from db.sqlite.digests import digest_values, remove_digest, upsert_digest
from db.sqlite.timefmt import from_db, to_db

# `queued` counts what this subscription queued (its channel posts each story once, so a story two subscriptions
# want is queued, and counted, once: see the ledger's enqueue).
_SUBSCRIPTION_SELECT = """
SELECT s.id, c.guild_id, s.channel_id, c.kind, s.topic_id, t.name AS topic_name, s.min_heat, s.min_quality,
       s.heat_percentile,
       s.cursor, s.created_at, s.updated_at, c.paused_at, c.auto_paused_reason, c.failure_count, c.last_error,
       c.last_error_at, c.last_post_at,
       EXISTS (SELECT 1 FROM alert_guild_pauses g WHERE g.guild_id = c.guild_id) AS guild_paused,
       (SELECT count(*) FROM alert_deliveries d WHERE d.channel_id = s.channel_id AND d.status = 'queued'
        AND d.topic_key = s.topic_key) AS queued
FROM alert_subscriptions s
JOIN alert_channels c ON c.channel_id = s.channel_id
LEFT JOIN topics t ON t.id = s.topic_id
"""


class SqliteSubscriptions:
    """The alert_subscriptions table (and the channel row each subscription needs)."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def upsert(
        self,
        *,
        guild_id: int,
        channel_id: int,
        kind: ChannelKind,
        topic_id: int | None,
        min_heat: int,
        min_quality: int | None,
        now: datetime,
        keep_min_heat: bool = False,
        keep_min_quality: bool = False,
    ) -> UpsertOutcome:
        """Create the (channel, topic) subscription, or update the thresholds not kept; the channel row follows."""
        async with self._db.write() as conn:
            return await _upsert(
                conn, guild_id, channel_id, kind, topic_id, min_heat, min_quality, to_db(now),
                keep_min_heat, keep_min_quality,
            )

    async def for_guild(self, guild_id: int) -> list[SubscriptionRecord]:
        """Every subscription of a guild, by channel then topic ("every topic" first)."""
        rows = await self._db.all(
            _SUBSCRIPTION_SELECT + " WHERE c.guild_id = ? ORDER BY c.channel_id, s.topic_key != 0, t.key",
            (guild_id,),
        )
        return [subscription_record(r, from_db) for r in rows]

    async def get(self, channel_id: int, topic_id: int | None) -> SubscriptionRecord | None:
        """The (channel, topic) subscription, if any."""
        row = await self._db.one(
            _SUBSCRIPTION_SELECT + " WHERE s.channel_id = ? AND s.topic_key = ?", (channel_id, topic_id or 0)
        )
        return None if row is None else subscription_record(row, from_db)

    async def remove(self, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
        """Delete the (channel, topic) subscription, or all of the channel's; queued stories no longer wanted
        are withdrawn and a channel left without subscriptions is forgotten (its ledger rows stay)."""
        async with self._db.write() as conn:
            return await _remove(conn, channel_id, topic_id, every_topic=every_topic)

    async def backfill_candidates(self, subscription_id: int, limit: int) -> list[int]:
        """Ids of the hottest stories that qualify now and the channel never had (what backfill would queue)."""
        rows = await self._db.all(
            "SELECT st.id FROM alert_subscriptions s, stories st"
            f" WHERE s.id = ? AND {_QUALIFIES}"
            " AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.story_id = st.id"
            " AND d.channel_id = s.channel_id)"
            " ORDER BY st.heat DESC, st.id LIMIT ?",
            (subscription_id, limit),
        )
        return [r["id"] for r in rows]

    async def apply_config(self, guild_id: int, change: GuildConfigChange, now: datetime) -> None:
        """Removals, upserts and the log channel of an import, in one transaction."""
        stamp = to_db(now)
        async with self._db.write() as conn:
            for channel_id, topic_id in change.removals:
                await _remove(conn, channel_id, topic_id, every_topic=False)
            for spec in change.upserts:
                outcome = await _upsert(
                    conn, guild_id, spec.channel_id, spec.kind, spec.topic_id, spec.min_heat, spec.min_quality, stamp
                )
                await conn.execute(
                    "UPDATE alert_subscriptions SET heat_percentile = ?, line_at = ?, line_basis = ? WHERE id = ?",
                    (spec.heat_percentile, stamp if spec.heat_percentile is not None else None, spec.line_basis,
                     outcome.subscription_id),
                )
            if change.clear_log_channel:
                await clear_log_channel(conn, guild_id)
            if change.set_log_channel is not None:
                await set_log_channel(conn, guild_id, change.set_log_channel, change.actor_id, stamp)
            for channel_id in change.quiet_removals:
                await conn.execute("DELETE FROM alert_quiet_hours WHERE channel_id = ?", (channel_id,))
            for q in change.quiet:
                await conn.execute(
                    "INSERT INTO alert_quiet_hours (channel_id, guild_id, start_minute, end_minute, timezone,"
                    " breaking, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (channel_id) DO UPDATE SET guild_id = excluded.guild_id,"
                    " start_minute = excluded.start_minute, end_minute = excluded.end_minute,"
                    " timezone = excluded.timezone, breaking = excluded.breaking, updated_at = excluded.updated_at",
                    (q.channel_id, guild_id, q.start_minute, q.end_minute, q.timezone, q.breaking, stamp, stamp),
                )
            for c in change.channel_settings:
                await conn.execute(
                    "INSERT INTO living_channels (channel_id, dedupe, ping_heat) VALUES (?, ?, ?)"
                    " ON CONFLICT (channel_id) DO UPDATE SET dedupe = excluded.dedupe, ping_heat = excluded.ping_heat",
                    (c.channel_id, int(c.dedupe), c.ping_heat),
                )
            for t in change.thread_settings:
                await conn.execute(
                    "INSERT INTO thread_channels (channel_id, threads, create_tags) VALUES (?, ?, ?)"
                    " ON CONFLICT (channel_id) DO UPDATE SET threads = excluded.threads,"
                    " create_tags = excluded.create_tags",
                    (t.channel_id, int(t.threads), int(t.create_tags)),
                )
            for channel_id, topic_id in change.digest_removals:
                await remove_digest(conn, channel_id, topic_id, every_topic=False)
            for digest in change.digests:
                outcome = await upsert_digest(conn, digest_values(guild_id=guild_id, spec=digest, now=now))
                await conn.execute(
                    "UPDATE digest_subscriptions SET heat_percentile = ?, line_at = ?, line_basis = ? WHERE id = ?",
                    (digest.heat_percentile, stamp if digest.heat_percentile is not None else None, digest.line_basis,
                     outcome.subscription_id),
                )
            for topic_id in change.role_removals:
                await conn.execute("DELETE FROM topic_roles WHERE guild_id = ? AND topic_id = ?", (guild_id, topic_id))
            for topic_id, role_id in change.roles:
                await conn.execute(
                    "INSERT INTO topic_roles (guild_id, topic_id, role_id, created_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (guild_id, topic_id) DO UPDATE SET role_id = excluded.role_id",
                    (guild_id, topic_id, role_id, stamp),
                )


async def _upsert(
    conn: aiosqlite.Connection,
    guild_id: int,
    channel_id: int,
    kind: ChannelKind,
    topic_id: int | None,
    min_heat: int,
    min_quality: int | None,
    stamp: str,
    keep_min_heat: bool = False,
    keep_min_quality: bool = False,
) -> UpsertOutcome:
    topic_key = topic_id or 0
    await conn.execute(
        "INSERT INTO alert_channels (channel_id, guild_id, kind, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (channel_id) DO UPDATE SET guild_id = excluded.guild_id, kind = excluded.kind",
        (channel_id, guild_id, kind, stamp),
    )
    async with conn.execute(
        "SELECT id FROM alert_subscriptions WHERE channel_id = ? AND topic_key = ?", (channel_id, topic_key)
    ) as cur:
        existing = await cur.fetchone()
    if existing is not None:
        await conn.execute(
            "UPDATE alert_subscriptions SET min_heat = CASE WHEN ? THEN min_heat ELSE ? END,"
            " min_quality = CASE WHEN ? THEN min_quality ELSE ? END, updated_at = ? WHERE id = ?",
            (keep_min_heat, min_heat, keep_min_quality, min_quality, stamp, existing["id"]),
        )
        return UpsertOutcome(existing["id"], created=False)
    # Everything already in heat_history is "seen": the new subscription only reacts to later changes.
    async with conn.execute(
        "INSERT INTO alert_subscriptions (channel_id, topic_id, topic_key, min_heat, min_quality, cursor,"
        " created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(id), 0) FROM heat_history), ?, ?)",
        (channel_id, topic_id, topic_key, min_heat, min_quality, stamp, stamp),
    ) as cur:
        new_id = cur.lastrowid
    assert new_id is not None
    return UpsertOutcome(new_id, created=True)


async def _remove(conn: aiosqlite.Connection, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
    if every_topic:
        cur = await conn.execute("DELETE FROM alert_subscriptions WHERE channel_id = ?", (channel_id,))
    else:
        cur = await conn.execute(
            "DELETE FROM alert_subscriptions WHERE channel_id = ? AND topic_key = ?",
            (channel_id, topic_id or 0),
        )
    removed = cur.rowcount
    await conn.execute(_REASSIGN_ORPHANS, (channel_id,))
    await conn.execute(_WITHDRAW.format(channel_filter="AND channel_id = ?"), (channel_id,))
    await conn.execute(
        "DELETE FROM alert_channels WHERE channel_id = ?"
        " AND NOT EXISTS (SELECT 1 FROM alert_subscriptions s WHERE s.channel_id = ?)",
        (channel_id, channel_id),
    )
    return removed
