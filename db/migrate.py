"""Numbered migrations (`migrations/NNNN_name.sql`) applied at start-up, one transaction each.

`PRAGMA user_version` records the last applied number; it is set inside the same transaction as the
migration, so a crash leaves the database either before or after a migration, never half way.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

from db.connection import DatabaseError

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    number: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """Every migration shipped with the package, in order; numbers must be 1..N without gaps."""
    found: list[Migration] = []
    for entry in resources.files("db.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.number)
    for expected, migration in enumerate(found, start=1):
        if migration.number != expected:
            raise RuntimeError(f"migration numbers must be contiguous: expected {expected:04d}, found {migration.name}")
    return found


def latest_version() -> int:
    return len(available_migrations())


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the latest schema; returns the version it is at afterwards."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    migrations = available_migrations()
    if current > len(migrations):
        raise DatabaseError(
            f"database schema version {current} is newer than this Heatwave ({len(migrations)}); upgrade Heatwave"
        )
    for migration in migrations[current:]:
        log.info("applying migration %s", migration.name)
        # executescript would COMMIT on its own first; BEGIN IMMEDIATE inside the script keeps the
        # migration and its user_version bump in one transaction, and takes the write lock up front.
        script = f"BEGIN IMMEDIATE;\n{migration.sql}\n;PRAGMA user_version = {migration.number};\nCOMMIT;"
        try:
            conn.executescript(script)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise DatabaseError(f"migration {migration.name} failed: {exc}") from None
    return int(conn.execute("PRAGMA user_version").fetchone()[0])
