"""Living posts: the edit ledger of alert messages and the stories listed on them as "also covered"."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from db.models import DueEdit, PostedStory, StoryView
from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import to_db

# The channel's live posts of the window and the stories listed on them that could be the same event as a new
# story: those sharing at least :min_shared title words with it (post_words) and those that list it, or that it
# lists, in `related` (matched on the normalised URL, as /related links them).
_RECENT = """
WITH hits AS (
    SELECT w.story_id FROM post_words w
    WHERE w.channel_id = :channel AND w.word IN (SELECT value FROM json_each(:words)) AND w.shown_at >= :since
    GROUP BY w.story_id HAVING count(*) >= :min_shared
    UNION
    SELECT s2.id FROM related_entries r JOIN stories s2 ON s2.url = r.url WHERE r.story_id = :story
    UNION
    SELECT r.story_id FROM related_entries r WHERE r.url = :url
),
shown AS (
    SELECT p.story_id AS post_story_id, p.message_id, p.story_id
    FROM living_posts p
    WHERE p.channel_id = :channel AND p.story_id IN (SELECT story_id FROM hits)
      AND p.posted_at >= :since AND p.gone_at IS NULL
    UNION ALL
    SELECT p.story_id, p.message_id, c.story_id
    FROM post_coverage c JOIN living_posts p ON p.channel_id = c.channel_id AND p.story_id = c.post_story_id
    WHERE c.channel_id = :channel AND c.story_id IN (SELECT story_id FROM hits)
      AND p.posted_at >= :since AND p.gone_at IS NULL
)
SELECT sh.post_story_id, sh.message_id, sh.story_id, st.title, st.provider_domain,
       (st.id IN (SELECT s2.id FROM related_entries r JOIN stories s2 ON s2.url = r.url WHERE r.story_id = :story)
        OR st.id IN (SELECT r.story_id FROM related_entries r WHERE r.url = :url)) AS related
FROM shown sh JOIN stories st ON st.id = sh.story_id
WHERE NOT EXISTS (SELECT 1 FROM living_channels lc WHERE lc.channel_id = :channel AND lc.dedupe = 0)
  AND sh.story_id != :story
ORDER BY related DESC, sh.post_story_id
"""

# A heat change counts when it is at least :min_change, when it crosses a line of the channel (the min_heat of
# one of its subscriptions, either way), or when the story was suppressed (heat -1) or brought back; unknown
# heat (NULL) never asks for an edit by itself.
_DUE = """
SELECT p.channel_id, p.story_id, p.message_id, p.edit_channel_id, p.shown_heat, st.heat, p.version, p.attempts
FROM living_posts p JOIN stories st ON st.id = p.story_id
WHERE p.posted_at >= :since AND p.gone_at IS NULL AND (p.not_before IS NULL OR p.not_before <= :now)
  AND (p.version != p.shown_version
       OR (st.heat IS NOT NULL AND p.shown_heat IS NULL)
       OR (st.heat IS NOT NULL AND p.shown_heat IS NOT NULL AND (
           abs(st.heat - p.shown_heat) >= :min_change
           OR (st.heat < 0) != (p.shown_heat < 0)
           OR EXISTS (SELECT 1 FROM alert_subscriptions s WHERE s.channel_id = p.channel_id
                      AND s.min_heat > min(st.heat, p.shown_heat) AND s.min_heat <= max(st.heat, p.shown_heat)))))
ORDER BY (p.version != p.shown_version) DESC,
         abs(coalesce(st.heat, 0) - coalesce(p.shown_heat, 0)) DESC, p.channel_id, p.story_id
