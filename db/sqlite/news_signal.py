"""The news signal on SQLite: `PRAGMA data_version` on a connection of its own, read every POLL_SECONDS.

SQLite has no notifications between processes, but `data_version` changes whenever another connection commits
to the file, and reading it costs no table access. This connection never writes, so a commit by anyone (the
ingester in this process or another, `heatwave ingest`) changes it; only then is the newest heat change read.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import TYPE_CHECKING

from db.errors import DatabaseError
from db.sqlite.connection import connect_async

if TYPE_CHECKING:
    from pathlib import Path

    import aiosqlite

log = logging.getLogger(__name__)

# How often the file is asked whether anyone committed: the longest a wake-up waits, for ~20 cheap reads a second.
POLL_SECONDS = 0.05
# After an error (the file briefly unreadable), how long before the next look.
ERROR_PAUSE_SECONDS = 1.0


class SqliteNewsSignal:
    """Implements `db.interfaces.NewsSignal`; the connection is opened at the first wait and closed by `close`."""

    def __init__(self, path: Path, *, poll_seconds: float = POLL_SECONDS) -> None:
        self._path = path
        self._poll_seconds = poll_seconds
        self._conn: aiosqlite.Connection | None = None
        self._turn = asyncio.Lock()

    async def wait_newer(self, than: int) -> int:
        async with self._turn:
            seen_version: int | None = None
            while True:
                try:
                    conn = await self._connection()
                    version = await _one_int(conn, "PRAGMA data_version")
                    if version != seen_version:
                        seen_version = version
                        newest = await _one_int(conn, "SELECT coalesce(max(id), 0) FROM heat_history")
                        if newest > than:
                            return newest
                except (sqlite3.Error, DatabaseError):
                    log.warning("cannot look for news in %s; looking again shortly", self._path, exc_info=True)
                    await self.close()
                    seen_version = None
                    await asyncio.sleep(ERROR_PAUSE_SECONDS)
                    continue
                await asyncio.sleep(self._poll_seconds)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            self._conn = await connect_async(self._path)
        return self._conn


async def _one_int(conn: aiosqlite.Connection, sql: str) -> int:
    async with conn.execute(sql) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row is not None else 0
