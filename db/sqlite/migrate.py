"""Numbered migrations (`migrations/NNNN_name.sql`) applied at start-up, one transaction each.

`PRAGMA user_version` records the last applied number; it is set inside the same transaction as the
migration, so a crash leaves the database either before or after a migration, never half way.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING

from db.errors import DatabaseError
from db.migrations import Migration, load_migrations

if TYPE_CHECKING:
    from db import SchemaStatus
    from db.location import StoreLocation

log = logging.getLogger(__name__)


def available_migrations() -> list[Migration]:
    return load_migrations("db.sqlite.migrations")


def latest_version() -> int:
    return len(available_migrations())


def read_version(location: StoreLocation) -> SchemaStatus:
    """The file's schema version, read without creating or changing anything."""
    from db import SchemaStatus

    path = location.path
    assert path is not None
    if not path.is_file():
        raise DatabaseError(f"no database at {path}; `heatwave ingest` or `heatwave run` creates it")
    try:
        # Read-only: the doctor must not create a WAL file, migrate or take a write lock.
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = _user_version(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot read database {path}: {exc}") from None
    return SchemaStatus(version, latest_version())


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the latest schema; returns the version it is at afterwards."""
    migrations = available_migrations()
    while True:
        current = _user_version(conn)
        if current > len(migrations):
            raise DatabaseError(
                f"database schema version {current} is newer than this Heatwave ({len(migrations)}); "
                "upgrade Heatwave"
            )
        if current == len(migrations):
            return current
        _apply(conn, migrations[current])


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    # Take the write lock first, then re-read the version: another process (the bot and `heatwave ingest` opening a
    # new file at once) may have applied this migration while we waited, and must not have it applied twice.
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _user_version(conn) != migration.number - 1:
            conn.execute("ROLLBACK")
            return
        log.info("applying migration %s", migration.name)
        # Statement by statement (executescript would COMMIT the open transaction first), so the migration and
        # its user_version bump commit together or not at all.
        for statement in split_statements(migration.sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {migration.number:d}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise DatabaseError(f"migration {migration.name} failed: {exc}") from None


def split_statements(script: str) -> list[str]:
    """Complete SQL statements of a script, in order (trigger bodies stay whole)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        not ln.strip() or ln.lstrip().startswith("--") for ln in buffer.splitlines()
    ):
        raise DatabaseError(f"unterminated SQL statement in migration: {buffer.strip()[:80]!r}")
    return statements
