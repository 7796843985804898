"""The async handle the bot holds: one connection, migrated at open, closed at shutdown."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import aiosqlite

from db.connection import DatabaseError, connect_async, connect_sync
from db.migrate import migrate

__all__ = ["Database", "DatabaseError"]


class Database:
    """Owns the bot's connection; repositories (lookups, alerts, ...) are built on top of it."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    async def open(cls, path: Path) -> Database:
        """Migrate (synchronously, once, before anything else touches the file) and connect."""
        sync = connect_sync(path)
        try:
            migrate(sync)
        finally:
            sync.close()
        return cls(await connect_async(path), path)

    @property
    def conn(self) -> aiosqlite.Connection:
        """For repositories inside `db/` only."""
        return self._conn

    async def close(self) -> None:
        await self._conn.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
