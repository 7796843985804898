"""The alert store: subscriptions, per-channel state, the delivery ledger and the crosspost log.

Every write goes through one lock and an explicit transaction: the bot shares one aiosqlite connection, and a
statement issued while another coroutine holds BEGIN would silently join (and could be rolled back with) that
transaction, which is exactly the kind of lost claim the ledger exists to prevent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import aiosqlite

from db.database import Database
from db.models import StoryView
from db.story_rows import fetch_stories
from db.timefmt import from_db, from_db_optional, to_db

ChannelKind = Literal["text", "announcement", "forum", "console"]
CHANNEL_KINDS: tuple[ChannelKind, ...] = ("text", "announcement", "forum", "console")


@dataclass(frozen=True, slots=True)
class TopicRef:
    """A stored topic."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """One subscription with the state of its channel (pauses and failures are per channel)."""

    id: int
    guild_id: int
    channel_id: int
    channel_kind: ChannelKind
    topic_id: int | None
    topic_name: str | None
    min_heat: int
    min_quality: int | None
    cursor: int
    created_at: datetime
    updated_at: datetime
    channel_paused_at: datetime | None
    auto_paused_reason: str | None
    failure_count: int
    last_error: str | None
    last_error_at: datetime | None
    last_post_at: datetime | None
    guild_paused: bool
    queued: int


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """The delivery state of one alert channel."""

    channel_id: int
    guild_id: int
    kind: ChannelKind
    paused_at: datetime | None
    auto_paused_reason: str | None
    failure_count: int
    last_error: str | None
    queued: int


@dataclass(frozen=True, slots=True)
class DueItem:
    """A queued delivery whose turn has come."""

    story_id: int
    channel_id: int
    guild_id: int
    kind: ChannelKind
    attempts: int
    heat: int | None
    qualifies: bool = True


@dataclass(frozen=True, slots=True)
class ClaimedItem:
    """A delivery claimed for sending whose outcome was never recorded (a crash, a cancelled tick)."""

    story_id: int
    channel_id: int
    guild_id: int
    kind: ChannelKind
    attempts: int
    claimed_at: datetime


@dataclass(frozen=True, slots=True)
class QueuedStory:
    """A story waiting in a channel's queue (for /alerts preview)."""

    story_id: int
    heat: int | None
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


@dataclass(frozen=True, slots=True)
class UpsertOutcome:
    """What add did: the subscription id and whether it was new."""

    subscription_id: int
    created: bool


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    """The channel's state after a failed send was recorded."""

    failure_count: int
    auto_paused: bool


# A story qualifies for subscription `s` when this holds (story aliased `st`). min_heat >= 0 (a CHECK in the
# schema) is what keeps heat -1 and unknown (NULL) out: NULL >= x is never true.
_QUALIFIES = (
    "st.heat >= s.min_heat"
    " AND (s.min_quality IS NULL OR st.quality >= s.min_quality)"
    " AND (s.topic_id IS NULL OR EXISTS (SELECT 1 FROM story_topics x WHERE x.story_id = st.id"
    " AND x.topic_id = s.topic_id))"
)

_GUILD_ACTIVE = "NOT EXISTS (SELECT 1 FROM alert_guild_pauses g WHERE g.guild_id = c.guild_id)"

