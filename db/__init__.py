"""Heatwave's store. Everything that knows which database engine is used lives in this package.

Callers outside `db/` use `Database` (async, for the bot) and the repositories it exposes, or
`db.ingest_store` (sync, for the ingester, which runs in a worker thread or the CLI). They receive and return
the plain dataclasses of `db.models`; no SQL, cursor or engine type crosses this boundary.

`Database` is imported lazily: `heatwave ingest` and `heatwave stats` use only the sync side and should not
pay for importing aiosqlite (and with it asyncio) at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from db.connection import DatabaseError
    from db.database import Database

__all__ = ["Database", "DatabaseError"]


def __getattr__(name: str) -> object:
    if name == "Database":
        from db.database import Database

        return Database
    if name == "DatabaseError":
        from db.connection import DatabaseError

        return DatabaseError
    raise AttributeError(f"module 'db' has no attribute {name!r}")
