"""Small named values the application remembers between runs (the app_state table)."""

from __future__ import annotations

from db.postgres.database import PgDatabase


class PgAppState:
    """Get and set `app_state` values by key, e.g. the hash of the last globally synced command tree."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database

    async def get(self, key: str) -> str | None:
        row = await self._db.one("SELECT value FROM app_state WHERE key = %s", (key,))
        return None if row is None else str(row["value"])

    async def set(self, key: str, value: str) -> None:
        await self._db.execute(
            "INSERT INTO app_state (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
