"""Heatwave's store. Everything that knows which database engine runs lives in this package.

Callers outside `db/` parse `HEATWAVE_DB` with `parse_location`, then use
- `await open_store(location)`: the bot's async `Store` (lookups, subscriptions, channels, ledger, crossposts,
  app state), migrated at open;
- `open_ingest_store(location)`: the ingester's sync `IngestStore` (also `read_stats` for `heatwave stats`).
They receive and return the plain dataclasses of `db.models`; no SQL, cursor or engine type crosses this
boundary. `db/sqlite/` and `db/postgres/` are the two engines; nothing else imports from them.

Engine modules are imported lazily: `heatwave ingest` on SQLite should not pay for importing the PostgreSQL
driver, nor the bot for the sync side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from db.copy_store import INCOMPLETE_COPY_KEY, refuse_incomplete_copy
from db.errors import DatabaseError, StoreUnavailable
from db.location import StoreLocation, parse_location

if TYPE_CHECKING:
    from db.interfaces import IngestStore, Store

__all__ = [
    "DatabaseError",
    "SchemaStatus",
    "StoreLocation",
    "StoreUnavailable",
    "open_ingest_store",
    "open_store",
    "parse_location",
    "schema_status",
]


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Which migration a store has applied, against the latest this Heatwave ships."""

    version: int
    latest: int

    @property
    def current(self) -> bool:
        """True when every migration is applied."""
        return self.version == self.latest


def schema_status(location: StoreLocation) -> SchemaStatus:
    """The store's schema version without changing anything (no migration, no file created).

    Raises DatabaseError when the store does not exist or cannot be reached (the message says which and how).
    """
    if location.engine == "sqlite":
        from db.sqlite.migrate import read_version

        return read_version(location)
    from db.postgres.migrate import read_version as read_pg_version

    return read_pg_version(location)


async def open_store(location: StoreLocation) -> Store:
    """Connect to the store at `location`, bring its schema up to date, and return the bot's handle.

    A store that `heatwave copy-store` did not finish writing is refused (DatabaseError saying so).
    """
    store: Store
    if location.engine == "sqlite":
        from db.sqlite.store import SqliteStore

        store = await SqliteStore.open(location)
    else:
        from db.postgres.store import PostgresStore

        store = await PostgresStore.open(location)
    try:
        refuse_incomplete_copy(location, await store.app_state.get(INCOMPLETE_COPY_KEY))
    except BaseException:
        await store.close()
        raise
    return store


def open_ingest_store(location: StoreLocation, *, create: bool = True) -> IngestStore:
    """The ingester's synchronous store at `location`, migrated; use it as a context manager.

    With `create=False` a store that does not exist yet is an error ("run `heatwave ingest` first") instead of
    being created empty (for `heatwave stats`, which only reads). An unfinished `copy-store` target is refused.
    """
    store: IngestStore
    if location.engine == "sqlite":
        from db.sqlite.ingest import SqliteIngestStore

        store = SqliteIngestStore.open(location, create=create)
    else:
        from db.postgres.ingest import PostgresIngestStore

        store = PostgresIngestStore.open(location, create=create)
    try:
        refuse_incomplete_copy(location, store.app_state_value(INCOMPLETE_COPY_KEY))
    except BaseException:
        store.close()
        raise
    return store
