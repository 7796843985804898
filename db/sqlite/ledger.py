"""The delivery ledger: one row per (story, channel), queued -> claimed -> sent, exactly once."""

from __future__ import annotations

import json
from datetime import datetime

from db.models import ClaimedItem, DeliveryRecord, DueItem, FailureOutcome, HeatEvent, QueuedStory, ShardSet
from db.records import claimed_item, delivery_record, due_item, heat_event, queued_story
from db.sqlite.alert_sql import _GUILD_ACTIVE, _QUALIFIES
from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import from_db, to_db

# The set-based due-selection. Driven by the new heat events (few per tick), each expanded to its topic keys
# (0 = "every topic"), then joined to the subscriptions whose threshold it crossed upward via the
# (topic_key, min_heat) index: a subscription with threshold m is crossed when previous < m <= heat, and the
# story must still be at or above m now. The (story, channel) key makes two files, two events or two
# subscriptions in one channel a single delivery; grouping by it names one subscription as the row's owner
# (the lowest topic key: "every topic" first), the one whose /alerts list line counts it. A withdrawn row (the
# story cooled before its turn) revives, owned by the subscription that crossed now.
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
INSERT INTO alert_deliveries (story_id, channel_id, status, heat, queued_at, next_attempt_at, topic_key, queued_by)
SELECT k.story_id, s.channel_id, 'queued', k.heat, :now, :now, min(s.topic_key), 'crossing'
FROM keyed k
JOIN alert_subscriptions s ON s.topic_key = k.topic_key AND s.min_heat > k.below AND s.min_heat <= k.reach
JOIN alert_channels c ON c.channel_id = s.channel_id
WHERE k.event_id > s.cursor
  AND (s.min_quality IS NULL OR k.quality >= s.min_quality)
  AND c.paused_at IS NULL AND {_GUILD_ACTIVE}
GROUP BY k.story_id, s.channel_id, k.heat
ON CONFLICT (story_id, channel_id) DO UPDATE
    SET status = 'queued', heat = excluded.heat, queued_at = excluded.queued_at,
        next_attempt_at = excluded.next_attempt_at, topic_key = excluded.topic_key, queued_by = excluded.queued_by
    WHERE alert_deliveries.status = 'withdrawn'
"""

# Queue order is by heat; a queued story whose heat changed in this window moves in its channel's queue.
_REFRESH_QUEUED_HEAT = """
UPDATE alert_deliveries SET heat = (SELECT st.heat FROM stories st WHERE st.id = alert_deliveries.story_id)
WHERE status = 'queued' AND story_id IN (SELECT story_id FROM heat_history WHERE id > :lo AND id <= :hi)
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
WHERE c.paused_at IS NULL AND (c.hold_until IS NULL OR c.hold_until <= :now) AND {_GUILD_ACTIVE} {{shards}}
  AND d.story_id IN (
      SELECT q.story_id FROM alert_deliveries q
      WHERE q.channel_id = c.channel_id AND q.status = 'queued' AND q.next_attempt_at <= :now
      ORDER BY q.heat DESC, q.story_id LIMIT :per_channel
  )
ORDER BY c.channel_id, d.heat DESC, d.story_id
"""
# A process running some of the shards reads only its servers' channels: each process's batch costs its share of
# the channels instead of all of them.
_OWN_SHARDS = "AND ((c.guild_id >> 22) % :shard_count) IN (SELECT value FROM json_each(:shard_ids))"
_NEXT_BATCH_ALL = _NEXT_BATCH.format(shards="")
_NEXT_BATCH_OWN = _NEXT_BATCH.format(shards=_OWN_SHARDS)


# The queue is in (heat DESC, story_id) order (see _NEXT_BATCH); unknown heat last. The count runs on the
# channel's part of the partial queue index.
_DELIVERY = """
SELECT d.story_id, d.channel_id, d.status, d.heat, d.queued_at, d.next_attempt_at, d.attempts, d.message_id,
       d.sent_at, d.last_error, d.topic_key, d.queued_by,
       (SELECT c.hold_until FROM alert_channels c WHERE c.channel_id = d.channel_id) AS channel_hold_until,
       CASE WHEN d.status = 'queued' THEN 1 + (
           SELECT count(*) FROM alert_deliveries q WHERE q.channel_id = d.channel_id AND q.status = 'queued'
           AND ({heat_desc} > {own} OR ({heat_desc} = {own} AND q.story_id < d.story_id))
       ) END AS queue_position
