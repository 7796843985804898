"""Related-story threads: each channel's options, the thread ledger, and the messages owed in threads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from db.models import AlertThread, DueThread, DueThreadPost, RelatedLink, ThreadOptions
from db.postgres.database import AsyncConn, PgDatabase
from db.thread_rows import related_links

_POST_KEY = "channel_id = %s AND post_story_id = %s AND story_id = %s"


class PgThreads:
    """thread_channels, alert_threads and thread_posts."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def set_options(self, channel_id: int, *, threads: bool | None, create_tags: bool | None) -> ThreadOptions:
        await self._db.execute(
            "INSERT INTO thread_channels (channel_id, threads, create_tags) VALUES (%s, %s, %s)"
            " ON CONFLICT (channel_id) DO UPDATE SET threads = coalesce(%s::smallint, thread_channels.threads),"
            " create_tags = coalesce(%s::smallint, thread_channels.create_tags)",
            (channel_id, int(bool(threads)), int(bool(create_tags)), _flag(threads), _flag(create_tags)),
        )
        return (await self.options([channel_id])).get(channel_id, ThreadOptions())

    async def options(self, channel_ids: Sequence[int]) -> dict[int, ThreadOptions]:
        if not channel_ids:
            return {}
        rows = await self._db.all(
            "SELECT channel_id, threads, create_tags FROM thread_channels WHERE channel_id = ANY(%s)",
            (list(channel_ids),),
        )
        return {int(r["channel_id"]): ThreadOptions(bool(r["threads"]), bool(r["create_tags"])) for r in rows}

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
        async def work(conn: AsyncConn) -> bool:
            cur = await conn.execute(
                "INSERT INTO alert_threads (channel_id, story_id, guild_id, message_id, thread_id, state, heat,"
                " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (channel_id, story_id) DO NOTHING",
                (
                    channel_id,
                    story_id,
                    guild_id,
                    message_id,
                    thread_id,
                    "owed" if thread_id is None else "open",
                    heat,
                    now,
                ),
            )
            if cur.rowcount != 1:
                return False
            await conn.execute(
                "INSERT INTO thread_posts (channel_id, post_story_id, story_id, kind, added_at)"
                " VALUES (%s, %s, %s, 'related', %s)",
                (channel_id, story_id, story_id, now),
            )
            return True

        return await self._db.transact(work)

    async def queue_coverage(self, channel_id: int, story_id: int, now: datetime) -> bool:
        return (
            await self._db.execute(
                "INSERT INTO thread_posts (channel_id, post_story_id, story_id, kind, added_at)"
                " SELECT c.channel_id, c.post_story_id, c.story_id, 'coverage', %s FROM post_coverage c"
                " JOIN alert_threads t ON t.channel_id = c.channel_id AND t.story_id = c.post_story_id"
                " WHERE c.channel_id = %s AND c.story_id = %s AND t.state != 'gone'"
                " ON CONFLICT (channel_id, post_story_id, story_id) DO NOTHING",
                (now, channel_id, story_id),
            )
            == 1
        )

    async def due_threads(self, now: datetime, *, limit: int) -> list[DueThread]:
        rows = await self._db.all(
            "SELECT channel_id, story_id, guild_id, message_id, heat, attempts FROM alert_threads"
            " WHERE state = 'owed' AND (not_before IS NULL OR not_before <= %s)"
            " ORDER BY heat DESC NULLS LAST, created_at LIMIT %s",
            (now, limit),
        )
        return [
            DueThread(
                int(r["channel_id"]),
                int(r["story_id"]),
                int(r["guild_id"]),
                int(r["message_id"]),
                None if r["heat"] is None else int(r["heat"]),
                int(r["attempts"]),
            )
            for r in rows
        ]

    async def claim_thread(self, channel_id: int, story_id: int, now: datetime, *, until: datetime) -> bool:
        return (
            await self._db.execute(
                "UPDATE alert_threads SET not_before = %s, claimed_at = %s WHERE channel_id = %s AND story_id = %s"
                " AND state = 'owed' AND (not_before IS NULL OR not_before <= %s)",
                (until, now, channel_id, story_id, now),
            )
            == 1
        )

    async def thread_opened(self, channel_id: int, story_id: int, thread_id: int, now: datetime) -> None:
        await self._db.execute(
            "UPDATE alert_threads SET state = 'open', thread_id = %s, claimed_at = NULL, not_before = NULL,"
            " last_error = NULL WHERE channel_id = %s AND story_id = %s",
            (thread_id, channel_id, story_id),
        )

    async def thread_failed(
        self, channel_id: int, story_id: int, *, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        async def work(conn: AsyncConn) -> None:
            await conn.execute(
                "UPDATE alert_threads SET state = CASE WHEN %s::timestamptz IS NULL THEN 'gone' ELSE state END,"
                " not_before = %s, claimed_at = NULL, attempts = attempts + 1, last_error = %s"
                " WHERE channel_id = %s AND story_id = %s",
                (retry_at, retry_at, error, channel_id, story_id),
            )
            if retry_at is None:
                await conn.execute(
                    "UPDATE thread_posts SET state = 'gone', claimed_at = NULL, last_error = %s"
                    " WHERE channel_id = %s AND post_story_id = %s AND state = 'queued'",
                    (error, channel_id, story_id),
                )

        await self._db.transact(work)

    async def due_posts(self, now: datetime, *, limit: int) -> list[DueThreadPost]:
        rows = await self._db.all(
            "SELECT p.channel_id, p.post_story_id, p.story_id, p.kind, t.guild_id, t.thread_id, t.heat, p.attempts,"
            " (p.claimed_at IS NOT NULL OR p.attempts > 0) AS unsure FROM thread_posts p"
            " JOIN alert_threads t ON t.channel_id = p.channel_id AND t.story_id = p.post_story_id"
            " WHERE p.state = 'queued' AND t.state = 'open' AND (p.not_before IS NULL OR p.not_before <= %s)"
            " ORDER BY t.heat DESC NULLS LAST, p.added_at, p.story_id LIMIT %s",
            (now, limit),
        )
        return [
            DueThreadPost(
                int(r["channel_id"]),
                int(r["post_story_id"]),
                int(r["story_id"]),
                r["kind"],
                int(r["guild_id"]),
                int(r["thread_id"]),
                None if r["heat"] is None else int(r["heat"]),
                int(r["attempts"]),
                bool(r["unsure"]),
            )
            for r in rows
        ]

    async def claim_post(
        self, channel_id: int, post_story_id: int, story_id: int, now: datetime, *, until: datetime
    ) -> bool:
        return (
            await self._db.execute(
                f"UPDATE thread_posts SET not_before = %s, claimed_at = %s WHERE {_POST_KEY}"
                " AND state = 'queued' AND (not_before IS NULL OR not_before <= %s)",
                (until, now, channel_id, post_story_id, story_id, now),
            )
            == 1
        )

    async def post_done(
        self, channel_id: int, post_story_id: int, story_id: int, *, message_id: int | None, now: datetime
    ) -> None:
        await self._db.execute(
            "UPDATE thread_posts SET state = CASE WHEN %s::bigint IS NULL THEN 'empty' ELSE 'sent' END,"
            " message_id = %s, sent_at = %s, claimed_at = NULL, not_before = NULL, last_error = NULL"
            f" WHERE {_POST_KEY}",
            (message_id, message_id, now, channel_id, post_story_id, story_id),
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
        async def work(conn: AsyncConn) -> None:
            await conn.execute(
                "UPDATE thread_posts SET state = CASE WHEN %s::timestamptz IS NULL THEN 'gone' ELSE state END,"
                f" not_before = %s, claimed_at = NULL, attempts = attempts + 1, last_error = %s WHERE {_POST_KEY}",
                (retry_at, retry_at, error, channel_id, post_story_id, story_id),
            )
            if thread_gone:
                await conn.execute(
                    "UPDATE alert_threads SET state = 'gone', last_error = %s WHERE channel_id = %s AND story_id = %s",
                    (error, channel_id, post_story_id),
                )
                await conn.execute(
                    "UPDATE thread_posts SET state = 'gone', last_error = %s"
                    " WHERE channel_id = %s AND post_story_id = %s AND state = 'queued'",
                    (error, channel_id, post_story_id),
                )

        await self._db.transact(work)

    async def claimed_guilds(self) -> list[int]:
        rows = await self._db.all(
            "SELECT guild_id FROM alert_threads WHERE state = 'owed' AND claimed_at IS NOT NULL UNION"
            " SELECT t.guild_id FROM thread_posts p"
            " JOIN alert_threads t ON t.channel_id = p.channel_id AND t.story_id = p.post_story_id"
            " WHERE p.state = 'queued' AND p.claimed_at IS NOT NULL"
        )
        return sorted(int(r["guild_id"]) for r in rows)

    async def release_claims(self, guild_ids: Sequence[int], now: datetime) -> int:
        if not guild_ids:
            return 0

        async def work(conn: AsyncConn) -> int:
            cur = await conn.execute(
                "UPDATE alert_threads SET not_before = %s WHERE state = 'owed' AND claimed_at IS NOT NULL"
                " AND guild_id = ANY(%s)",
                (now, list(guild_ids)),
            )
            released = cur.rowcount
            cur = await conn.execute(
                "UPDATE thread_posts p SET not_before = %s FROM alert_threads t"
                " WHERE p.state = 'queued' AND p.claimed_at IS NOT NULL AND t.channel_id = p.channel_id"
                " AND t.story_id = p.post_story_id AND t.guild_id = ANY(%s)",
                (now, list(guild_ids)),
            )
            return released + cur.rowcount

        return await self._db.transact(work)

    async def thread(self, channel_id: int, story_id: int) -> AlertThread | None:
        row = await self._db.one(
            "SELECT channel_id, story_id, message_id, thread_id, state, last_error FROM alert_threads"
            " WHERE channel_id = %s AND story_id = %s",
            (channel_id, story_id),
        )
        if row is None:
            return None
        return AlertThread(
            int(row["channel_id"]),
            int(row["story_id"]),
            int(row["message_id"]),
            None if row["thread_id"] is None else int(row["thread_id"]),
            row["state"],
            row["last_error"],
        )

    async def related_links(self, story_id: int, *, channel_id: int, guild_id: int, limit: int) -> list[RelatedLink]:
        entries = await self._db.all(
            "SELECT r.title, r.link_url, r.provider_name, s.id FROM related_entries r"
            " LEFT JOIN stories s ON s.url = r.url WHERE r.story_id = %s ORDER BY r.position LIMIT %s",
            (story_id, limit),
        )
        rows = [tuple(r.values()) for r in entries]
        ours = [int(r[3]) for r in rows if r[3] is not None]
        shown: list[Any] = []
        if ours:
            found = await self._db.all(
                "SELECT d.story_id, d.channel_id, d.message_id, c.kind FROM alert_deliveries d"
                " JOIN alert_channels c ON c.channel_id = d.channel_id"
                " WHERE d.story_id = ANY(%s) AND d.status = 'sent' AND d.message_id IS NOT NULL"
                " AND c.guild_id = %s ORDER BY d.sent_at",
                (ours, guild_id),
            )
            shown = [tuple(r.values()) for r in found]
        return related_links(rows, shown, channel_id=channel_id, guild_id=guild_id)


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)
