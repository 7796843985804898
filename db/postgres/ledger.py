"""The delivery ledger: one row per (story, channel), queued -> claimed -> sent, exactly once.

Several bot processes may share the database. What keeps a story from being posted twice is that every
transition is one guarded statement (`... WHERE status = 'queued'`, `'claimed'`) whose row count says whether
this process made it. The two writers of new rows, `enqueue_due` and `queue_backfill`, serialise on the single
alert_engine row: each heat change is turned into deliveries once, and new rows never collide. A transaction
re-run after a lost connection finds its guards already passed and does nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from psycopg.rows import DictRow

from db.models import ClaimedItem, DeliveryRecord, DueItem, FailureOutcome, HeatEvent, QueuedStory, ShardSet
from db.postgres.alert_sql import GUILD_ACTIVE, QUALIFIES, backfill_query
from db.postgres.database import AsyncConn, PgDatabase
from db.records import as_is, claimed_item, delivery_record, due_item, heat_event, queued_story

# The set-based due-selection (see db/sqlite/ledger.py for the shape). Driven by the new heat events, each
# expanded to its topic keys (0 = "every topic"), joined to the subscriptions whose threshold it crossed upward
# via the (topic_key, min_heat) index: crossed when previous < m <= heat, and the story is still at or above m.
# A burst of 1,000 changes makes ~150k deliveries at 10k subscriptions, so the cost per delivery row is what
# counts here:
# * paused channels are a small set, hashed once, instead of a channel lookup per (event, subscription) pair;
# * the pairs (two events, two topics, two subscriptions in one channel make one delivery) are grouped in the
#   order of the queue index, so its inserts append per channel instead of landing at random; the group names
#   one subscription as the row's owner (the lowest topic key: "every topic" first), the one whose /alerts list
#   line counts it;
# * each pair's existing ledger row, if any, is looked up once, and only for stories that have ledger rows at
#   all (one probe per story first); scalar subqueries, because they are always primary-key probes whatever
#   the planner's estimates (a hash join would read the whole ledger). New pairs are inserted plainly, a
#   withdrawn row (the story cooled before its turn) revives, any other row stays as it is. ON CONFLICT would
#   do the same at about a third more cost per row (speculative insertion). A plain insert is safe because
#   every writer of new ledger rows (this and `queue_backfill`) holds the alert_engine row lock.
_ENQUEUE_CROSSINGS = """
WITH ev AS (
    SELECT e.id AS event_id, e.story_id, LEAST(e.heat, st.heat) AS reach,
           coalesce(e.previous_heat, -1) AS below, st.quality, st.heat
    FROM heat_history e JOIN stories st ON st.id = e.story_id
    WHERE e.id > %(lo)s AND e.id <= %(hi)s AND e.heat >= 0 AND st.heat >= 0
),
keyed AS (
    SELECT event_id, story_id, reach, below, quality, heat, 0::bigint AS topic_key FROM ev
    UNION ALL
    SELECT ev.event_id, ev.story_id, ev.reach, ev.below, ev.quality, ev.heat, x.topic_id
    FROM ev JOIN story_topics x ON x.story_id = ev.story_id
),
due AS (
    SELECT s.channel_id, k.heat, k.story_id, min(s.topic_key) AS topic_key
    FROM keyed k
    JOIN alert_subscriptions s ON s.topic_key = k.topic_key AND s.min_heat > k.below AND s.min_heat <= k.reach
    WHERE k.event_id > s.cursor
      AND (s.min_quality IS NULL OR k.quality >= s.min_quality)
      AND s.channel_id NOT IN (
          SELECT c.channel_id FROM alert_channels c
          WHERE c.paused_at IS NOT NULL OR c.guild_id IN (SELECT g.guild_id FROM alert_guild_pauses g)
      )
    GROUP BY s.channel_id, k.heat, k.story_id
    ORDER BY s.channel_id, k.heat DESC, k.story_id
),
had AS MATERIALIZED (
    SELECT s.story_id FROM (SELECT DISTINCT story_id FROM ev) s
    WHERE (SELECT true FROM alert_deliveries d WHERE d.story_id = s.story_id LIMIT 1)
),
known AS MATERIALIZED (
    SELECT due.story_id, due.channel_id, due.heat, due.topic_key,
           CASE WHEN due.story_id IN (SELECT h.story_id FROM had h) THEN
               (SELECT d.status FROM alert_deliveries d
                WHERE d.story_id = due.story_id AND d.channel_id = due.channel_id)
           END AS status
    FROM due
),
revived AS (
    UPDATE alert_deliveries d
    SET status = 'queued', heat = w.heat, queued_at = %(now)s, next_attempt_at = %(now)s, topic_key = w.topic_key,
        queued_by = 'crossing'
    FROM known w
    WHERE w.status = 'withdrawn' AND d.story_id = w.story_id AND d.channel_id = w.channel_id
      AND d.status = 'withdrawn'
    RETURNING 1
),
inserted AS (
    INSERT INTO alert_deliveries (story_id, channel_id, status, heat, queued_at, next_attempt_at, topic_key, queued_by)
    SELECT story_id, channel_id, 'queued', heat, %(now)s, %(now)s, topic_key, 'crossing' FROM known
    WHERE status IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM revived) + (SELECT count(*) FROM inserted) AS queued
