"""The bot's one aiosqlite connection, and the one write lock every repository writes under."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from db.sqlite.connection import connect_async, connect_sync
from db.sqlite.migrate import migrate


class SqliteDatabase:
    """Owns the bot's connection. Repositories read through `one`/`all` and write inside `write()`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteDatabase:
        """Migrate (synchronously, once, before anything else touches the file) and connect."""
        sync = connect_sync(path)
        try:
            migrate(sync)
        finally:
            sync.close()
        return cls(await connect_async(path), path)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction. Every repository of this connection writes through here, because a
        statement issued while another coroutine holds BEGIN would silently join (and could be rolled back
        with) that transaction: exactly the kind of lost claim the ledger exists to prevent. IMMEDIATE takes
        the write lock up front: a deferred transaction that later upgrades can fail with SQLITE_BUSY without
        the busy timeout helping when the ingester (another connection) is writing."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    # Both read in one hop to the connection's thread: a cursor's execute, fetch and close are three, and each
    # hop waits for two thread switches (~70 us, far more on a busy machine; /related made ~30 of them).

    async def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        """The first row of a statement that returns one row (or none)."""
        rows = await self.conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def close(self) -> None:
        await self.conn.close()