LIMIT :limit
"""


async def _add_words(
    conn: aiosqlite.Connection, channel_id: int, story_id: int, words: Sequence[str], now: datetime
) -> None:
    await conn.executemany(
        "INSERT INTO post_words (channel_id, word, shown_at, story_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(channel_id, word, to_db(now), story_id) for word in dict.fromkeys(words)],
    )


class SqlitePostEdits:
    """living_posts and post_coverage."""

    def __init__(self, database: SqliteDatabase) -> None:
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
        async with self._db.write() as conn:
            cur = await conn.execute(
                "INSERT INTO living_posts (channel_id, story_id, message_id, edit_channel_id, posted_at, shown_heat)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id, story_id) DO NOTHING",
                (channel_id, story_id, message_id, edit_channel_id, to_db(now), heat),
            )
            if cur.rowcount == 1:
                await _add_words(conn, channel_id, story_id, words, now)

    async def recent_posts(
        self, channel_id: int, story: StoryView, since: datetime, *, words: Sequence[str], min_shared: int
    ) -> list[PostedStory]:
        rows = await self._db.all(
            _RECENT,
            {
                "channel": channel_id,
                "since": to_db(since),
                "story": story.id,
                "url": story.url,
                "words": json.dumps(list(words)),
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
        async with self._db.write() as conn:
            await conn.execute(
                "INSERT INTO living_channels (channel_id, dedupe) VALUES (?, ?)"
                " ON CONFLICT (channel_id) DO UPDATE SET dedupe = excluded.dedupe",
                (channel_id, int(dedupe)),
            )

    async def dedupe(self, channel_id: int) -> bool:
        row = await self._db.one("SELECT dedupe FROM living_channels WHERE channel_id = ?", (channel_id,))
        return row is None or bool(row["dedupe"])

    async def add_coverage(
        self, *, channel_id: int, story_id: int, post_story_id: int, words: Sequence[str], now: datetime
    ) -> bool:
        async with self._db.write() as conn:
            cur = await conn.execute(
                "INSERT INTO post_coverage (channel_id, story_id, post_story_id, added_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (channel_id, story_id) DO NOTHING",
                (channel_id, story_id, post_story_id, to_db(now)),
            )
            if cur.rowcount != 1:
                return False
            await conn.execute(
                "UPDATE living_posts SET version = version + 1 WHERE channel_id = ? AND story_id = ?",
                (channel_id, post_story_id),
            )
            await _add_words(conn, channel_id, story_id, words, now)
            return True

    async def coverage(self, channel_id: int, post_story_id: int) -> list[int]:
        rows = await self._db.all(
            "SELECT story_id FROM post_coverage WHERE channel_id = ? AND post_story_id = ? ORDER BY added_at, story_id",
            (channel_id, post_story_id),
        )
        return [int(r["story_id"]) for r in rows]

    async def covered_by(self, channel_id: int, story_id: int) -> int | None:
        row = await self._db.one(
            "SELECT post_story_id FROM post_coverage WHERE channel_id = ? AND story_id = ?", (channel_id, story_id)
        )
        return None if row is None else int(row["post_story_id"])

    async def prune_words(self, before: datetime) -> int:
        async with self._db.write() as conn:
            cur = await conn.execute("DELETE FROM post_words WHERE shown_at < ?", (to_db(before),))
            return cur.rowcount

    async def same_event(self, story_id: int, *, limit: int) -> list[int]:
        rows = await self._db.all(
            "SELECT id FROM ("
            " SELECT c.story_id AS id, c.added_at AS at FROM post_coverage c WHERE c.post_story_id = ?"
            " UNION ALL SELECT c.post_story_id, c.added_at FROM post_coverage c WHERE c.story_id = ?"
            " UNION ALL SELECT o.story_id, o.added_at FROM post_coverage c JOIN post_coverage o"
            " ON o.channel_id = c.channel_id AND o.post_story_id = c.post_story_id WHERE c.story_id = ?"
            ") x WHERE id != ? GROUP BY id ORDER BY min(at), id LIMIT ?",
            (story_id, story_id, story_id, story_id, limit),
        )
        return [int(r["id"]) for r in rows]

    async def due_edits(self, now: datetime, *, since: datetime, min_change: int, limit: int) -> list[DueEdit]:
        rows = await self._db.all(
            _DUE, {"now": to_db(now), "since": to_db(since), "min_change": min_change, "limit": limit}
        )
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
        async with self._db.write() as conn:
            cur = await conn.execute(
                "UPDATE living_posts SET not_before = ? WHERE channel_id = ? AND story_id = ? AND gone_at IS NULL"
                " AND (not_before IS NULL OR not_before <= ?)",
                (to_db(until), channel_id, story_id, to_db(now)),
            )
            return cur.rowcount == 1

    async def edit_done(self, channel_id: int, story_id: int, *, heat: int | None, version: int, now: datetime) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE living_posts SET shown_heat = ?, shown_version = max(shown_version, ?), edited_at = ?,"
                " attempts = 0, last_error = NULL WHERE channel_id = ? AND story_id = ?",
                (heat, version, to_db(now), channel_id, story_id),
            )

    async def edit_failed(
        self, channel_id: int, story_id: int, *, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        async with self._db.write() as conn:
            if retry_at is None:
                await conn.execute(
                    "UPDATE living_posts SET gone_at = ?, last_error = ? WHERE channel_id = ? AND story_id = ?",
                    (to_db(now), error, channel_id, story_id),
                )
            else:
                await conn.execute(
                    "UPDATE living_posts SET not_before = ?, last_error = ?, attempts = attempts + 1"
                    " WHERE channel_id = ? AND story_id = ?",
                    (to_db(retry_at), error, channel_id, story_id),
                )