# The set-based due-selection. Driven by the new heat events (few per tick), each expanded to its topic keys
# (0 = "every topic"), then joined to the subscriptions whose threshold it crossed upward via the
# (topic_key, min_heat) index: a subscription with threshold m is crossed when previous < m <= heat, and the
# story must still be at or above m now. The (story, channel) key makes two files, two events or two
# subscriptions in one channel a single delivery (a repeat is a no-op upsert, cheaper than a DISTINCT sort).
# A withdrawn row (the story cooled before its turn) revives.
_ENQUEUE_CROSSINGS = f"""
WITH ev AS (
    SELECT e.id AS event_id, e.story_id, min(e.heat, st.heat) AS reach,
           coalesce(e.previous_heat, -1) AS below, st.quality, st.heat
    FROM heat_history e JOIN stories st ON st.id = e.story_id
    WHERE e.id > :lo AND e.id <= :hi AND e.heat >= 0 AND st.heat >= 0
),
keyed AS (
    SELECT event_id, story_id, reach, below, quality, heat, 0 AS topic_key FROM ev
    UNION ALL
    SELECT ev.event_id, ev.story_id, ev.reach, ev.below, ev.quality, ev.heat, x.topic_id
    FROM ev JOIN story_topics x ON x.story_id = ev.story_id
)
INSERT INTO alert_deliveries (story_id, channel_id, status, heat, queued_at, next_attempt_at)
SELECT k.story_id, s.channel_id, 'queued', k.heat, :now, :now
FROM keyed k
JOIN alert_subscriptions s ON s.topic_key = k.topic_key AND s.min_heat > k.below AND s.min_heat <= k.reach
JOIN alert_channels c ON c.channel_id = s.channel_id
WHERE k.event_id > s.cursor
  AND (s.min_quality IS NULL OR k.quality >= s.min_quality)
  AND c.paused_at IS NULL AND {_GUILD_ACTIVE}
ON CONFLICT (story_id, channel_id) DO UPDATE
    SET status = 'queued', heat = excluded.heat, queued_at = excluded.queued_at,
        next_attempt_at = excluded.next_attempt_at
    WHERE alert_deliveries.status = 'withdrawn'
"""

# Queue order is by heat; a queued story whose heat changed in this window moves in its channel's queue.
_REFRESH_QUEUED_HEAT = """
UPDATE alert_deliveries SET heat = (SELECT st.heat FROM stories st WHERE st.id = alert_deliveries.story_id)
WHERE status = 'queued' AND story_id IN (SELECT story_id FROM heat_history WHERE id > :lo AND id <= :hi)
"""

_WITHDRAW = f"""
UPDATE alert_deliveries SET status = 'withdrawn'
WHERE status = 'queued' {{channel_filter}} AND NOT EXISTS (
    SELECT 1 FROM alert_subscriptions s JOIN stories st ON st.id = alert_deliveries.story_id
    WHERE s.channel_id = alert_deliveries.channel_id AND {_QUALIFIES}
)
"""

# Per postable channel, the first `per_channel` queued rows in heat order, read straight off the partial index
# (a backlog of any length costs a few steps per channel). Whether each still qualifies is checked for these
# rows only: a story that cooled or was suppressed while it waited is withdrawn when its turn comes.
_NEXT_BATCH = f"""
SELECT d.story_id, d.channel_id, c.guild_id, c.kind, d.attempts, d.heat,
       EXISTS (SELECT 1 FROM alert_subscriptions s JOIN stories st ON st.id = d.story_id
               WHERE s.channel_id = d.channel_id AND {_QUALIFIES}) AS qualifies
FROM alert_channels c
-- `+d.status` keeps the planner off the partial index for `d` (it would scan the whole backlog of each
-- channel); the picked story ids are then looked up by primary key.
JOIN alert_deliveries d ON d.channel_id = c.channel_id AND +d.status = 'queued'
WHERE c.paused_at IS NULL AND (c.hold_until IS NULL OR c.hold_until <= :now) AND {_GUILD_ACTIVE}
  AND d.story_id IN (
      SELECT q.story_id FROM alert_deliveries q
      WHERE q.channel_id = c.channel_id AND q.status = 'queued' AND q.next_attempt_at <= :now
      ORDER BY q.heat DESC, q.story_id LIMIT :per_channel
  )
ORDER BY c.channel_id, d.heat DESC, d.story_id
"""

_SUBSCRIPTION_SELECT = """
SELECT s.id, c.guild_id, s.channel_id, c.kind, s.topic_id, t.name AS topic_name, s.min_heat, s.min_quality,
       s.cursor, s.created_at, s.updated_at, c.paused_at, c.auto_paused_reason, c.failure_count, c.last_error,
       c.last_error_at, c.last_post_at,
       EXISTS (SELECT 1 FROM alert_guild_pauses g WHERE g.guild_id = c.guild_id) AS guild_paused,
       (SELECT count(*) FROM alert_deliveries d WHERE d.channel_id = c.channel_id AND d.status = 'queued') AS queued
FROM alert_subscriptions s
JOIN alert_channels c ON c.channel_id = s.channel_id
LEFT JOIN topics t ON t.id = s.topic_id
"""


