"""Numbered migrations (`migrations/NNNN_name.sql`) for PostgreSQL, applied at start-up, one transaction each.

`schema_version` records the last applied number, written in the same transaction as the migration. Several
processes may start at once (bots, `heatwave ingest`): migrations run under a session-level advisory lock, and
the version is re-read after the lock is taken, so a migration is applied once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import psycopg
from psycopg import errors as pg_errors

from db.errors import DatabaseError
from db.location import StoreLocation
from db.migrations import Migration, load_migrations
from db.postgres.connection import connect_sync, describe_error

if TYPE_CHECKING:
    from db import SchemaStatus

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key: any constant shared by every Heatwave process on this database.
MIGRATION_LOCK = 0x4E41_5645_0001  # "HEAVE" 1
EXTENSION_HELP = (
    "the database role may not create the pg_trgm extension; ask a superuser (or the database owner) to run "
    "`CREATE EXTENSION pg_trgm SCHEMA public;` in this database once, then start Heatwave again"
)


def available_migrations() -> list[Migration]:
    return load_migrations("db.postgres.migrations")


def latest_version() -> int:
    return len(available_migrations())


def schema_version(conn: psycopg.Connection) -> int:
    """The applied version; 0 for a database Heatwave never touched."""
    row = conn.execute(
        "SELECT to_regclass('schema_version') IS NOT NULL"
    ).fetchone()
    if row is None or not row[0]:
        return 0
    version = conn.execute("SELECT version FROM schema_version").fetchone()
    return 0 if version is None else int(version[0])


def read_version(location: StoreLocation) -> SchemaStatus:
    """The database's schema version, read without changing anything."""
    from db import SchemaStatus

    conn = connect_sync(location)
    try:
        version = schema_version(conn)
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot read the database {location}: {describe_error(exc)}") from None
    finally:
        conn.close()
    return SchemaStatus(version, latest_version())


def migrate(conn: psycopg.Connection, location: StoreLocation) -> int:
    """Bring the database to the latest schema (conn must be in autocommit mode); returns the version."""
    migrations = available_migrations()
    current = _checked_version(conn, location, len(migrations))
    if current == len(migrations):
        return current
    # A session-level lock, taken outside any transaction: every read of the version below then runs in a
    # transaction that began after the lock was granted, so it sees the catalog and rows another process
    # committed while we waited (a transaction-scoped lock taken mid-transaction could see a stale catalog).
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot migrate the database {location}: {describe_error(exc)}") from None
    try:
        while (current := _checked_version(conn, location, len(migrations))) < len(migrations):
            _apply(conn, migrations[current], location)
        return current
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def _checked_version(conn: psycopg.Connection, location: StoreLocation, known: int) -> int:
    current = schema_version(conn)
    if current > known:
        raise DatabaseError(
            f"the database {location} has schema version {current}, newer than this Heatwave knows "
            f"({known}); upgrade Heatwave"
        )
    return current


def _apply(conn: psycopg.Connection, migration: Migration, location: StoreLocation) -> None:
    try:
        with conn.transaction():
            log.info("applying migration %s", migration.name)
            conn.execute(migration.sql.encode("utf-8"))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (migration.number,))
    except pg_errors.InsufficientPrivilege as exc:
        if "extension" in str(exc).lower() or "pg_trgm" in str(exc):
            raise DatabaseError(f"cannot set up the database {location}: {EXTENSION_HELP}") from None
        raise DatabaseError(f"migration {migration.name} failed on {location}: {describe_error(exc)}") from None
    except psycopg.Error as exc:
        raise DatabaseError(f"migration {migration.name} failed on {location}: {describe_error(exc)}") from None