FROM alert_deliveries d WHERE d.story_id = :story AND d.channel_id = :channel
"""


class SqliteLedger:
    """alert_deliveries and the alert_engine cursor."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def queue_backfill(self, subscription_id: int, limit: int, now: datetime) -> int:
        """Queue the `limit` hottest stories that qualify now and this channel has never had; returns how many."""
        if limit <= 0:
            return 0
        stamp = to_db(now)
        async with (
            self._db.write() as conn,
            conn.execute(
                "INSERT INTO alert_deliveries"
                " (story_id, channel_id, status, heat, queued_at, next_attempt_at, topic_key, queued_by)"
                " SELECT st.id, s.channel_id, 'queued', st.heat, ?, ?, s.topic_key, 'backfill'"
                " FROM alert_subscriptions s, stories st"
                f" WHERE s.id = ? AND {_QUALIFIES}"
                " AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.story_id = st.id"
                " AND d.channel_id = s.channel_id)"
                " ORDER BY st.heat DESC, st.id LIMIT ?",
                (stamp, stamp, subscription_id, limit),
            ) as cur,
        ):
            return cur.rowcount

    async def newest_heat_event(self) -> int:
        row = await self._db.one("SELECT coalesce(max(id), 0) AS newest FROM heat_history")
        return int(row["newest"])

    async def enqueue_due(self, now: datetime) -> int:
        """Turn new heat crossings into queued deliveries and advance the engine cursor; returns rows queued."""
        async with self._db.write() as conn:
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
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'withdrawn' WHERE story_id = ? AND channel_id = ?"
                " AND status = 'queued'",
                (story_id, channel_id),
            )

    async def requeue_stale_claims(self, claimed_before: datetime, now: datetime) -> int:
        """Claims older than `claimed_before` (a tick cancelled mid-send) go back to the queue."""
        async with self._db.write() as conn:
            cur = await conn.execute(
                "UPDATE alert_deliveries SET status = 'queued', next_attempt_at = ?"
                " WHERE status = 'claimed' AND claimed_at < ?",
                (to_db(now), to_db(claimed_before)),
            )
            return cur.rowcount

    async def next_batch(self, now: datetime, per_channel: int, *, shards: ShardSet | None = None) -> list[DueItem]:
        """Up to `per_channel` due deliveries per postable channel, hottest first; only those shards' servers."""
        params: dict[str, object] = {"now": to_db(now), "per_channel": per_channel}
        if shards is None or shards.every_shard:
            rows = await self._db.all(_NEXT_BATCH_ALL, params)
        else:
            params.update(shard_count=shards.count, shard_ids=json.dumps(sorted(shards.ids)))
            rows = await self._db.all(_NEXT_BATCH_OWN, params)
        return [due_item(r) for r in rows]

    async def claim(self, story_id: int, channel_id: int, now: datetime) -> bool:
        """Mark a queued delivery as being sent (attempt + 1); False when someone else got it first."""
        async with self._db.write() as conn:
            cur = await conn.execute(
                "UPDATE alert_deliveries SET status = 'claimed', claimed_at = ?, attempts = attempts + 1"
                " WHERE story_id = ? AND channel_id = ? AND status = 'queued'",
                (to_db(now), story_id, channel_id),
            )
            return cur.rowcount == 1

    async def mark_sent(self, story_id: int, channel_id: int, message_id: int, now: datetime) -> None:
        """Record the message that carries the story; the channel is healthy again."""
        stamp = to_db(now)
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'sent', message_id = ?, sent_at = ?"
                " WHERE story_id = ? AND channel_id = ? AND status = 'claimed'",
                (message_id, stamp, story_id, channel_id),
            )
            # A post went through, so whatever failed before is over: /alerts list stops showing the old error.
            await conn.execute(
                "UPDATE alert_channels SET last_post_at = ?, failure_count = 0, hold_until = NULL, last_error = NULL,"
                " last_error_at = NULL WHERE channel_id = ?",
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
        async with self._db.write() as conn:
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
        async with self._db.write() as conn:
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
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'queued', next_attempt_at = ?"
                " WHERE story_id = ? AND channel_id = ? AND status = 'claimed'",
                (to_db(now), story_id, channel_id),
            )

    async def pending_counts(self) -> dict[str, int]:
        """How many deliveries are waiting ('queued') and being sent ('claimed') right now."""
        rows = await self._db.all(
            "SELECT 'queued' AS status, count(*) AS n FROM alert_deliveries WHERE status = 'queued'"
            " UNION ALL SELECT 'claimed', count(*) FROM alert_deliveries WHERE status = 'claimed'"
        )
        return {str(r["status"]): int(r["n"]) for r in rows}

    async def claimed(self) -> list[ClaimedItem]:
        """Every claim without a recorded outcome."""
        rows = await self._db.all(
            "SELECT d.story_id, d.channel_id, coalesce(c.guild_id, 0) AS guild_id, coalesce(c.kind, 'text') AS kind,"
            " d.attempts, d.claimed_at FROM alert_deliveries d LEFT JOIN alert_channels c"
            " ON c.channel_id = d.channel_id WHERE d.status = 'claimed' ORDER BY d.claimed_at"
        )
        return [claimed_item(r, from_db) for r in rows]

    async def queued_for(self, channel_id: int, topic_key: int | None, limit: int) -> list[QueuedStory]:
        """The channel's queue in posting order (optionally only what the subscription of one topic key queued)."""
        owner_filter = "" if topic_key is None else " AND d.topic_key = :topic_key"
        rows = await self._db.all(
            "SELECT d.story_id, d.heat, d.attempts, d.next_attempt_at, d.last_error, d.topic_key, d.queued_by"
            " FROM alert_deliveries d WHERE d.channel_id = :channel AND d.status = 'queued'"
            f"{owner_filter} ORDER BY d.heat DESC, d.story_id LIMIT :limit",
            {"channel": channel_id, "topic_key": topic_key, "limit": limit},
        )
        return [queued_story(r, from_db) for r in rows]

    async def delivery(self, story_id: int, channel_id: int) -> DeliveryRecord | None:
        """The (story, channel) ledger row; while queued, its place in the channel's queue (posting order)."""
        row = await self._db.one(_DELIVERY.format(heat_desc="coalesce(q.heat, -2)", own="coalesce(d.heat, -2)"),
                                 {"story": story_id, "channel": channel_id})
        return None if row is None else delivery_record(row, from_db)

    async def carried_with(self, channel_id: int, message_id: int, story_id: int) -> int:
        row = await self._db.one(
            "SELECT count(*) AS n FROM alert_deliveries d WHERE d.channel_id = ? AND d.message_id = ?"
            " AND d.status = 'sent' AND d.story_id != ? AND NOT EXISTS (SELECT 1 FROM post_coverage c"
            " WHERE c.channel_id = d.channel_id AND c.story_id = d.story_id)",
            (channel_id, message_id, story_id),
        )
        return 0 if row is None else int(row["n"])

    async def heat_events(self, story_id: int, *, limit: int = 200) -> list[HeatEvent]:
        """The story's recorded heat changes, oldest first (the latest `limit`)."""
        rows = await self._db.all(
            "SELECT id, observed_at, heat, previous_heat FROM (SELECT * FROM heat_history WHERE story_id = ?"
            " ORDER BY id DESC LIMIT ?) ORDER BY id",
            (story_id, limit),
        )
        return [heat_event(r, from_db) for r in rows]