def _subscription(row: Any) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        channel_kind=cast(ChannelKind, row["kind"]),
        topic_id=row["topic_id"],
        topic_name=row["topic_name"],
        min_heat=row["min_heat"],
        min_quality=row["min_quality"],
        cursor=row["cursor"],
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
        channel_paused_at=from_db_optional(row["paused_at"]),
        auto_paused_reason=row["auto_paused_reason"],
        failure_count=row["failure_count"],
        last_error=row["last_error"],
        last_error_at=from_db_optional(row["last_error_at"]),
        last_post_at=from_db_optional(row["last_post_at"]),
        guild_paused=bool(row["guild_paused"]),
        queued=row["queued"],
    )


class AlertRepository:
    """All SQL of the alert engine; returns frozen dataclasses."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._lock = asyncio.Lock()

    @property
    def _conn(self) -> aiosqlite.Connection:
        return self._db.conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        # IMMEDIATE takes the write lock up front: a deferred transaction that later upgrades can fail with
        # SQLITE_BUSY without the busy timeout helping when the ingester (another connection) is writing.
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def _one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        async with self._conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        async with self._conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    # --- topics -------------------------------------------------------------------------------------------

    async def find_topic(self, name: str) -> TopicRef | None:
        """The topic whose case-insensitive key matches `name`."""
        row = await self._one("SELECT id, name FROM topics WHERE key = ?", (name.strip().casefold(),))
        return None if row is None else TopicRef(row["id"], row["name"])

    async def topics_matching(self, text: str, limit: int) -> list[str]:
        """Topic names containing `text` (prefix matches first, then the most used)."""
        key = text.strip().casefold()
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self._all(
            "SELECT name FROM topics WHERE key LIKE ? ESCAPE '\\' AND story_count > 0"
            " ORDER BY key LIKE ? ESCAPE '\\' DESC, story_count DESC, key LIMIT ?",
            (f"%{escaped}%", f"{escaped}%", limit),
        )
        return [r["name"] for r in rows]

    async def topic_names(self, limit: int) -> list[str]:
        """The most used topic names (for fuzzy suggestions)."""
        rows = await self._all(
            "SELECT name FROM topics WHERE story_count > 0 ORDER BY story_count DESC, key LIMIT ?", (limit,)
        )
        return [r["name"] for r in rows]

    # --- subscriptions ------------------------------------------------------------------------------------

    async def upsert_subscription(
        self,
        *,
        guild_id: int,
        channel_id: int,
        kind: ChannelKind,
        topic_id: int | None,
        min_heat: int,
        min_quality: int | None,
        now: datetime,
    ) -> UpsertOutcome:
        """Create the (channel, topic) subscription, or update its thresholds; the channel row follows."""
        stamp = to_db(now)
        topic_key = topic_id or 0
        async with self._write() as conn:
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
                    "UPDATE alert_subscriptions SET min_heat = ?, min_quality = ?, updated_at = ? WHERE id = ?",
                    (min_heat, min_quality, stamp, existing["id"]),
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

    async def queue_backfill(self, subscription_id: int, limit: int, now: datetime) -> int:
        """Queue the `limit` hottest stories that qualify now and this channel has never had; returns how many."""
        if limit <= 0:
            return 0
        stamp = to_db(now)
        async with (
            self._write() as conn,
            conn.execute(
                "INSERT INTO alert_deliveries (story_id, channel_id, status, heat, queued_at, next_attempt_at)"
                " SELECT st.id, s.channel_id, 'queued', st.heat, ?, ? FROM alert_subscriptions s, stories st"
                f" WHERE s.id = ? AND {_QUALIFIES}"
                " AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.story_id = st.id"
                " AND d.channel_id = s.channel_id)"
                " ORDER BY st.heat DESC, st.id LIMIT ?",
                (stamp, stamp, subscription_id, limit),
            ) as cur,
        ):
            return cur.rowcount

    async def subscriptions(self, guild_id: int) -> list[SubscriptionRecord]:
        """Every subscription of a guild, by channel then topic ("every topic" first)."""
        rows = await self._all(
            _SUBSCRIPTION_SELECT + " WHERE c.guild_id = ? ORDER BY c.channel_id, s.topic_key != 0, t.key",
            (guild_id,),
        )
        return [_subscription(r) for r in rows]

    async def subscription(self, channel_id: int, topic_id: int | None) -> SubscriptionRecord | None:
        """The (channel, topic) subscription, if any."""
        row = await self._one(
            _SUBSCRIPTION_SELECT + " WHERE s.channel_id = ? AND s.topic_key = ?", (channel_id, topic_id or 0)
        )
        return None if row is None else _subscription(row)

    async def remove_subscriptions(self, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
        """Delete the (channel, topic) subscription, or all of the channel's; queued stories no longer wanted
        are withdrawn and a channel left without subscriptions is forgotten (its ledger rows stay)."""
        async with self._write() as conn:
            if every_topic:
                cur = await conn.execute("DELETE FROM alert_subscriptions WHERE channel_id = ?", (channel_id,))
            else:
                cur = await conn.execute(
                    "DELETE FROM alert_subscriptions WHERE channel_id = ? AND topic_key = ?",
                    (channel_id, topic_id or 0),
                )
            removed = cur.rowcount
            await conn.execute(_WITHDRAW.format(channel_filter="AND channel_id = ?"), (channel_id,))
            await conn.execute(
                "DELETE FROM alert_channels WHERE channel_id = ?"
                " AND NOT EXISTS (SELECT 1 FROM alert_subscriptions s WHERE s.channel_id = ?)",
                (channel_id, channel_id),
            )
        return removed

    # --- channels and pauses ------------------------------------------------------------------------------

    async def channels(self, guild_id: int) -> list[ChannelRecord]:
        """The guild's alert channels with their state and queue length."""
        rows = await self._all(
            "SELECT c.*, (SELECT count(*) FROM alert_deliveries d WHERE d.channel_id = c.channel_id"
            " AND d.status = 'queued') AS queued FROM alert_channels c WHERE c.guild_id = ? ORDER BY c.channel_id",
            (guild_id,),
        )
        return [
            ChannelRecord(
                channel_id=r["channel_id"],
                guild_id=r["guild_id"],
                kind=cast(ChannelKind, r["kind"]),
                paused_at=from_db_optional(r["paused_at"]),
                auto_paused_reason=r["auto_paused_reason"],
                failure_count=r["failure_count"],
                last_error=r["last_error"],
                queued=r["queued"],
            )
            for r in rows
        ]

    async def guild_paused(self, guild_id: int) -> bool:
        """Whether /alerts pause was used for the whole guild."""
        return await self._one("SELECT 1 FROM alert_guild_pauses WHERE guild_id = ?", (guild_id,)) is not None

    async def set_guild_paused(self, guild_id: int, paused: bool, now: datetime) -> bool:
        """Pause or resume a guild; returns whether anything changed."""
        async with self._write() as conn:
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
        async with self._write() as conn:
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

    # --- the tick -----------------------------------------------------------------------------------------

    async def enqueue_due(self, now: datetime) -> int:
        """Turn new heat crossings into queued deliveries and advance the engine cursor; returns rows queued."""
        async with self._write() as conn:
            async with conn.execute(
                "SELECT (SELECT cursor FROM alert_engine WHERE id = 1) AS engine,"
                " (SELECT coalesce(max(id), 0) FROM heat_history) AS hi,"
                " (SELECT min(cursor) FROM alert_subscriptions) AS oldest"
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            hi: int = row["hi"]
            # Events at or below a subscription's own cursor never count for it, so the scan starts at the later
            # of the engine's progress and the oldest subscription's creation point.
            lo = max(row["engine"], row["oldest"] if row["oldest"] is not None else hi)
            queued = 0
            if hi > lo:
                # Before the insert, so only rows that were already waiting are touched (new ones carry the heat).
                await conn.execute(_REFRESH_QUEUED_HEAT, {"lo": lo, "hi": hi})
                await conn.execute(_ENQUEUE_CROSSINGS, {"lo": lo, "hi": hi, "now": to_db(now)})
                # sqlite3 reports rowcount -1 for a statement that starts with WITH; changes() is exact.
                async with conn.execute("SELECT changes()") as cur:
                    counted = await cur.fetchone()
                queued = int(counted[0]) if counted else 0
            await conn.execute("UPDATE alert_engine SET cursor = ? WHERE id = 1 AND cursor < ?", (hi, hi))
        return queued

    async def withdraw(self, story_id: int, channel_id: int) -> None:
        """A queued story no longer qualifies in its channel: it leaves the queue (and returns if it crosses again)."""
        async with self._write() as conn:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'withdrawn' WHERE story_id = ? AND channel_id = ?"
                " AND status = 'queued'",
                (story_id, channel_id),
            )

    async def requeue_stale_claims(self, claimed_before: datetime, now: datetime) -> int:
        """Claims older than `claimed_before` (a tick cancelled mid-send) go back to the queue."""
        async with self._write() as conn:
            cur = await conn.execute(
                "UPDATE alert_deliveries SET status = 'queued', next_attempt_at = ?"
                " WHERE status = 'claimed' AND claimed_at < ?",
                (to_db(now), to_db(claimed_before)),
            )
            return cur.rowcount

    async def next_batch(self, now: datetime, per_channel: int) -> list[DueItem]:
        """Up to `per_channel` due deliveries per postable channel, hottest first."""
        rows = await self._all(_NEXT_BATCH, {"now": to_db(now), "per_channel": per_channel})
        return [
            DueItem(
                r["story_id"],
                r["channel_id"],
                r["guild_id"],
                cast(ChannelKind, r["kind"]),
                r["attempts"],
                r["heat"],
                bool(r["qualifies"]),
            )
            for r in rows
        ]

    async def claim(self, story_id: int, channel_id: int, now: datetime) -> bool:
        """Mark a queued delivery as being sent (attempt + 1); False when someone else got it first."""
        async with self._write() as conn:
            cur = await conn.execute(
                "UPDATE alert_deliveries SET status = 'claimed', claimed_at = ?, attempts = attempts + 1"
                " WHERE story_id = ? AND channel_id = ? AND status = 'queued'",
                (to_db(now), story_id, channel_id),
            )
            return cur.rowcount == 1

    async def mark_sent(self, story_id: int, channel_id: int, message_id: int, now: datetime) -> None:
        """Record the message that carries the story; the channel is healthy again."""
        stamp = to_db(now)
        async with self._write() as conn:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'sent', message_id = ?, sent_at = ?"
                " WHERE story_id = ? AND channel_id = ? AND status = 'claimed'",
                (message_id, stamp, story_id, channel_id),
            )
            await conn.execute(
                "UPDATE alert_channels SET last_post_at = ?, failure_count = 0, hold_until = NULL WHERE channel_id = ?",
                (stamp, channel_id),
            )

    async def mark_retry(
        self,
        story_id: int,
        channel_id: int,
        *,
        error: str,
        retry_at: datetime,
        channel_fault: bool,
        auto_pause_after: int,
        now: datetime,
    ) -> FailureOutcome:
        """Back to the queue until `retry_at`; the channel waits too. A channel fault (deleted, no permission)
        counts towards the auto-pause."""
        stamp = to_db(now)
        async with self._write() as conn:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'queued', next_attempt_at = ?, last_error = ?"
                " WHERE story_id = ? AND channel_id = ? AND status = 'claimed'",
                (to_db(retry_at), error, story_id, channel_id),
            )
            await conn.execute(
                "UPDATE alert_channels SET last_error = ?, last_error_at = ?, hold_until = ?,"
                " failure_count = failure_count + ? WHERE channel_id = ?",
                (error, stamp, to_db(retry_at), 1 if channel_fault else 0, channel_id),
            )
            async with conn.execute(
                "UPDATE alert_channels SET paused_at = ?, auto_paused_reason = ?"
                " WHERE channel_id = ? AND failure_count >= ? AND paused_at IS NULL",
                (stamp, error, channel_id, auto_pause_after),
            ) as cur:
                auto_paused = cur.rowcount == 1
            async with conn.execute(
                "SELECT failure_count FROM alert_channels WHERE channel_id = ?", (channel_id,)
            ) as cur:
                row = await cur.fetchone()
        return FailureOutcome(row["failure_count"] if row else 0, auto_paused)

    async def mark_rejected(self, story_id: int, channel_id: int, error: str, now: datetime) -> None:
        """Discord refused this story itself: give up on it here (the channel is fine), and show why."""
        stamp = to_db(now)
        async with self._write() as conn:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'failed', last_error = ?"
                " WHERE story_id = ? AND channel_id = ? AND status = 'claimed'",
                (error, story_id, channel_id),
            )
            await conn.execute(
                "UPDATE alert_channels SET last_error = ?, last_error_at = ? WHERE channel_id = ?",
                (error, stamp, channel_id),
            )

    async def release_claim(self, story_id: int, channel_id: int, now: datetime) -> None:
        """A claim whose send never happened goes straight back to the queue."""
        async with self._write() as conn:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'queued', next_attempt_at = ?"
                " WHERE story_id = ? AND channel_id = ? AND status = 'claimed'",
                (to_db(now), story_id, channel_id),
            )

    async def claimed(self) -> list[ClaimedItem]:
        """Every claim without a recorded outcome."""
        rows = await self._all(
            "SELECT d.story_id, d.channel_id, coalesce(c.guild_id, 0) AS guild_id, coalesce(c.kind, 'text') AS kind,"
            " d.attempts, d.claimed_at FROM alert_deliveries d LEFT JOIN alert_channels c"
            " ON c.channel_id = d.channel_id WHERE d.status = 'claimed' ORDER BY d.claimed_at"
        )
        return [
            ClaimedItem(
                r["story_id"],
                r["channel_id"],
                r["guild_id"],
                cast(ChannelKind, r["kind"]),
                r["attempts"],
                from_db(r["claimed_at"]),
            )
            for r in rows
        ]

    # --- crossposts ---------------------------------------------------------------------------------------

    async def crossposts_since(self, channel_id: int, since: datetime) -> int:
        """How many messages of this channel were published after `since`."""
        row = await self._one(
            "SELECT count(*) AS n FROM alert_crossposts WHERE channel_id = ? AND published_at > ?",
            (channel_id, to_db(since)),
        )
        return int(row["n"])

    async def record_crosspost(self, channel_id: int, message_id: int, now: datetime) -> None:
        """Count a publish (recorded before the call, so a crash can only under-use the budget)."""
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO alert_crossposts (channel_id, message_id, published_at) VALUES (?, ?, ?)",
                (channel_id, message_id, to_db(now)),
            )

    async def prune_crossposts(self, before: datetime) -> None:
        """Forget publishes older than the rate-limit window."""
        async with self._write() as conn:
            await conn.execute("DELETE FROM alert_crossposts WHERE published_at < ?", (to_db(before),))

    # --- reading stories and queues -----------------------------------------------------------------------

    async def stories(self, story_ids: Sequence[int]) -> list[StoryView]:
        """The stories with these ids, in that order."""
        return await fetch_stories(self._conn, story_ids)

    async def queued_for(self, channel_id: int, topic_id: int | None, limit: int) -> list[QueuedStory]:
        """The channel's queue in posting order (optionally only stories on one topic)."""
        topic_filter = (
            ""
            if topic_id is None
            else " AND EXISTS (SELECT 1 FROM story_topics x WHERE x.story_id = d.story_id AND x.topic_id = :topic)"
        )
        rows = await self._all(
            "SELECT d.story_id, d.heat, d.attempts, d.next_attempt_at, d.last_error FROM alert_deliveries d"
            " WHERE d.channel_id = :channel AND d.status = 'queued'"
            f"{topic_filter} ORDER BY d.heat DESC, d.story_id LIMIT :limit",
            {"channel": channel_id, "topic": topic_id, "limit": limit},
        )
        return [
            QueuedStory(r["story_id"], r["heat"], r["attempts"], from_db(r["next_attempt_at"]), r["last_error"])
            for r in rows
        ]

    async def backfill_candidates(self, subscription_id: int, limit: int) -> list[int]:
        """Ids of the hottest stories that qualify now and the channel never had (what backfill would queue)."""
        rows = await self._all(
            "SELECT st.id FROM alert_subscriptions s, stories st"
            f" WHERE s.id = ? AND {_QUALIFIES}"
            " AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.story_id = st.id"
            " AND d.channel_id = s.channel_id)"
            " ORDER BY st.heat DESC, st.id LIMIT ?",
            (subscription_id, limit),
        )
        return [r["id"] for r in rows]

    async def delivery_status(self, story_id: int, channel_id: int) -> tuple[str, int | None] | None:
        """(status, message id) of one ledger row (tests and diagnostics)."""
        row = await self._one(
            "SELECT status, message_id FROM alert_deliveries WHERE story_id = ? AND channel_id = ?",
            (story_id, channel_id),
        )
        return None if row is None else (row["status"], row["message_id"])
