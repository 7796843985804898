"""Opening SQLite connections with the settings every connection needs."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from db.errors import DatabaseError

if TYPE_CHECKING:
    import aiosqlite

# A writer in another process (the ingest CLI while the bot runs) holds the lock for one batch at most;
# waiting up to this long instead of failing with "database is locked" is what lets both run at once.
BUSY_TIMEOUT_MS = 15_000

_PRAGMAS = (
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA temp_store = MEMORY",
    # Reads of hot index pages straight from the page cache of the OS instead of copying them into SQLite's own:
    # at 1M stories (a 1.5 GB file) it takes the slowest lookups' p99 from ~8-11 ms to ~6 ms. 2 GB is the most
    # SQLite's default build maps (SQLITE_MAX_MMAP_SIZE); it is address space, not memory the process holds.
    "PRAGMA mmap_size = 2147418112",
)


def _prepare_path(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the folder for database {path}: {exc.strerror or exc}") from None


# Switching a new file to WAL needs an exclusive lock and, unlike ordinary statements, can report "database is
# locked" at once instead of waiting in the busy handler when another process opens the same new file.
_WAL_ATTEMPTS = 150
_WAL_RETRY_SECONDS = 0.1


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _ensure_wal(conn: sqlite3.Connection) -> None:
    """WAL is persistent: only a brand-new file needs the switch, retried while another opener holds the lock."""
    for attempt in range(_WAL_ATTEMPTS):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc) or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(_WAL_RETRY_SECONDS)


def connect_sync(path: Path) -> sqlite3.Connection:
    """A sync connection in autocommit mode: transactions are explicit (BEGIN/COMMIT) where needed."""
    _prepare_path(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        _ensure_wal(conn)
        for pragma in _PRAGMAS:
            conn.execute(pragma)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open database {path}: {exc}") from None
    return conn


async def connect_async(path: Path) -> aiosqlite.Connection:
    """The bot's connection (`Database.open` has already migrated the file and switched it to WAL)."""
    # Imported here so `heatwave ingest`, which only needs the sync driver, does not pay for aiosqlite.
    import aiosqlite

    _prepare_path(path)
    try:
        conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        for pragma in ("PRAGMA journal_mode = WAL", *_PRAGMAS):
            await conn.execute(pragma)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open database {path}: {exc}") from None
    conn.row_factory = sqlite3.Row
    return conn
