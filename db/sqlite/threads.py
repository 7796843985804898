"""Related-story threads: each channel's options, the thread ledger, and the messages owed in threads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from db.models import AlertThread, DueThread, DueThreadPost, RelatedLink, ThreadOptions
from db.sqlite.database import SqliteDatabase
from db.sqlite.timefmt import to_db
from db.thread_rows import related_links

_POST_KEY = "channel_id = ? AND post_story_id = ? AND story_id = ?"


class SqliteThreads:
    """thread_channels, alert_threads and thread_posts."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def _change(self, sql: str, params: Sequence[Any]) -> int:
        async with self._db.write() as conn, conn.execute(sql, params) as cur:
            return cur.rowcount

    async def set_options(self, channel_id: int, *, threads: bool | None, create_tags: bool | None) -> ThreadOptions:
        async with self._db.write() as conn:
            await conn.execute(
                "INSERT INTO thread_channels (channel_id, threads, create_tags) VALUES (?, ?, ?)"
                " ON CONFLICT (channel_id) DO UPDATE SET threads = coalesce(?, threads),"
                " create_tags = coalesce(?, create_tags)",
                (channel_id, int(bool(threads)), int(bool(create_tags)), _flag(threads), _flag(create_tags)),
            )
        return (await self.options([channel_id])).get(channel_id, ThreadOptions())

    async def options(self, channel_ids: Sequence[int]) -> dict[int, ThreadOptions]:
        if not channel_ids:
            return {}
        marks = ", ".join("?" for _ in channel_ids)
        rows = await self._db.all(
            f"SELECT channel_id, threads, create_tags FROM thread_channels WHERE channel_id IN ({marks})",
            list(channel_ids),
        )
        return {int(r[0]): ThreadOptions(bool(r[1]), bool(r[2])) for r in rows}

    async def open_thread(
        self,
        *,
        channel_id: int,
        story_id: int,
        guild_id: int,
        message_id: int,
        thread_id: int | None,
        heat: int | None,
        now: datetime,
    ) -> bool:
        async with self._db.write() as conn:
            async with conn.execute(
                "INSERT INTO alert_threads (channel_id, story_id, guild_id, message_id, thread_id, state, heat,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id, story_id) DO NOTHING",
                (
                    channel_id,
                    story_id,
                    guild_id,
                    message_id,
                    thread_id,
                    "owed" if thread_id is None else "open",
                    heat,
                    to_db(now),
                ),
            ) as cur:
                added = cur.rowcount == 1
            if added:
                await conn.execute(
                    "INSERT INTO thread_posts (channel_id, post_story_id, story_id, kind, added_at)"
                    " VALUES (?, ?, ?, 'related', ?)",
                    (channel_id, story_id, story_id, to_db(now)),
                )
        return added

    async def queue_coverage(self, channel_id: int, story_id: int, now: datetime) -> bool:
        return (
            await self._change(
                "INSERT INTO thread_posts (channel_id, post_story_id, story_id, kind, added_at)"
                " SELECT c.channel_id, c.post_story_id, c.story_id, 'coverage', ? FROM post_coverage c"
                " JOIN alert_threads t ON t.channel_id = c.channel_id AND t.story_id = c.post_story_id"
                " WHERE c.channel_id = ? AND c.story_id = ? AND t.state != 'gone'"
                " ON CONFLICT (channel_id, post_story_id, story_id) DO NOTHING",
                (to_db(now), channel_id, story_id),
            )
            == 1
        )

    async def due_threads(self, now: datetime, *, limit: int) -> list[DueThread]:
        rows = await self._db.all(
            "SELECT channel_id, story_id, guild_id, message_id, heat, attempts FROM alert_threads"
            " WHERE state = 'owed' AND (not_before IS NULL OR not_before <= ?)"
            " ORDER BY heat DESC NULLS LAST, created_at LIMIT ?",
            (to_db(now), limit),
        )
        return [DueThread(int(r[0]), int(r[1]), int(r[2]), int(r[3]), r[4], int(r[5])) for r in rows]

    async def claim_thread(self, channel_id: int, story_id: int, now: datetime, *, until: datetime) -> bool:
        return (
            await self._change(
                "UPDATE alert_threads SET not_before = ?, claimed_at = ? WHERE channel_id = ? AND story_id = ?"
                " AND state = 'owed' AND (not_before IS NULL OR not_before <= ?)",
                (to_db(until), to_db(now), channel_id, story_id, to_db(now)),
            )
            == 1
        )

    async def thread_opened(self, channel_id: int, story_id: int, thread_id: int, now: datetime) -> None:
        await self._change(
            "UPDATE alert_threads SET state = 'open', thread_id = ?, claimed_at = NULL, not_before = NULL,"
            " last_error = NULL WHERE channel_id = ? AND story_id = ?",
            (thread_id, channel_id, story_id),
        )

    async def thread_failed(
        self, channel_id: int, story_id: int, *, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE alert_threads SET state = CASE WHEN ? IS NULL THEN 'gone' ELSE state END, not_before = ?,"
                " claimed_at = NULL, attempts = attempts + 1, last_error = ? WHERE channel_id = ? AND story_id = ?",
                (_when(retry_at), _when(retry_at), error, channel_id, story_id),
            )
            if retry_at is None:
                await conn.execute(
                    "UPDATE thread_posts SET state = 'gone', claimed_at = NULL, last_error = ?"
                    " WHERE channel_id = ? AND post_story_id = ? AND state = 'queued'",
                    (error, channel_id, story_id),
                )

    async def due_posts(self, now: datetime, *, limit: int) -> list[DueThreadPost]:
        rows = await self._db.all(
            "SELECT p.channel_id, p.post_story_id, p.story_id, p.kind, t.guild_id, t.thread_id, t.heat, p.attempts,"
            " p.claimed_at IS NOT NULL OR p.attempts > 0 FROM thread_posts p"
            " JOIN alert_threads t ON t.channel_id = p.channel_id AND t.story_id = p.post_story_id"
            " WHERE p.state = 'queued' AND t.state = 'open' AND (p.not_before IS NULL OR p.not_before <= ?)"
            " ORDER BY t.heat DESC NULLS LAST, p.added_at, p.story_id LIMIT ?",
            (to_db(now), limit),
        )
        return [
            DueThreadPost(int(r[0]), int(r[1]), int(r[2]), r[3], int(r[4]), int(r[5]), r[6], int(r[7]), bool(r[8]))
            for r in rows
        ]

    async def claim_post(
        self, channel_id: int, post_story_id: int, story_id: int, now: datetime, *, until: datetime
    ) -> bool:
        return (
            await self._change(
                f"UPDATE thread_posts SET not_before = ?, claimed_at = ? WHERE {_POST_KEY}"
                " AND state = 'queued' AND (not_before IS NULL OR not_before <= ?)",
                (to_db(until), to_db(now), channel_id, post_story_id, story_id, to_db(now)),
            )
            == 1
        )

    async def post_done(
        self, channel_id: int, post_story_id: int, story_id: int, *, message_id: int | None, now: datetime
    ) -> None:
        await self._change(
            "UPDATE thread_posts SET state = CASE WHEN ? IS NULL THEN 'empty' ELSE 'sent' END, message_id = ?,"
            f" sent_at = ?, claimed_at = NULL, not_before = NULL, last_error = NULL WHERE {_POST_KEY}",
            (message_id, message_id, to_db(now), channel_id, post_story_id, story_id),
        )

    async def post_failed(
        self,
        channel_id: int,
        post_story_id: int,
        story_id: int,
        *,
        error: str,
        retry_at: datetime | None,
        thread_gone: bool,
        now: datetime,
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE thread_posts SET state = CASE WHEN ? IS NULL THEN 'gone' ELSE state END, not_before = ?,"
                f" claimed_at = NULL, attempts = attempts + 1, last_error = ? WHERE {_POST_KEY}",
                (_when(retry_at), _when(retry_at), error, channel_id, post_story_id, story_id),
            )
            if thread_gone:
                await conn.execute(
                    "UPDATE alert_threads SET state = 'gone', last_error = ? WHERE channel_id = ? AND story_id = ?",
                    (error, channel_id, post_story_id),
                )
                await conn.execute(
                    "UPDATE thread_posts SET state = 'gone', last_error = ?"
                    " WHERE channel_id = ? AND post_story_id = ? AND state = 'queued'",
                    (error, channel_id, post_story_id),
                )

    async def claimed_guilds(self) -> list[int]:
        rows = await self._db.all(
            "SELECT guild_id FROM alert_threads WHERE state = 'owed' AND claimed_at IS NOT NULL UNION"
            " SELECT t.guild_id FROM thread_posts p"
            " JOIN alert_threads t ON t.channel_id = p.channel_id AND t.story_id = p.post_story_id"
            " WHERE p.state = 'queued' AND p.claimed_at IS NOT NULL"
        )
        return sorted(int(r[0]) for r in rows)

    async def release_claims(self, guild_ids: Sequence[int], now: datetime) -> int:
        if not guild_ids:
            return 0
        marks = ", ".join("?" for _ in guild_ids)
        async with self._db.write() as conn:
            async with conn.execute(
                f"UPDATE alert_threads SET not_before = ? WHERE state = 'owed' AND claimed_at IS NOT NULL"
                f" AND guild_id IN ({marks})",
                (to_db(now), *guild_ids),
            ) as cur:
                released = cur.rowcount
            async with conn.execute(
                "UPDATE thread_posts SET not_before = ? WHERE state = 'queued' AND claimed_at IS NOT NULL"
                " AND EXISTS (SELECT 1 FROM alert_threads t WHERE t.channel_id = thread_posts.channel_id"
                f" AND t.story_id = thread_posts.post_story_id AND t.guild_id IN ({marks}))",
                (to_db(now), *guild_ids),
            ) as cur:
                released += cur.rowcount
        return released

    async def thread(self, channel_id: int, story_id: int) -> AlertThread | None:
        row = await self._db.one(
            "SELECT channel_id, story_id, message_id, thread_id, state, last_error FROM alert_threads"
            " WHERE channel_id = ? AND story_id = ?",
            (channel_id, story_id),
        )
        if row is None:
            return None
        return AlertThread(int(row[0]), int(row[1]), int(row[2]), row[3], row[4], row[5])

    async def related_links(self, story_id: int, *, channel_id: int, guild_id: int, limit: int) -> list[RelatedLink]:
        entries = await self._db.all(
            "SELECT r.title, r.link_url, r.provider_name, s.id FROM related_entries r"
            " LEFT JOIN stories s ON s.url = r.url WHERE r.story_id = ? ORDER BY r.position LIMIT ?",
            (story_id, limit),
        )
        ours = [int(r[3]) for r in entries if r[3] is not None]
        shown: list[Any] = []
        if ours:
            marks = ", ".join("?" for _ in ours)
            shown = await self._db.all(
                "SELECT d.story_id, d.channel_id, d.message_id, c.kind FROM alert_deliveries d"
                " JOIN alert_channels c ON c.channel_id = d.channel_id"
                f" WHERE d.story_id IN ({marks}) AND d.status = 'sent' AND d.message_id IS NOT NULL"
                " AND c.guild_id = ? ORDER BY d.sent_at",
                (*ours, guild_id),
            )
        return related_links(entries, shown, channel_id=channel_id, guild_id=guild_id)


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else to_db(moment)
