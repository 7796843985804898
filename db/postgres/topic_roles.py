"""Topic roles (/roles), each channel's ping line, and the last ping of each role per channel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from db.models import TopicRole
from db.postgres.database import AsyncConn, PgDatabase


class PgTopicRoles:
    """topic_roles, role_pings and living_channels.ping_heat."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def set_role(self, *, guild_id: int, topic_id: int, role_id: int, now: datetime) -> int | None:
        async def work(conn: AsyncConn) -> int | None:
            cur = await conn.execute(
                "SELECT role_id FROM topic_roles WHERE guild_id = %s AND topic_id = %s FOR UPDATE",
                (guild_id, topic_id),
            )
            row = await cur.fetchone()
            await conn.execute(
                "INSERT INTO topic_roles (guild_id, topic_id, role_id, created_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (guild_id, topic_id) DO UPDATE SET role_id = excluded.role_id",
                (guild_id, topic_id, role_id, now),
            )
            return None if row is None else int(row["role_id"])

        return await self._db.transact(work)

    async def remove_role(self, guild_id: int, topic_id: int) -> int | None:
        async def work(conn: AsyncConn) -> int | None:
            cur = await conn.execute(
                "DELETE FROM topic_roles WHERE guild_id = %s AND topic_id = %s RETURNING role_id", (guild_id, topic_id)
            )
            row = await cur.fetchone()
            return None if row is None else int(row["role_id"])

        return await self._db.transact(work)

    async def roles(self, guild_id: int) -> list[TopicRole]:
        rows = await self._db.all(
            "SELECT r.topic_id, t.name, r.role_id FROM topic_roles r JOIN topics t ON t.id = r.topic_id"
            " WHERE r.guild_id = %s ORDER BY t.key",
            (guild_id,),
        )
        return [TopicRole(int(r["topic_id"]), r["name"], int(r["role_id"])) for r in rows]

    async def set_ping_heat(self, channel_id: int, ping_heat: int | None) -> None:
        await self._db.execute(
            "INSERT INTO living_channels (channel_id, ping_heat) VALUES (%s, %s)"
            " ON CONFLICT (channel_id) DO UPDATE SET ping_heat = excluded.ping_heat",
            (channel_id, ping_heat),
        )

    async def ping_heat(self, channel_id: int) -> int | None:
        row = await self._db.one("SELECT ping_heat FROM living_channels WHERE channel_id = %s", (channel_id,))
        return None if row is None or row["ping_heat"] is None else int(row["ping_heat"])

    async def roles_to_ping(self, *, channel_id: int, guild_id: int, story_id: int, since: datetime) -> list[int]:
        rows = await self._db.all(
            "SELECT DISTINCT r.role_id FROM story_topics x JOIN topic_roles r ON r.topic_id = x.topic_id"
            " WHERE x.story_id = %s AND r.guild_id = %s AND NOT EXISTS (SELECT 1 FROM role_pings p"
            " WHERE p.channel_id = %s AND p.role_id = r.role_id AND p.pinged_at > %s) ORDER BY r.role_id",
            (story_id, guild_id, channel_id, since),
        )
        return [int(r["role_id"]) for r in rows]

    async def record_pings(self, channel_id: int, role_ids: Sequence[int], now: datetime) -> None:
        async def work(conn: AsyncConn) -> None:
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO role_pings (channel_id, role_id, pinged_at) VALUES (%s, %s, %s)"
                    " ON CONFLICT (channel_id, role_id) DO UPDATE SET pinged_at = excluded.pinged_at",
                    [(channel_id, role_id, now) for role_id in role_ids],
                )

        await self._db.transact(work)
