"""Subscriptions: which channel wants which stories (/alerts add, remove, list)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.models import ChannelKind, GuildConfigChange, SubscriptionRecord, UpsertOutcome
from db.postgres.admin_log import clear_log_channel, set_log_channel
from db.postgres.alert_sql import REASSIGN_ORPHANS, WITHDRAW_UNWANTED, backfill_query
from db.postgres.database import AsyncConn, PgDatabase
from db.postgres.digests import digest_values, remove_digest, upsert_digest
from db.records import as_is, subscription_record

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


class PgSubscriptions:
    """The alert_subscriptions table (and the channel row each subscription needs)."""

    def __init__(self, database: PgDatabase) -> None:
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
        values = _values(guild_id, channel_id, kind, topic_id, min_heat, min_quality, now)
        values.update(keep_heat=keep_min_heat, keep_quality=keep_min_quality)
        return await self._db.transact(lambda conn: _upsert(conn, values))

    async def for_guild(self, guild_id: int) -> list[SubscriptionRecord]:
        """Every subscription of a guild, by channel then topic ("every topic" first)."""
        # COLLATE "C": byte order, as SQLite compares the keys, whatever the database's collation.
        rows = await self._db.all(
            _SUBSCRIPTION_SELECT + ' WHERE c.guild_id = %s ORDER BY c.channel_id, s.topic_key <> 0, t.key COLLATE "C"',
            (guild_id,),
        )
        return [subscription_record(r, as_is) for r in rows]

    async def get(self, channel_id: int, topic_id: int | None) -> SubscriptionRecord | None:
        """The (channel, topic) subscription, if any."""
        row = await self._db.one(
            _SUBSCRIPTION_SELECT + " WHERE s.channel_id = %s AND s.topic_key = %s", (channel_id, topic_id or 0)
        )
        return None if row is None else subscription_record(row, as_is)

    async def remove(self, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
        """Delete the (channel, topic) subscription, or all of the channel's; queued stories no longer wanted
        are withdrawn and a channel left without subscriptions is forgotten (its ledger rows stay)."""

        return await self._db.transact(lambda conn: _remove(conn, channel_id, topic_id, every_topic=every_topic))

    async def backfill_candidates(self, subscription_id: int, limit: int) -> list[int]:
        """Ids of the hottest stories that qualify now and the channel never had (what backfill would queue)."""

        async def work(conn: AsyncConn) -> list[int]:
            query = await backfill_query(conn, subscription_id, limit)
            if query is None:
                return []
            cur = await conn.execute(*query)
            return [r["id"] for r in await cur.fetchall()]

        return await self._db.transact(work)

    async def apply_config(self, guild_id: int, change: GuildConfigChange, now: datetime) -> None:
        """Removals, upserts and the log channel of an import, in one transaction."""

        async def work(conn: AsyncConn) -> None:
            for channel_id, topic_id in change.removals:
                await _remove(conn, channel_id, topic_id, every_topic=False)
            for spec in change.upserts:
                values = _values(
                    guild_id, spec.channel_id, spec.kind, spec.topic_id, spec.min_heat, spec.min_quality, now
                )
                outcome = await _upsert(conn, values)
                await conn.execute(
                    "UPDATE alert_subscriptions SET heat_percentile = %s, line_at = %s, line_basis = %s WHERE id = %s",
                    (spec.heat_percentile, now if spec.heat_percentile is not None else None, spec.line_basis,
                     outcome.subscription_id),
                )
            if change.clear_log_channel:
                await clear_log_channel(conn, guild_id)
            if change.set_log_channel is not None:
                await set_log_channel(conn, guild_id, change.set_log_channel, change.actor_id, now)
            for channel_id in change.quiet_removals:
                await conn.execute("DELETE FROM alert_quiet_hours WHERE channel_id = %s", (channel_id,))
            for q in change.quiet:
                await conn.execute(
                    "INSERT INTO alert_quiet_hours (channel_id, guild_id, start_minute, end_minute, timezone,"
                    " breaking, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (channel_id) DO UPDATE SET guild_id = excluded.guild_id,"
                    " start_minute = excluded.start_minute, end_minute = excluded.end_minute,"
                    " timezone = excluded.timezone, breaking = excluded.breaking, updated_at = excluded.updated_at",
                    (q.channel_id, guild_id, q.start_minute, q.end_minute, q.timezone, q.breaking, now, now),
                )
            for c in change.channel_settings:
                await conn.execute(
                    "INSERT INTO living_channels (channel_id, dedupe, ping_heat) VALUES (%s, %s, %s)"
                    " ON CONFLICT (channel_id) DO UPDATE SET dedupe = excluded.dedupe, ping_heat = excluded.ping_heat",
                    (c.channel_id, int(c.dedupe), c.ping_heat),
                )
            for t in change.thread_settings:
                await conn.execute(
                    "INSERT INTO thread_channels (channel_id, threads, create_tags) VALUES (%s, %s, %s)"
                    " ON CONFLICT (channel_id) DO UPDATE SET threads = excluded.threads,"
                    " create_tags = excluded.create_tags",
                    (t.channel_id, int(t.threads), int(t.create_tags)),
                )
            for channel_id, topic_id in change.digest_removals:
                await remove_digest(conn, channel_id, topic_id, every_topic=False)
            for digest in change.digests:
                outcome = await upsert_digest(conn, digest_values(guild_id=guild_id, spec=digest, now=now))
                await conn.execute(
                    "UPDATE digest_subscriptions SET heat_percentile = %s, line_at = %s, line_basis = %s WHERE id = %s",
                    (digest.heat_percentile, now if digest.heat_percentile is not None else None, digest.line_basis,
                     outcome.subscription_id),
                )
            for topic_id in change.role_removals:
                await conn.execute(
                    "DELETE FROM topic_roles WHERE guild_id = %s AND topic_id = %s", (guild_id, topic_id)
                )
            for topic_id, role_id in change.roles:
                await conn.execute(
                    "INSERT INTO topic_roles (guild_id, topic_id, role_id, created_at) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (guild_id, topic_id) DO UPDATE SET role_id = excluded.role_id",
                    (guild_id, topic_id, role_id, now),
                )

        await self._db.transact(work)


def _values(
    guild_id: int,
    channel_id: int,
    kind: ChannelKind,
    topic_id: int | None,
    min_heat: int,
    min_quality: int | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "guild": guild_id,
        "channel": channel_id,
        "kind": kind,
        "topic": topic_id,
        "topic_key": topic_id or 0,
        "min_heat": min_heat,
        "min_quality": min_quality,
        "keep_heat": False,
        "keep_quality": False,
        "now": now,
    }


async def _upsert_once(conn: AsyncConn, values: dict[str, Any]) -> UpsertOutcome | None:
    await conn.execute(
        "INSERT INTO alert_channels (channel_id, guild_id, kind, created_at)"
        " VALUES (%(channel)s, %(guild)s, %(kind)s, %(now)s)"
        " ON CONFLICT (channel_id) DO UPDATE SET guild_id = excluded.guild_id, kind = excluded.kind",
        values,
    )
    # Everything already in heat_history is "seen": the new subscription only reacts to later changes.
    # ON CONFLICT instead of look-then-insert: two processes adding the same subscription at once
    # both succeed, one creating it and the other updating it.
    cur = await conn.execute(
        "INSERT INTO alert_subscriptions (channel_id, topic_id, topic_key, min_heat, min_quality, cursor,"
        " created_at, updated_at)"
        " VALUES (%(channel)s, %(topic)s, %(topic_key)s, %(min_heat)s, %(min_quality)s,"
        " (SELECT coalesce(max(id), 0) FROM heat_history), %(now)s, %(now)s)"
        " ON CONFLICT (channel_id, topic_key) DO NOTHING RETURNING id",
        values,
    )
    created = await cur.fetchone()
    if created is not None:
        return UpsertOutcome(created["id"], created=True)
    cur = await conn.execute(
        "UPDATE alert_subscriptions SET min_heat = CASE WHEN %(keep_heat)s THEN min_heat ELSE %(min_heat)s END,"
        " min_quality = CASE WHEN %(keep_quality)s THEN min_quality ELSE %(min_quality)s END,"
        " updated_at = %(now)s WHERE channel_id = %(channel)s AND topic_key = %(topic_key)s RETURNING id",
        values,
    )
    updated = await cur.fetchone()
    # None only when another process removed the conflicting row in between: create it after all.
    return None if updated is None else UpsertOutcome(updated["id"], created=False)


async def _upsert(conn: AsyncConn, values: dict[str, Any]) -> UpsertOutcome:
    while True:
        outcome = await _upsert_once(conn, values)
        if outcome is not None:
            return outcome


async def _remove(conn: AsyncConn, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
    if every_topic:
        cur = await conn.execute("DELETE FROM alert_subscriptions WHERE channel_id = %s", (channel_id,))
    else:
        cur = await conn.execute(
            "DELETE FROM alert_subscriptions WHERE channel_id = %s AND topic_key = %s",
            (channel_id, topic_id or 0),
        )
    removed = cur.rowcount
    await conn.execute(REASSIGN_ORPHANS, {"channel": channel_id})
    await conn.execute(WITHDRAW_UNWANTED, {"channel": channel_id})
    await conn.execute(
        "DELETE FROM alert_channels WHERE channel_id = %(channel)s"
        " AND NOT EXISTS (SELECT 1 FROM alert_subscriptions s WHERE s.channel_id = %(channel)s)",
        {"channel": channel_id},
    )
    return removed