"""

# Queue order is by heat; a queued story whose heat changed in this window moves in its channel's queue.
_REFRESH_QUEUED_HEAT = """
UPDATE alert_deliveries d SET heat = st.heat
FROM stories st
WHERE st.id = d.story_id AND d.status = 'queued' AND d.heat IS DISTINCT FROM st.heat
  AND d.story_id IN (SELECT story_id FROM heat_history WHERE id > %(lo)s AND id <= %(hi)s)
"""

# Per postable channel, the first `per_channel` queued rows in heat order, read straight off the partial index
# (a backlog of any length costs a few steps per channel). Whether each still qualifies is checked for these
# rows only: a story that cooled or was suppressed while it waited is withdrawn when its turn comes.
# Deliberately no row locks (a read has no transaction to hold them in past the answer): two processes reading
# at once get the same rows, and `claim` decides which one sends each.
_NEXT_BATCH = f"""
SELECT d.story_id, d.channel_id, c.guild_id, c.kind, d.attempts, d.heat,
       EXISTS (SELECT 1 FROM alert_subscriptions s JOIN stories st ON st.id = d.story_id
               WHERE s.channel_id = d.channel_id AND {QUALIFIES}) AS qualifies
FROM alert_channels c
CROSS JOIN LATERAL (
    SELECT q.story_id, q.channel_id, q.attempts, q.heat FROM alert_deliveries q
    WHERE q.channel_id = c.channel_id AND q.status = 'queued' AND q.next_attempt_at <= %(now)s
    ORDER BY q.heat DESC NULLS LAST, q.story_id LIMIT %(per_channel)s
) d
WHERE c.paused_at IS NULL AND (c.hold_until IS NULL OR c.hold_until <= %(now)s) AND {GUILD_ACTIVE} {{shards}}
ORDER BY c.channel_id, d.heat DESC NULLS LAST, d.story_id
"""
# A process running some of the shards reads only its servers' channels: each process's batch costs its share of
# the channels instead of all of them.
_OWN_SHARDS = "AND (c.guild_id >> 22) %% %(shard_count)s = ANY(%(shard_ids)s)"
_NEXT_BATCH_ALL = _NEXT_BATCH.format(shards="")
_NEXT_BATCH_OWN = _NEXT_BATCH.format(shards=_OWN_SHARDS)


# The planner's cost of these statements grows with the number of channels and queued rows (and with stale
# statistics after a burst), past the point where PostgreSQL compiles them with JIT: ~250 ms of compiling for
# a statement that runs in tens of ms, on every tick.
_NO_JIT = "SET LOCAL jit = off"


# The queue is in (heat DESC NULLS LAST, story_id) order (see queued_for); unknown heat counts as lowest.
_DELIVERY = """
SELECT d.story_id, d.channel_id, d.status, d.heat, d.queued_at, d.next_attempt_at, d.attempts, d.message_id,
       d.sent_at, d.last_error, d.topic_key, d.queued_by,
       (SELECT c.hold_until FROM alert_channels c WHERE c.channel_id = d.channel_id) AS channel_hold_until,
       CASE WHEN d.status = 'queued' THEN 1 + (
           SELECT count(*) FROM alert_deliveries q WHERE q.channel_id = d.channel_id AND q.status = 'queued'
           AND (coalesce(q.heat, -2), -q.story_id) > (coalesce(d.heat, -2), -d.story_id)
       ) END AS queue_position
