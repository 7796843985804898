"""Heatwave's store. Everything that knows which database engine is used lives in this package.

Callers outside `db/` use `Database` (async, for the bot) and the repositories it exposes, or
`db.ingest_store` (sync, for the ingester, which runs in a worker thread or the CLI). They receive and return
the plain dataclasses of `db.models`; no SQL, cursor or engine type crosses this boundary.
"""

from db.database import Database, DatabaseError

__all__ = ["Database", "DatabaseError"]
