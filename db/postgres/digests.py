"""Digest subscriptions and the digest ledger: one row per (subscription, due time), sent exactly once.

Several processes may share the database: `schedule` moves a subscription on only from the due time it read
(the row is locked, then compared), and `claim` is a guarded update, so each digest is queued once and sent once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.rows import DictRow

from db.digest_windows import Ranked, candidate_pairs, group_by_period, picks
from db.models import (
    ChannelKind,
    DigestDelivery,
    DigestEvery,
    DigestPick,
    DigestRecord,
    DigestSpec,
    DigestWindow,
    UpsertOutcome,
)
from db.postgres.database import AsyncConn, PgDatabase
from db.records import as_is, digest_delivery, digest_record

_DIGEST_SELECT = """
SELECT s.id, s.guild_id, s.channel_id, s.kind, s.topic_id, t.name AS topic_name, s.every, s.minute, s.weekday,
       s.timezone, s.top, s.min_heat, s.next_due_at, s.covers_from, s.created_at, s.updated_at, s.last_sent_at,
       s.last_error, s.last_error_at, s.heat_percentile
FROM digest_subscriptions s
LEFT JOIN topics t ON t.id = s.topic_id
"""

_DELIVERY_SELECT = """
SELECT d.subscription_id, d.due_at, d.covers_from, d.expires_at, d.attempts, s.guild_id, d.channel_id, s.kind,
       s.topic_id, t.name AS topic_name, s.every, s.timezone, s.top, s.min_heat