FROM alert_deliveries d WHERE d.story_id = %(story)s AND d.channel_id = %(channel)s
"""


class PgLedger:
    """alert_deliveries and the alert_engine cursor."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def queue_backfill(self, subscription_id: int, limit: int, now: datetime) -> int:
        """Queue the `limit` hottest stories that qualify now and this channel has never had; returns how many."""
        if limit <= 0:
            return 0

        async def work(conn: AsyncConn) -> int:
            # Every writer of new ledger rows holds the engine row (see _ENQUEUE_CROSSINGS).
            await conn.execute("SELECT 1 FROM alert_engine WHERE id = 1 FOR UPDATE")
            query = await backfill_query(conn, subscription_id, limit)
            if query is None:
                return 0
            select, params = query
            # The select leaves out what the channel already has; DO NOTHING only as a second line.
            cur = await conn.execute(
                "INSERT INTO alert_deliveries"
                " (story_id, channel_id, status, heat, queued_at, next_attempt_at, topic_key, queued_by)"
                " SELECT b.id, %(channel)s, 'queued', b.heat, %(now)s, %(now)s, %(topic_key)s, 'backfill'"
                f" FROM ({select}) b"
                " ON CONFLICT (story_id, channel_id) DO NOTHING",
                {**params, "now": now},
            )
            return cur.rowcount

        return await self._db.transact(work)

    async def newest_heat_event(self) -> int:
        row = await self._db.one("SELECT coalesce(max(id), 0) AS newest FROM heat_history")
        assert row is not None
        return int(row["newest"])

    async def enqueue_due(self, now: datetime) -> int:
        """Turn new heat crossings into queued deliveries and advance the engine cursor; returns rows queued."""

        async def work(conn: AsyncConn) -> int:
            await conn.execute(_NO_JIT)
            # The engine row is the lock: a second process waits here, then reads the cursor the first one
            # committed (READ COMMITTED re-reads a row it waited for), so no heat change is turned twice.
            cur = await conn.execute("SELECT cursor FROM alert_engine WHERE id = 1 FOR UPDATE")
            engine = await cur.fetchone()
            assert engine is not None
            # A statement after the lock: its snapshot includes everything committed before we got it.
            cur = await conn.execute(
                "SELECT (SELECT coalesce(max(id), 0) FROM heat_history) AS hi,"
                " (SELECT min(cursor) FROM alert_subscriptions) AS oldest"
            )
            row = await cur.fetchone()
            assert row is not None
            hi: int = row["hi"]
            # Events at or below a subscription's own cursor never count for it, so the scan starts at the later
            # of the engine's progress and the oldest subscription's creation point.
            lo = max(engine["cursor"], row["oldest"] if row["oldest"] is not None else hi)
            queued = 0
            if hi > lo:
                window = {"lo": lo, "hi": hi, "now": now}
                # The distinct sort of a burst's deliveries (~15 MB for 150k) stays in memory, not on disk.
                await conn.execute("SET LOCAL work_mem = '64MB'")
                # Before the insert, so only rows that were already waiting are touched (new ones carry the heat).
                await conn.execute(_REFRESH_QUEUED_HEAT, window)
                cur = await conn.execute(_ENQUEUE_CROSSINGS, window)
                counted = await cur.fetchone()
                queued = int(counted["queued"]) if counted else 0
            if hi > engine["cursor"]:
                await conn.execute("UPDATE alert_engine SET cursor = %s WHERE id = 1", (hi,))
            return queued

        return await self._db.transact(work)

    async def withdraw(self, story_id: int, channel_id: int) -> None:
        """A queued story no longer qualifies in its channel: it leaves the queue (and returns if it crosses again)."""
        await self._db.execute(
            "UPDATE alert_deliveries SET status = 'withdrawn' WHERE story_id = %s AND channel_id = %s"
            " AND status = 'queued'",
            (story_id, channel_id),
        )

    async def requeue_stale_claims(self, claimed_before: datetime, now: datetime) -> int:
        """Claims older than `claimed_before` (a tick cancelled mid-send) go back to the queue."""
        # SKIP LOCKED: a row another process is updating right now (its sender recording the outcome, or a
        # second sweep) is theirs; waiting for it would only find it changed.
        return await self._db.execute(
            "UPDATE alert_deliveries SET status = 'queued', next_attempt_at = %s"
            " WHERE (story_id, channel_id) IN (SELECT story_id, channel_id FROM alert_deliveries"
            " WHERE status = 'claimed' AND claimed_at < %s FOR UPDATE SKIP LOCKED)"
            " AND status = 'claimed'",
            (now, claimed_before),
        )

    async def next_batch(self, now: datetime, per_channel: int, *, shards: ShardSet | None = None) -> list[DueItem]:
        """Up to `per_channel` due deliveries per postable channel, hottest first; only those shards' servers."""
        params: dict[str, object] = {"now": now, "per_channel": per_channel}
        statement = _NEXT_BATCH_ALL
        if shards is not None and not shards.every_shard:
            statement = _NEXT_BATCH_OWN
            params.update(shard_count=shards.count, shard_ids=sorted(shards.ids))

        async def read(conn: AsyncConn) -> list[DictRow]:
            await conn.execute(_NO_JIT)
            cur = await conn.execute(statement, params)
            return await cur.fetchall()

        rows = await self._db.transact(read)
        return [due_item(r) for r in rows]

    async def claim(self, story_id: int, channel_id: int, now: datetime) -> bool:
        """Mark a queued delivery as being sent (attempt + 1); False when someone else got it first."""
        # Of two processes updating the row at once, the second waits, re-reads the row, finds it no longer
        # queued and changes nothing.
        changed = await self._db.execute(
            "UPDATE alert_deliveries SET status = 'claimed', claimed_at = %s, attempts = attempts + 1"
            " WHERE story_id = %s AND channel_id = %s AND status = 'queued'",
            (now, story_id, channel_id),
        )
        return changed == 1

    async def mark_sent(self, story_id: int, channel_id: int, message_id: int, now: datetime) -> None:
        """Record the message that carries the story; the channel is healthy again."""

        async def work(conn: AsyncConn) -> None:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'sent', message_id = %s, sent_at = %s"
                " WHERE story_id = %s AND channel_id = %s AND status = 'claimed'",
                (message_id, now, story_id, channel_id),
            )
            # A post went through, so whatever failed before is over: /alerts list stops showing the old error.
            await conn.execute(
                "UPDATE alert_channels SET last_post_at = %s, failure_count = 0, hold_until = NULL, last_error = NULL,"
                " last_error_at = NULL WHERE channel_id = %s",
                (now, channel_id),
            )

        await self._db.transact(work)

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

        async def work(conn: AsyncConn) -> FailureOutcome:
            cur = await conn.execute(
                "UPDATE alert_deliveries SET status = 'queued', next_attempt_at = %s, last_error = %s"
                " WHERE story_id = %s AND channel_id = %s AND status = 'claimed'",
                (retry_at, error, story_id, channel_id),
            )
            # The failure counts only together with the claim it ends: a re-run after a lost connection (the
            # first run committed) must not count the same failure twice.
            if cur.rowcount == 1:
                await conn.execute(
                    "UPDATE alert_channels SET last_error = %s, last_error_at = %s, hold_until = %s,"
                    " failure_count = failure_count + %s WHERE channel_id = %s",
                    (error, now, retry_at, 1 if channel_fault else 0, channel_id),
                )
            cur = await conn.execute(
                "UPDATE alert_channels SET paused_at = %s, auto_paused_reason = %s"
                " WHERE channel_id = %s AND failure_count >= %s AND paused_at IS NULL",
                (now, error, channel_id, auto_pause_after),
            )
            auto_paused = cur.rowcount == 1
            cur = await conn.execute("SELECT failure_count FROM alert_channels WHERE channel_id = %s", (channel_id,))
            row = await cur.fetchone()
            return FailureOutcome(row["failure_count"] if row else 0, auto_paused)

        return await self._db.transact(work)

    async def mark_rejected(self, story_id: int, channel_id: int, error: str, now: datetime) -> None:
        """Discord refused this story itself: give up on it here (the channel is fine), and show why."""

        async def work(conn: AsyncConn) -> None:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'failed', last_error = %s"
                " WHERE story_id = %s AND channel_id = %s AND status = 'claimed'",
                (error, story_id, channel_id),
            )
            await conn.execute(
                "UPDATE alert_channels SET last_error = %s, last_error_at = %s WHERE channel_id = %s",
                (error, now, channel_id),
            )

        await self._db.transact(work)

    async def release_claim(self, story_id: int, channel_id: int, now: datetime) -> None:
        """A claim whose send never happened goes straight back to the queue."""
        await self._db.execute(
            "UPDATE alert_deliveries SET status = 'queued', next_attempt_at = %s"
            " WHERE story_id = %s AND channel_id = %s AND status = 'claimed'",
            (now, story_id, channel_id),
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
        return [claimed_item(r, as_is) for r in rows]

    async def queued_for(self, channel_id: int, topic_key: int | None, limit: int) -> list[QueuedStory]:
        """The channel's queue in posting order (optionally only what the subscription of one topic key queued)."""
        owner_filter = "" if topic_key is None else " AND d.topic_key = %(topic_key)s"
        rows = await self._db.all(
            "SELECT d.story_id, d.heat, d.attempts, d.next_attempt_at, d.last_error, d.topic_key, d.queued_by"
            " FROM alert_deliveries d WHERE d.channel_id = %(channel)s AND d.status = 'queued'"
            f"{owner_filter} ORDER BY d.heat DESC NULLS LAST, d.story_id LIMIT %(limit)s",
            {"channel": channel_id, "topic_key": topic_key, "limit": limit},
        )
        return [queued_story(r, as_is) for r in rows]

    async def delivery(self, story_id: int, channel_id: int) -> DeliveryRecord | None:
        """The (story, channel) ledger row; while queued, its place in the channel's queue (posting order)."""
        row = await self._db.one(_DELIVERY, {"story": story_id, "channel": channel_id})
        return None if row is None else delivery_record(row, as_is)

    async def carried_with(self, channel_id: int, message_id: int, story_id: int) -> int:
        row = await self._db.one(
            "SELECT count(*) AS n FROM alert_deliveries d WHERE d.channel_id = %s AND d.message_id = %s"
            " AND d.status = 'sent' AND d.story_id != %s AND NOT EXISTS (SELECT 1 FROM post_coverage c"
            " WHERE c.channel_id = d.channel_id AND c.story_id = d.story_id)",
            (channel_id, message_id, story_id),
        )
        return 0 if row is None else int(row["n"])

    async def heat_events(self, story_id: int, *, limit: int = 200) -> list[HeatEvent]:
        """The story's recorded heat changes, oldest first (the latest `limit`)."""
        rows = await self._db.all(
            "SELECT id, observed_at, heat, previous_heat FROM (SELECT * FROM heat_history WHERE story_id = %s"
            " ORDER BY id DESC LIMIT %s) h ORDER BY id",
            (story_id, limit),
        )
        return [heat_event(r, as_is) for r in rows]
