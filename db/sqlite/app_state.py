"""Small named values the application remembers between runs (the app_state table)."""

from __future__ import annotations

from db.sqlite.database import SqliteDatabase


class SqliteAppState:
    """Get and set `app_state` values by key, e.g. the hash of the last globally synced command tree."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def get(self, key: str) -> str | None:
        row = await self._db.one("SELECT value FROM app_state WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set(self, key: str, value: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "INSERT INTO app_state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