FROM digest_deliveries d
JOIN digest_subscriptions s ON s.id = d.subscription_id
LEFT JOIN topics t ON t.id = s.topic_id
"""

# One period, per topic asked: the topic's links carry copies of the story's heat and first-seen time, so the
# (topic_id, heat DESC, story_id) INCLUDE (first_seen_at) index is walked hottest first and stops at `top` in
# the period. Every topic: the period's stories from the (first_seen_at, heat) index, hottest first.
_TOPIC_STORIES = """
SELECT t.topic_id AS topic_key, p.story_id AS id, p.heat
FROM unnest(%(topics)s::bigint[]) AS t(topic_id)
CROSS JOIN LATERAL (
    SELECT x.story_id, x.heat FROM story_topics x
    WHERE x.topic_id = t.topic_id AND x.heat >= %(min_heat)s
      AND x.first_seen_at >= %(since)s AND x.first_seen_at < %(until)s
    ORDER BY x.heat DESC NULLS LAST, x.story_id LIMIT %(top)s
) p
"""

_EVERY_TOPIC_STORIES = """
SELECT 0 AS topic_key, st.id, st.heat FROM stories st
WHERE st.first_seen_at >= %(since)s AND st.first_seen_at < %(until)s AND st.heat >= %(min_heat)s
ORDER BY st.heat DESC NULLS LAST, st.id LIMIT %(top)s
"""

_ALERTED = """
SELECT d.story_id, d.channel_id
FROM unnest(%(stories)s::bigint[], %(channels)s::bigint[]) AS p(story_id, channel_id)
JOIN alert_deliveries d ON d.story_id = p.story_id AND d.channel_id = p.channel_id
WHERE d.status = 'sent'
"""


class PgDigests:
    """digest_subscriptions and digest_deliveries."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def upsert(
        self,
        *,
        guild_id: int,
        channel_id: int,
        kind: ChannelKind,
        topic_id: int | None,
        every: DigestEvery,
        minute: int,
        weekday: int | None,
        timezone: str,
        top: int,
        min_heat: int,
        next_due_at: datetime,
        covers_from: datetime,
        now: datetime,
    ) -> UpsertOutcome:
        """Create the (channel, topic) digest or replace its schedule and rules (covers_from stays)."""
        values = {
            "guild": guild_id,
            "channel": channel_id,
            "kind": kind,
            "topic": topic_id,
            "topic_key": topic_id or 0,
            "every": every,
            "minute": minute,
            "weekday": weekday,
            "timezone": timezone,
            "top": top,
            "min_heat": min_heat,
            "next_due": next_due_at,
            "covers_from": covers_from,
            "now": now,
        }

        return await self._db.transact(lambda conn: upsert_digest(conn, values))

    async def for_guild(self, guild_id: int) -> list[DigestRecord]:
        """Every digest of a guild, by channel then topic ("every topic" first)."""
        # COLLATE "C": byte order, as SQLite compares the keys, whatever the database's collation.
        rows = await self._db.all(
            _DIGEST_SELECT + ' WHERE s.guild_id = %s ORDER BY s.channel_id, s.topic_key <> 0, t.key COLLATE "C"',
            (guild_id,),
        )
        return [digest_record(r, as_is) for r in rows]

    async def get(self, channel_id: int, topic_id: int | None) -> DigestRecord | None:
        """The (channel, topic) digest, if any."""
        row = await self._db.one(
            _DIGEST_SELECT + " WHERE s.channel_id = %s AND s.topic_key = %s", (channel_id, topic_id or 0)
        )
        return None if row is None else digest_record(row, as_is)

    async def remove(self, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
        """Delete the (channel, topic) digest, or all of the channel's; digests queued for them are dropped."""

        return await self._db.transact(lambda conn: remove_digest(conn, channel_id, topic_id, every_topic=every_topic))

    async def due(self, now: datetime, limit: int) -> list[DigestRecord]:
        """Digests whose next due time has come, earliest first."""
        rows = await self._db.all(
            _DIGEST_SELECT + " WHERE s.next_due_at <= %s ORDER BY s.next_due_at, s.id LIMIT %s", (now, limit)
        )
        return [digest_record(r, as_is) for r in rows]

    async def schedule(
        self, subscription_id: int, *, expected_due: datetime, due_at: datetime, expires_at: datetime, now: datetime
    ) -> bool:
        """Queue the digest due at `due_at` and move the subscription on to `expires_at`, atomically."""

        async def work(conn: AsyncConn) -> bool:
            # The row lock makes a second process wait, then re-read next_due_at and find it moved on.
            cur = await conn.execute(
                "SELECT channel_id, covers_from FROM digest_subscriptions WHERE id = %s AND next_due_at = %s"
                " FOR UPDATE",
                (subscription_id, expected_due),
            )
            row = await cur.fetchone()
            if row is None:
                return False
            await conn.execute(
                "UPDATE digest_subscriptions SET next_due_at = %s, covers_from = %s WHERE id = %s",
                (expires_at, due_at, subscription_id),
            )
            cur = await conn.execute(
                "INSERT INTO digest_deliveries (subscription_id, due_at, channel_id, status, covers_from, expires_at,"
                " queued_at, next_attempt_at) VALUES (%s, %s, %s, 'queued', %s, %s, %s, %s)"
                " ON CONFLICT (subscription_id, due_at) DO NOTHING",
                (subscription_id, due_at, row["channel_id"], row["covers_from"], expires_at, now, now),
            )
            return cur.rowcount == 1

        return await self._db.transact(work)

    async def ready(self, now: datetime) -> list[DigestDelivery]:
        """Queued digests whose (next) attempt is due, earliest first."""
        rows = await self._db.all(
            _DELIVERY_SELECT
            + " WHERE d.status = 'queued' AND d.next_attempt_at <= %s ORDER BY d.due_at, d.subscription_id",
            (now,),
        )
        return [digest_delivery(r, as_is) for r in rows]

    async def claim(self, subscription_id: int, due_at: datetime, now: datetime) -> bool:
        """queued -> claimed (attempt + 1); False when someone else got it first."""
        changed = await self._db.execute(
            "UPDATE digest_deliveries SET status = 'claimed', claimed_at = %s, attempts = attempts + 1"
            " WHERE subscription_id = %s AND due_at = %s AND status = 'queued'",
            (now, subscription_id, due_at),
        )
        return changed == 1

    async def stories(self, windows: Sequence[DigestWindow]) -> list[list[DigestPick]]:
        """For each window, its stories hottest first, at most `top`, flagged when posted there as alerts."""

        async def read(conn: AsyncConn) -> tuple[Ranked, list[DictRow]]:
            # As in the ledger: JIT would compile longer than these statements run.
            await conn.execute("SET LOCAL jit = off")
            ranked: dict[tuple[datetime, datetime, int], list[tuple[int, int]]] = {}
            for period in group_by_period(windows):
                params = {
                    "since": period.since,
                    "until": period.until,
                    "min_heat": period.min_heat,
                    "top": period.top,
                    "topics": period.topic_ids,
                }
                rows: list[DictRow] = []
                if period.topic_ids:
                    rows += await (await conn.execute(_TOPIC_STORIES, params)).fetchall()
                if period.every_topic:
                    rows += await (await conn.execute(_EVERY_TOPIC_STORIES, params)).fetchall()
                for r in rows:
                    ranked.setdefault((period.since, period.until, r["topic_key"]), []).append((r["id"], r["heat"]))
            pairs = candidate_pairs(windows, ranked)
            alerted: list[DictRow] = []
            if pairs:
                cur = await conn.execute(
                    _ALERTED, {"stories": [s for s, _ in pairs], "channels": [c for _, c in pairs]}
                )
                alerted = await cur.fetchall()
            return ranked, alerted

        ranked, alerted = await self._db.transact(read)
        return picks(windows, ranked, [(r["story_id"], r["channel_id"]) for r in alerted])

    async def mark_sent(
        self, subscription_id: int, due_at: datetime, *, message_id: int, stories: int, now: datetime
    ) -> None:
        """claimed -> sent with the message id; the subscription's last error is cleared."""

        async def work(conn: AsyncConn) -> None:
            await conn.execute(
                "UPDATE digest_deliveries SET status = 'sent', message_id = %s, sent_at = %s, stories = %s,"
                " last_error = NULL WHERE subscription_id = %s AND due_at = %s AND status = 'claimed'",
                (message_id, now, stories, subscription_id, due_at),
            )
            await conn.execute(
                "UPDATE digest_subscriptions SET last_sent_at = %s, last_error = NULL, last_error_at = NULL"
                " WHERE id = %s",
                (now, subscription_id),
            )

        await self._db.transact(work)

    async def mark_empty(self, subscription_id: int, due_at: datetime, now: datetime) -> None:
        """Nothing to report: finished without a message."""
        await self._db.execute(
            "UPDATE digest_deliveries SET status = 'empty', sent_at = %s, stories = 0"
            " WHERE subscription_id = %s AND due_at = %s AND status = 'claimed'",
            (now, subscription_id, due_at),
        )

    async def mark_retry(
        self, subscription_id: int, due_at: datetime, *, error: str, retry_at: datetime, now: datetime
    ) -> None:
        """claimed -> queued until `retry_at`; the subscription shows the error."""

        async def work(conn: AsyncConn) -> None:
            await conn.execute(
                "UPDATE digest_deliveries SET status = 'queued', next_attempt_at = %s, last_error = %s"
                " WHERE subscription_id = %s AND due_at = %s AND status = 'claimed'",
                (retry_at, error, subscription_id, due_at),
            )
            await conn.execute(
                "UPDATE digest_subscriptions SET last_error = %s, last_error_at = %s WHERE id = %s",
                (error, now, subscription_id),
            )

        await self._db.transact(work)

    async def mark_failed(self, subscription_id: int, due_at: datetime, *, error: str, now: datetime) -> None:
        """queued or claimed -> failed for good; the subscription shows why."""

        async def work(conn: AsyncConn) -> None:
            await conn.execute(
                "UPDATE digest_deliveries SET status = 'failed', last_error = %s"
                " WHERE subscription_id = %s AND due_at = %s AND status IN ('queued', 'claimed')",
                (error, subscription_id, due_at),
            )
            await conn.execute(
                "UPDATE digest_subscriptions SET last_error = %s, last_error_at = %s WHERE id = %s",
                (error, now, subscription_id),
            )

        await self._db.transact(work)

    async def release_claim(self, subscription_id: int, due_at: datetime, now: datetime) -> None:
        """claimed -> queued now."""
        await self._db.execute(
            "UPDATE digest_deliveries SET status = 'queued', next_attempt_at = %s"
            " WHERE subscription_id = %s AND due_at = %s AND status = 'claimed'",
            (now, subscription_id, due_at),
        )

    async def claimed(self) -> list[DigestDelivery]:
        """Every claim without a recorded outcome."""
        rows = await self._db.all(_DELIVERY_SELECT + " WHERE d.status = 'claimed' ORDER BY d.claimed_at")
        return [digest_delivery(r, as_is) for r in rows]


def digest_values(*, guild_id: int, spec: DigestSpec, now: datetime) -> dict[str, Any]:
    """The named parameters of `upsert_digest` for an imported digest."""
    return {
        "guild": guild_id, "channel": spec.channel_id, "kind": spec.kind, "topic": spec.topic_id,
        "topic_key": spec.topic_id or 0, "every": spec.every, "minute": spec.minute, "weekday": spec.weekday,
        "timezone": spec.timezone, "top": spec.top, "min_heat": spec.min_heat, "next_due": spec.next_due_at,
        "covers_from": spec.covers_from, "now": now,
    }


async def upsert_digest(conn: AsyncConn, values: dict[str, Any]) -> UpsertOutcome:
    """Create the (channel, topic) digest or replace its schedule and rules (covers_from stays), in `conn`."""
    # xmax = 0 only for a row this statement inserted: tells created from updated in one round trip.
    cur = await conn.execute(
        "INSERT INTO digest_subscriptions (guild_id, channel_id, kind, topic_id, topic_key, every, minute,"
        " weekday, timezone, top, min_heat, next_due_at, covers_from, created_at, updated_at)"
        " VALUES (%(guild)s, %(channel)s, %(kind)s, %(topic)s, %(topic_key)s, %(every)s, %(minute)s,"
        " %(weekday)s, %(timezone)s, %(top)s, %(min_heat)s, %(next_due)s, %(covers_from)s, %(now)s, %(now)s)"
        " ON CONFLICT (channel_id, topic_key) DO UPDATE SET guild_id = excluded.guild_id,"
        " kind = excluded.kind, every = excluded.every, minute = excluded.minute,"
        " weekday = excluded.weekday, timezone = excluded.timezone, top = excluded.top,"
        " min_heat = excluded.min_heat, next_due_at = excluded.next_due_at, updated_at = excluded.updated_at"
        " RETURNING id, (xmax = 0) AS created",
        values,
    )
    row = await cur.fetchone()
    assert row is not None
    return UpsertOutcome(row["id"], created=bool(row["created"]))


async def remove_digest(conn: AsyncConn, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
    """Delete the (channel, topic) digest, or all of the channel's, in `conn`; queued issues are dropped."""
    if every_topic:
        cur = await conn.execute("DELETE FROM digest_subscriptions WHERE channel_id = %s", (channel_id,))
    else:
        cur = await conn.execute(
            "DELETE FROM digest_subscriptions WHERE channel_id = %s AND topic_key = %s",
            (channel_id, topic_id or 0),
        )
    removed = cur.rowcount
    await conn.execute(
        "UPDATE digest_deliveries SET status = 'failed', last_error = 'digest removed'"
        " WHERE channel_id = %(channel)s AND status = 'queued'"
        " AND NOT EXISTS (SELECT 1 FROM digest_subscriptions s WHERE s.id = subscription_id)",
        {"channel": channel_id},
    )
    return removed
