"""Living posts: the edit ledger of alert messages and the stories listed on them as "also covered"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from db.models import DueEdit, PostedStory, StoryView
from db.postgres.database import AsyncConn, PgDatabase

# See db/sqlite/post_edits.py for what each query selects; the SQL differs only in parameter style and booleans.
_RECENT = """
WITH hits AS (
    SELECT w.story_id FROM post_words w
    WHERE w.channel_id = %(channel)s AND w.word = ANY(%(words)s) AND w.shown_at >= %(since)s
    GROUP BY w.story_id HAVING count(*) >= %(min_shared)s
    UNION
    SELECT s2.id FROM related_entries r JOIN stories s2 ON s2.url = r.url WHERE r.story_id = %(story)s
    UNION
    SELECT r.story_id FROM related_entries r WHERE r.url = %(url)s
),
shown AS (
    SELECT p.story_id AS post_story_id, p.message_id, p.story_id
    FROM living_posts p
    WHERE p.channel_id = %(channel)s AND p.story_id IN (SELECT story_id FROM hits)
      AND p.posted_at >= %(since)s AND p.gone_at IS NULL
    UNION ALL
    SELECT p.story_id, p.message_id, c.story_id
    FROM post_coverage c JOIN living_posts p ON p.channel_id = c.channel_id AND p.story_id = c.post_story_id
    WHERE c.channel_id = %(channel)s AND c.story_id IN (SELECT story_id FROM hits)
      AND p.posted_at >= %(since)s AND p.gone_at IS NULL
)
SELECT sh.post_story_id, sh.message_id, sh.story_id, st.title, st.provider_domain,
       (st.id IN (SELECT s2.id FROM related_entries r JOIN stories s2 ON s2.url = r.url WHERE r.story_id = %(story)s)
        OR st.id IN (SELECT r.story_id FROM related_entries r WHERE r.url = %(url)s)) AS related
FROM shown sh JOIN stories st ON st.id = sh.story_id
WHERE NOT EXISTS (SELECT 1 FROM living_channels lc WHERE lc.channel_id = %(channel)s AND lc.dedupe = 0)
  AND sh.story_id != %(story)s
ORDER BY related DESC, sh.post_story_id
"""

# Each recent message's story heat is read by key (a subplan per message, kept by OFFSET 0, PostgreSQL's fence
# against flattening): as a join, the planner readily hashes all of `stories` for a few thousand messages
# (~300 ms at 1M stories, every tick; ~50 ms this way, bench/living_posts.py).
_DUE = """
SELECT p.channel_id, p.story_id, p.message_id, p.edit_channel_id, p.shown_heat, p.heat, p.version, p.attempts
FROM (
    SELECT p.*, (SELECT st.heat FROM stories st WHERE st.id = p.story_id) AS heat
    FROM living_posts p
    WHERE p.posted_at >= %(since)s AND p.gone_at IS NULL AND (p.not_before IS NULL OR p.not_before <= %(now)s)
    OFFSET 0
) p
WHERE p.version != p.shown_version
   OR (p.heat IS NOT NULL AND p.shown_heat IS NULL)
   OR (p.heat IS NOT NULL AND p.shown_heat IS NOT NULL AND (
       abs(p.heat - p.shown_heat) >= %(min_change)s
       OR (p.heat < 0) != (p.shown_heat < 0)
       OR EXISTS (SELECT 1 FROM alert_subscriptions s WHERE s.channel_id = p.channel_id
                  AND s.min_heat > least(p.heat, p.shown_heat)
                  AND s.min_heat <= greatest(p.heat, p.shown_heat))))
ORDER BY (p.version != p.shown_version) DESC,
         abs(coalesce(p.heat, 0) - coalesce(p.shown_heat, 0)) DESC, p.channel_id, p.story_id
