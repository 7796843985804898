"""Digest subscriptions and the digest ledger: one row per (subscription, due time), sent exactly once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from db.digest_windows import candidate_pairs, group_by_period, picks
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
from db.records import digest_delivery, digest_record
from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import from_db, to_db

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

# One period, per topic: the topic's links carry copies of the story's heat and first-seen time, so the
# (topic_id, heat DESC, story_id, first_seen_at) index is walked hottest first and stops at `top` in the period,
# never reading a story row: a few dozen index entries per topic for a week, a few hundred for a day. SQLite has
# no LATERAL, so the per-topic walks are one compound SELECT (at most _TOPICS_PER_STATEMENT terms each).
_TOPIC_TERM = (
    "SELECT * FROM (SELECT {key} AS topic_key, x.story_id AS id, x.heat FROM story_topics x"
    " WHERE x.topic_id = {key} AND x.heat >= :min_heat AND x.first_seen_at >= :since AND x.first_seen_at < :until"
    " ORDER BY x.heat DESC, x.story_id LIMIT :top)"
)
# SQLite allows 500 terms in a compound SELECT (SQLITE_MAX_COMPOUND_SELECT).
_TOPICS_PER_STATEMENT = 400

# A short period (an hour, a day) holds few stories but a topic's hottest links are mostly older: there, ranking
# the period's own stories per topic reads far less than walking each topic's links from the hottest down (at
# 1M stories over 30 days and 2,000 topics: an hour 2 ms against 260 ms, a day 120 ms against 180 ms; a week
# 700 ms against 100 ms, so a week walks).
_SHORT_PERIOD = timedelta(hours=36)
_RANKED_PERIOD = """
WITH win AS (
    SELECT st.id, st.heat FROM stories st
    WHERE st.first_seen_at >= :since AND st.first_seen_at < :until AND st.heat >= :min_heat
),
keyed AS (
    -- CROSS JOIN fixes the order (SQLite never reorders it): the period's few stories first, then their links
    -- by primary key. `+` keeps topic_id out of the index lookup, so the list is a membership test per link;
    -- used as a key, it made one probe per (story, listed topic): a million for an hour of 800 topics.
    SELECT x.topic_id AS topic_key, win.id, win.heat FROM win CROSS JOIN story_topics x ON x.story_id = win.id
    WHERE +x.topic_id IN (SELECT value FROM json_each(:topics))
),
ranked AS (
    SELECT topic_key, id, heat, row_number() OVER (PARTITION BY topic_key ORDER BY heat DESC, id) AS rn FROM keyed
)
SELECT topic_key, id, heat FROM ranked WHERE rn <= :top ORDER BY topic_key, rn
"""

# Every topic: the period's stories, hottest first, from the (first_seen_at, heat) index.
_EVERY_TOPIC = """
SELECT 0 AS topic_key, st.id, st.heat FROM stories st
WHERE st.first_seen_at >= :since AND st.first_seen_at < :until AND st.heat >= :min_heat
ORDER BY st.heat DESC, st.id LIMIT :top
"""

_ALERTED = """
SELECT d.story_id, d.channel_id
FROM json_each(:pairs) p
JOIN alert_deliveries d ON d.story_id = json_extract(p.value, '$[0]') AND d.channel_id = json_extract(p.value, '$[1]')
WHERE d.status = 'sent'
"""


class SqliteDigests:
    """digest_subscriptions and digest_deliveries."""

    def __init__(self, database: SqliteDatabase) -> None:
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
            "next_due": to_db(next_due_at),
            "covers_from": to_db(covers_from),
            "now": to_db(now),
        }
        async with self._db.write() as conn:
            return await upsert_digest(conn, values)

    async def for_guild(self, guild_id: int) -> list[DigestRecord]:
        """Every digest of a guild, by channel then topic ("every topic" first)."""
        rows = await self._db.all(
            _DIGEST_SELECT + " WHERE s.guild_id = ? ORDER BY s.channel_id, s.topic_key != 0, t.key", (guild_id,)
        )
        return [digest_record(r, from_db) for r in rows]

    async def get(self, channel_id: int, topic_id: int | None) -> DigestRecord | None:
        """The (channel, topic) digest, if any."""
        row = await self._db.one(
            _DIGEST_SELECT + " WHERE s.channel_id = ? AND s.topic_key = ?", (channel_id, topic_id or 0)
        )
        return None if row is None else digest_record(row, from_db)

    async def remove(self, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
        """Delete the (channel, topic) digest, or all of the channel's; digests queued for them are dropped."""
        async with self._db.write() as conn:
            return await remove_digest(conn, channel_id, topic_id, every_topic=every_topic)

    async def due(self, now: datetime, limit: int) -> list[DigestRecord]:
        """Digests whose next due time has come, earliest first."""
        rows = await self._db.all(
            _DIGEST_SELECT + " WHERE s.next_due_at <= ? ORDER BY s.next_due_at, s.id LIMIT ?", (to_db(now), limit)
        )
        return [digest_record(r, from_db) for r in rows]

    async def schedule(
        self, subscription_id: int, *, expected_due: datetime, due_at: datetime, expires_at: datetime, now: datetime
    ) -> bool:
        """Queue the digest due at `due_at` and move the subscription on to `expires_at`, atomically."""
        stamp = to_db(now)
        async with self._db.write() as conn:
            async with conn.execute(
                "SELECT channel_id, covers_from FROM digest_subscriptions WHERE id = ? AND next_due_at = ?",
                (subscription_id, to_db(expected_due)),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return False
            await conn.execute(
                "UPDATE digest_subscriptions SET next_due_at = ?, covers_from = ? WHERE id = ?",
                (to_db(expires_at), to_db(due_at), subscription_id),
            )
            async with conn.execute(
                "INSERT INTO digest_deliveries (subscription_id, due_at, channel_id, status, covers_from, expires_at,"
                " queued_at, next_attempt_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)"
                " ON CONFLICT (subscription_id, due_at) DO NOTHING",
                (subscription_id, to_db(due_at), row["channel_id"], row["covers_from"], to_db(expires_at), stamp,
                 stamp),
            ) as cur:
                return cur.rowcount == 1

    async def ready(self, now: datetime) -> list[DigestDelivery]:
        """Queued digests whose (next) attempt is due, earliest first."""
        rows = await self._db.all(
            _DELIVERY_SELECT
            + " WHERE d.status = 'queued' AND d.next_attempt_at <= ? ORDER BY d.due_at, d.subscription_id",
            (to_db(now),),
        )
        return [digest_delivery(r, from_db) for r in rows]

    async def claim(self, subscription_id: int, due_at: datetime, now: datetime) -> bool:
        """queued -> claimed (attempt + 1); False when someone else got it first."""
        async with self._db.write() as conn:
            cur = await conn.execute(
                "UPDATE digest_deliveries SET status = 'claimed', claimed_at = ?, attempts = attempts + 1"
                " WHERE subscription_id = ? AND due_at = ? AND status = 'queued'",
                (to_db(now), subscription_id, to_db(due_at)),
            )
            return cur.rowcount == 1

    async def stories(self, windows: Sequence[DigestWindow]) -> list[list[DigestPick]]:
        """For each window, its stories hottest first, at most `top`, flagged when posted there as alerts."""
        ranked: dict[tuple[datetime, datetime, int], list[tuple[int, int]]] = {}
        for period in group_by_period(windows):
            params: dict[str, object] = {
                "since": to_db(period.since),
                "until": to_db(period.until),
                "min_heat": period.min_heat,
                "top": period.top,
            }
            statements = [_EVERY_TOPIC] if period.every_topic else []
            topics = period.topic_ids
            if topics and period.until - period.since <= _SHORT_PERIOD:
                statements.append(_RANKED_PERIOD)
                params["topics"] = json.dumps(topics)
                topics = []
            for first in range(0, len(topics), _TOPICS_PER_STATEMENT):
                # Topic ids are integers from the database, written into the statement as literals (int() keeps
                # anything else out), so one compound statement needs no thousands of named parameters.
                chunk = topics[first : first + _TOPICS_PER_STATEMENT]
                statements.append(" UNION ALL ".join(_TOPIC_TERM.format(key=int(t)) for t in chunk))
            for statement in statements:
                for r in await self._db.all(statement, params):
                    ranked.setdefault((period.since, period.until, r["topic_key"]), []).append((r["id"], r["heat"]))
        pairs = candidate_pairs(windows, ranked)
        alerted: list[tuple[int, int]] = []
        if pairs:
            rows = await self._db.all(_ALERTED, {"pairs": json.dumps(pairs)})
            alerted = [(r["story_id"], r["channel_id"]) for r in rows]
        return picks(windows, ranked, alerted)

    async def mark_sent(
        self, subscription_id: int, due_at: datetime, *, message_id: int, stories: int, now: datetime
    ) -> None:
        """claimed -> sent with the message id; the subscription's last error is cleared."""
        stamp = to_db(now)
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE digest_deliveries SET status = 'sent', message_id = ?, sent_at = ?, stories = ?,"
                " last_error = NULL WHERE subscription_id = ? AND due_at = ? AND status = 'claimed'",
                (message_id, stamp, stories, subscription_id, to_db(due_at)),
            )
            await conn.execute(
                "UPDATE digest_subscriptions SET last_sent_at = ?, last_error = NULL, last_error_at = NULL"
                " WHERE id = ?",
                (stamp, subscription_id),
            )

    async def mark_empty(self, subscription_id: int, due_at: datetime, now: datetime) -> None:
        """Nothing to report: finished without a message."""
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE digest_deliveries SET status = 'empty', sent_at = ?, stories = 0"
                " WHERE subscription_id = ? AND due_at = ? AND status = 'claimed'",
                (to_db(now), subscription_id, to_db(due_at)),
            )

    async def mark_retry(
        self, subscription_id: int, due_at: datetime, *, error: str, retry_at: datetime, now: datetime
    ) -> None:
        """claimed -> queued until `retry_at`; the subscription shows the error."""
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE digest_deliveries SET status = 'queued', next_attempt_at = ?, last_error = ?"
                " WHERE subscription_id = ? AND due_at = ? AND status = 'claimed'",
                (to_db(retry_at), error, subscription_id, to_db(due_at)),
            )
            await conn.execute(
                "UPDATE digest_subscriptions SET last_error = ?, last_error_at = ? WHERE id = ?",
                (error, to_db(now), subscription_id),
            )

    async def mark_failed(self, subscription_id: int, due_at: datetime, *, error: str, now: datetime) -> None:
        """queued or claimed -> failed for good; the subscription shows why."""
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE digest_deliveries SET status = 'failed', last_error = ?"
                " WHERE subscription_id = ? AND due_at = ? AND status IN ('queued', 'claimed')",
                (error, subscription_id, to_db(due_at)),
            )
            await conn.execute(
                "UPDATE digest_subscriptions SET last_error = ?, last_error_at = ? WHERE id = ?",
                (error, to_db(now), subscription_id),
            )

    async def release_claim(self, subscription_id: int, due_at: datetime, now: datetime) -> None:
        """claimed -> queued now."""
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE digest_deliveries SET status = 'queued', next_attempt_at = ?"
                " WHERE subscription_id = ? AND due_at = ? AND status = 'claimed'",
                (to_db(now), subscription_id, to_db(due_at)),
            )

    async def claimed(self) -> list[DigestDelivery]:
        """Every claim without a recorded outcome."""
        rows = await self._db.all(_DELIVERY_SELECT + " WHERE d.status = 'claimed' ORDER BY d.claimed_at")
        return [digest_delivery(r, from_db) for r in rows]


