"""The bot's PostgreSQL handle: a small async pool, and the retry rule for a connection lost while running.

A server restart or `pg_terminate_backend` kills every pooled connection. A call that meets a dead connection
fails, the pool drops that connection, and the call is retried on another (a fresh one when none is left) with
a growing pause while the server is unreachable, so commands answer again as soon as it is back. Connections are
not pinged before each use: that would add a round trip to every query. Retrying is safe for every write:
each one is a single transaction whose statements are guarded by the state they change (`WHERE status =
'queued'`, `ON CONFLICT`), so a transaction that did commit before the connection dropped turns into a no-op
when it is run again, and one that did not commit simply runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from db.errors import DatabaseError, StoreUnavailable
from db.location import StoreLocation
from db.postgres.connection import (
    APPLICATION_NAME,
    CONNECT_TIMEOUT_S,
    SESSION_SETUP,
    connect_sync,
    describe_error,
    url_of,
)
from db.postgres.migrate import migrate

log = logging.getLogger(__name__)

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]
AsyncConn = psycopg.AsyncConnection[DictRow]

POOL_MIN = 1
POOL_MAX = 8
# Pauses between attempts while the server is unreachable (about 30 s in all), then StoreUnavailable.
RETRY_PAUSES_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


def _is_connection_loss(exc: BaseException) -> bool:
    # OperationalError covers a dropped socket, "terminating connection due to administrator command" and a
    # server that refuses connections while it restarts; PoolTimeout means no connection could be made.
    return isinstance(exc, psycopg.OperationalError | PoolTimeout)


class PgDatabase:
    """Reads return dict rows; writes go through `transact`, one transaction per call."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConn], location: StoreLocation) -> None:
        self.pool = pool
        self.location = location

    @classmethod
    async def open(cls, location: StoreLocation) -> PgDatabase:
        """Migrate, then open the pool; an unreachable server, a refused login or a missing database is a
        DatabaseError naming the (masked) location."""
        await asyncio.to_thread(_migrate_sync, location)

        async def configure(conn: AsyncConn) -> None:
            await conn.execute(SESSION_SETUP)
            # psycopg prepares a statement after its 5th run on a connection, and PostgreSQL may then switch it
            # to a generic plan; lookups need plans made for their actual values (a common word or a rare one).
            await conn.execute("SET plan_cache_mode = force_custom_plan")

        pool: AsyncConnectionPool[AsyncConn] = AsyncConnectionPool(
            url_of(location),
            min_size=POOL_MIN,
            max_size=POOL_MAX,
            kwargs={
                "row_factory": dict_row,
                "autocommit": True,
                "connect_timeout": CONNECT_TIMEOUT_S,
                "fallback_application_name": APPLICATION_NAME,
            },
            configure=configure,
            open=False,
            name="heatwave",
            timeout=CONNECT_TIMEOUT_S,
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except (psycopg.Error, PoolTimeout) as exc:
            await pool.close()
            raise DatabaseError(f"cannot connect to the database {location}: {describe_error(exc)}") from None
        return cls(pool, location)

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        for pause in (*RETRY_PAUSES_S, None):
            try:
                return await attempt()
            except Exception as exc:
                if not _is_connection_loss(exc):
                    raise
                if pause is None:
                    raise StoreUnavailable(
                        f"the database {self.location} is unreachable: {describe_error(exc)}"
                    ) from None
                log.warning("database connection lost (%s); retrying in %.2f s", describe_error(exc), pause)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def one(self, sql: str, params: Params = ()) -> DictRow | None:
        async def attempt() -> DictRow | None:
            async with self.pool.connection() as conn:
                cur = await conn.execute(sql, params)
                return await cur.fetchone()

        return await self._retrying(attempt)

    async def all(self, sql: str, params: Params = ()) -> list[DictRow]:
        async def attempt() -> list[DictRow]:
            async with self.pool.connection() as conn:
                cur = await conn.execute(sql, params)
                return await cur.fetchall()

        return await self._retrying(attempt)

    async def transact(self, work: Callable[[AsyncConn], Awaitable[T]]) -> T:
        """Run `work` in one transaction (committed when it returns); retried whole on a lost connection."""

        async def attempt() -> T:
            async with self.pool.connection() as conn, conn.transaction():
                return await work(conn)

        return await self._retrying(attempt)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement in its own transaction; returns the number of rows it changed."""

        async def work(conn: AsyncConn) -> int:
            cur = await conn.execute(sql, params)
            return cur.rowcount

        return await self.transact(work)

    async def close(self) -> None:
        await self.pool.close()


def _migrate_sync(location: StoreLocation) -> None:
    conn = connect_sync(location)
    try:
        migrate(conn, location)
    finally:
        conn.close()