LIMIT %(limit)s
"""


async def _add_words(conn: AsyncConn, channel_id: int, story_id: int, words: Sequence[str], now: datetime) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO post_words (channel_id, word, shown_at, story_id) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            [(channel_id, word, now, story_id) for word in dict.fromkeys(words)],
        )


class PgPostEdits:
    """living_posts and post_coverage."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def record_post(
        self,
        *,
        channel_id: int,
        story_id: int,
        message_id: int,
        edit_channel_id: int,
        heat: int | None,
        words: Sequence[str],
        now: datetime,
    ) -> None:
        async def work(conn: AsyncConn) -> None:
            cur = await conn.execute(
                "INSERT INTO living_posts (channel_id, story_id, message_id, edit_channel_id, posted_at, shown_heat)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (channel_id, story_id) DO NOTHING",
                (channel_id, story_id, message_id, edit_channel_id, now, heat),
            )
            if cur.rowcount == 1:
                await _add_words(conn, channel_id, story_id, words, now)

        await self._db.transact(work)

    async def recent_posts(
        self, channel_id: int, story: StoryView, since: datetime, *, words: Sequence[str], min_shared: int
    ) -> list[PostedStory]:
        rows = await self._db.all(
            _RECENT,
            {
                "channel": channel_id,
                "since": since,
                "story": story.id,
                "url": story.url,
                "words": list(words),
                "min_shared": min_shared,
            },
        )
        return [
            PostedStory(
                r["post_story_id"], r["message_id"], r["story_id"], r["title"], r["provider_domain"], bool(r["related"])
            )
            for r in rows
        ]

    async def set_dedupe(self, channel_id: int, dedupe: bool) -> None:
        await self._db.execute(
            "INSERT INTO living_channels (channel_id, dedupe) VALUES (%s, %s)"
            " ON CONFLICT (channel_id) DO UPDATE SET dedupe = excluded.dedupe",
            (channel_id, int(dedupe)),
        )

    async def dedupe(self, channel_id: int) -> bool:
        row = await self._db.one("SELECT dedupe FROM living_channels WHERE channel_id = %s", (channel_id,))
        return row is None or bool(row["dedupe"])

    async def add_coverage(
        self, *, channel_id: int, story_id: int, post_story_id: int, words: Sequence[str], now: datetime
    ) -> bool:
        async def work(conn: AsyncConn) -> bool:
            cur = await conn.execute(
                "INSERT INTO post_coverage (channel_id, story_id, post_story_id, added_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (channel_id, story_id) DO NOTHING",
                (channel_id, story_id, post_story_id, now),
            )
            if cur.rowcount != 1:
                return False
            await conn.execute(
                "UPDATE living_posts SET version = version + 1 WHERE channel_id = %s AND story_id = %s",
                (channel_id, post_story_id),
            )
            await _add_words(conn, channel_id, story_id, words, now)
            return True

        return await self._db.transact(work)

    async def coverage(self, channel_id: int, post_story_id: int) -> list[int]:
        rows = await self._db.all(
            "SELECT story_id FROM post_coverage WHERE channel_id = %s AND post_story_id = %s"
            " ORDER BY added_at, story_id",
            (channel_id, post_story_id),
        )
        return [int(r["story_id"]) for r in rows]

    async def covered_by(self, channel_id: int, story_id: int) -> int | None:
        row = await self._db.one(
            "SELECT post_story_id FROM post_coverage WHERE channel_id = %s AND story_id = %s", (channel_id, story_id)
        )
        return None if row is None else int(row["post_story_id"])

    async def prune_words(self, before: datetime) -> int:
        return await self._db.execute("DELETE FROM post_words WHERE shown_at < %s", (before,))

    async def same_event(self, story_id: int, *, limit: int) -> list[int]:
        rows = await self._db.all(
            "SELECT id FROM ("
            " SELECT c.story_id AS id, c.added_at AS at FROM post_coverage c WHERE c.post_story_id = %s"
            " UNION ALL SELECT c.post_story_id, c.added_at FROM post_coverage c WHERE c.story_id = %s"
            " UNION ALL SELECT o.story_id, o.added_at FROM post_coverage c JOIN post_coverage o"
            " ON o.channel_id = c.channel_id AND o.post_story_id = c.post_story_id WHERE c.story_id = %s"
            ") x WHERE id != %s GROUP BY id ORDER BY min(at), id LIMIT %s",
            (story_id, story_id, story_id, story_id, limit),
        )
        return [int(r["id"]) for r in rows]

    async def due_edits(self, now: datetime, *, since: datetime, min_change: int, limit: int) -> list[DueEdit]:
        rows = await self._db.all(_DUE, {"now": now, "since": since, "min_change": min_change, "limit": limit})
        return [
            DueEdit(
                r["channel_id"],
                r["story_id"],
                r["message_id"],
                r["edit_channel_id"],
                r["shown_heat"],
                r["heat"],
                r["version"],
                r["attempts"],
            )
            for r in rows
        ]

    async def claim_edit(self, channel_id: int, story_id: int, now: datetime, *, until: datetime) -> bool:
        changed = await self._db.execute(
            "UPDATE living_posts SET not_before = %s WHERE channel_id = %s AND story_id = %s AND gone_at IS NULL"
            " AND (not_before IS NULL OR not_before <= %s)",
            (until, channel_id, story_id, now),
        )
        return changed == 1

    async def edit_done(self, channel_id: int, story_id: int, *, heat: int | None, version: int, now: datetime) -> None:
        await self._db.execute(
            "UPDATE living_posts SET shown_heat = %s, shown_version = greatest(shown_version, %s), edited_at = %s,"
            " attempts = 0, last_error = NULL WHERE channel_id = %s AND story_id = %s",
            (heat, version, now, channel_id, story_id),
        )

    async def edit_failed(
        self, channel_id: int, story_id: int, *, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        if retry_at is None:
            await self._db.execute(
                "UPDATE living_posts SET gone_at = %s, last_error = %s WHERE channel_id = %s AND story_id = %s",
                (now, error, channel_id, story_id),
            )
        else:
            await self._db.execute(
                "UPDATE living_posts SET not_before = %s, last_error = %s, attempts = attempts + 1"
                " WHERE channel_id = %s AND story_id = %s",
                (retry_at, error, channel_id, story_id),
            )