def digest_values(
    *, guild_id: int, spec: DigestSpec, now: datetime
) -> dict[str, Any]:
    """The named parameters of `upsert_digest` for an imported digest."""
    return {
        "guild": guild_id, "channel": spec.channel_id, "kind": spec.kind, "topic": spec.topic_id,
        "topic_key": spec.topic_id or 0, "every": spec.every, "minute": spec.minute, "weekday": spec.weekday,
        "timezone": spec.timezone, "top": spec.top, "min_heat": spec.min_heat, "next_due": to_db(spec.next_due_at),
        "covers_from": to_db(spec.covers_from), "now": to_db(now),
    }


async def upsert_digest(conn: aiosqlite.Connection, values: dict[str, Any]) -> UpsertOutcome:
    """Create the (channel, topic) digest or replace its schedule and rules (covers_from stays), in `conn`."""
    async with conn.execute(
        "SELECT id FROM digest_subscriptions WHERE channel_id = :channel AND topic_key = :topic_key", values
    ) as cur:
        existing = await cur.fetchone()
    if existing is not None:
        await conn.execute(
            "UPDATE digest_subscriptions SET guild_id = :guild, kind = :kind, every = :every,"
            " minute = :minute, weekday = :weekday, timezone = :timezone, top = :top, min_heat = :min_heat,"
            " next_due_at = :next_due, updated_at = :now WHERE id = :id",
            {**values, "id": existing["id"]},
        )
        return UpsertOutcome(existing["id"], created=False)
    async with conn.execute(
        "INSERT INTO digest_subscriptions (guild_id, channel_id, kind, topic_id, topic_key, every, minute,"
        " weekday, timezone, top, min_heat, next_due_at, covers_from, created_at, updated_at)"
        " VALUES (:guild, :channel, :kind, :topic, :topic_key, :every, :minute, :weekday, :timezone, :top,"
        " :min_heat, :next_due, :covers_from, :now, :now)",
        values,
    ) as cur:
        new_id = cur.lastrowid
    assert new_id is not None
    return UpsertOutcome(new_id, created=True)


async def remove_digest(conn: aiosqlite.Connection, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
    """Delete the (channel, topic) digest, or all of the channel's, in `conn`; queued issues are dropped."""
    if every_topic:
        cur = await conn.execute("DELETE FROM digest_subscriptions WHERE channel_id = ?", (channel_id,))
    else:
        cur = await conn.execute(
            "DELETE FROM digest_subscriptions WHERE channel_id = ? AND topic_key = ?",
            (channel_id, topic_id or 0),
        )
    removed = cur.rowcount
    await conn.execute(
        "UPDATE digest_deliveries SET status = 'failed', last_error = 'digest removed'"
        " WHERE channel_id = ? AND status = 'queued'"
        " AND subscription_id NOT IN (SELECT id FROM digest_subscriptions)",
        (channel_id,),
    )
    return removed
