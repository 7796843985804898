"""Small named values the application remembers between runs (the app_state table of 0001_stories.sql)."""

from __future__ import annotations

from db.database import Database


class AppStateRepository:
    """Get and set `app_state` values by key, e.g. the hash of the last globally synced command tree."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, key: str) -> str | None:
        """The stored value, or None when the key was never set."""
        async with self._db.conn.execute("SELECT value FROM app_state WHERE key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def set(self, key: str, value: str) -> None:
        """Store `value` under `key`, replacing any previous value."""
        await self._db.conn.execute(
            "INSERT INTO app_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def delete(self, key: str) -> None:
        """Forget `key` (no error when it is absent)."""
        await self._db.conn.execute("DELETE FROM app_state WHERE key = ?", (key,))
