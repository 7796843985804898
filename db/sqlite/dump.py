"""SQLite's side of `copy-store` (db/copy_store.py): reading a whole store, and loading one.

Times are ISO text here (timefmt) and plain datetimes in between. The target keeps the triggers that count
topic links and copy each link's sort keys, exactly as ingest runs them; only the full-text triggers are set
aside during the load, and each full-text index is rebuilt from `stories` once at the end.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from db.copy_store import BOOKKEEPING_KEYS, INCOMPLETE_COPY_KEY, SEEDED_TABLES, Batches, Facts, Row, Table
from db.errors import DatabaseError
from db.location import StoreLocation
from db.sqlite.connection import BUSY_TIMEOUT_MS, connect_sync
from db.sqlite.migrate import latest_version, migrate
from db.sqlite.timefmt import from_db, to_db

# A bulk load's page cache: the URL and path keys take inserts in random order (SQLite allocates it as needed).
_CACHE_KIB = 512 * 1024
# app_state keys ("copy-store:restore:<0 index|1 trigger>:<name>") holding what a load set aside, until `finish`.
_RESTORE = "copy-store:restore:"


@contextmanager
def _reported(location: StoreLocation, doing: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot {doing} {location}: {exc}") from None


def _connect_read_only(location: StoreLocation) -> sqlite3.Connection:
    assert location.path is not None
    if not location.path.is_file():
        raise DatabaseError(f"no database at {location}")
    with _reported(location, "open"):
        # mode=ro: the copy never writes to its source, whatever goes wrong.
        return sqlite3.connect(
            f"{location.path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )


def _marker(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM app_state WHERE key = ?", (INCOMPLETE_COPY_KEY,)).fetchone()
    return None if row is None else str(row[0])


def _table_columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    tables = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    # Full-text tables (and the shadow tables FTS5 keeps their index in) are derived from `stories`.
    virtual = [name for name, sql in tables if str(sql).upper().startswith("CREATE VIRTUAL TABLE")]
    found: dict[str, list[str]] = {}
    for name, _sql in tables:
        if name.startswith("sqlite_") or any(name == v or name.startswith(f"{v}_") for v in virtual):
            continue
        found[name] = [row[0] for row in conn.execute("SELECT name FROM pragma_table_info(?)", (name,))]
    return found


def _data_rows(table: Table) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause (and its parameters) leaving out the copy's own app_state rows."""
    if table.name == "app_state":
        return " WHERE key NOT LIKE ?", (BOOKKEEPING_KEYS,)
    return "", ()


def _facts(conn: sqlite3.Connection, tables: Sequence[Table]) -> Facts:
    rows: dict[str, int] = {}
    max_ids: dict[str, int | None] = {}
    for table in tables:
        # Table and column names come from db.copy_store.TABLES, never from input.
        where, params = _data_rows(table)
        highest = f"max({table.id_column})" if table.id_column else "NULL"
        count, top = conn.execute(f"SELECT count(*), {highest} FROM {table.name}{where}", params).fetchone()
        rows[table.name] = int(count)
        if table.id_column:
            max_ids[table.name] = None if top is None else int(top)
    story_counts = {int(i): int(n) for i, n in conn.execute("SELECT id, story_count FROM topics")}
    return Facts(rows, max_ids, story_counts)


def _convert(batch: list[Row], positions: tuple[int, ...], convert: Callable[[Any], object]) -> list[Row]:
    if not positions:
        return batch
    out: list[Row] = []
    for row in batch:
        values = list(row)
        for i in positions:
            value = values[i]
            if value is not None:
                values[i] = convert(value)
        out.append(values)
    return out


class SqliteDumpReader:
    """A read-only connection to the source file, reading everything in one snapshot."""

    def __init__(self, conn: sqlite3.Connection, location: StoreLocation) -> None:
        self._conn = conn
        self._location = location

    @classmethod
    def open(cls, location: StoreLocation) -> SqliteDumpReader:
        conn = _connect_read_only(location)
        try:
            with _reported(location, "read"):
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            _check_version(version, location)
        except BaseException:
            conn.close()
            raise
        return cls(conn, location)

    def begin_snapshot(self) -> None:
        with _reported(self._location, "read"):
            self._conn.execute("BEGIN")
            # A WAL read transaction takes its snapshot at the first read, not at BEGIN.
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()

    def marker(self) -> str | None:
        with _reported(self._location, "read"):
            return _marker(self._conn)

    def table_columns(self) -> dict[str, list[str]]:
        with _reported(self._location, "read"):
            return _table_columns(self._conn)

    def facts(self, tables: Sequence[Table]) -> Facts:
        with _reported(self._location, "read"):
            return _facts(self._conn, tables)

    def batches(self, table: Table, size: int) -> Iterator[list[Row]]:
        positions = table.time_positions
        where, params = _data_rows(table)
        with _reported(self._location, "read"):
            cursor = self._conn.execute(f"SELECT {', '.join(table.columns)} FROM {table.name}{where}", params)
            while batch := cursor.fetchmany(size):
                yield _convert(batch, positions, from_db)

    def close(self) -> None:
        self._conn.close()


def _check_version(version: int, location: StoreLocation) -> None:
    latest = latest_version()
    if version == 0:
        raise DatabaseError(f"{location} is not a Heatwave database (it has no schema)")
    if version < latest:
        raise DatabaseError(
            f"the database {location} has schema version {version}, older than this Heatwave's ({latest}); "
            f"open it once with this version (e.g. `heatwave stats --db {location}`) to upgrade it, then copy"
        )
    if version > latest:
        raise DatabaseError(
            f"the database {location} has schema version {version}, newer than this Heatwave knows ({latest}); "
            "upgrade Heatwave"
        )


def _full_text_tables(conn: sqlite3.Connection) -> list[str]:
    """The FTS5 tables (external content over `stories`: 'rebuild' refills one from its content table)."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    return [name for name, sql in rows if re.match(r"\s*CREATE\s+VIRTUAL\s+TABLE", str(sql), re.IGNORECASE)]


def _indexes(conn: sqlite3.Connection, tables: list[str]) -> list[tuple[str, str]]:
    """The indexes a migration created on these tables (not those behind a primary key or UNIQUE)."""
    rows = conn.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    return [(str(name), str(sql)) for name, table, sql in rows if table in tables]


def _feeding_triggers(conn: sqlite3.Connection, virtual: list[str]) -> list[tuple[str, str]]:
    """Triggers that write into one of the full-text tables."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    return [
        (str(name), str(sql))
        for name, sql in rows
        if any(re.search(rf"\bINTO\s+{re.escape(table)}\b", str(sql), re.IGNORECASE) for table in virtual)
    ]


class SqliteDumpWriter:
    """A migrated target file, loaded in short transactions of one batch each."""

    def __init__(self, conn: sqlite3.Connection, location: StoreLocation) -> None:
        self._conn = conn
        self._location = location

    @classmethod
    def open(cls, location: StoreLocation) -> SqliteDumpWriter:
        assert location.path is not None
        conn = connect_sync(location.path)
        try:
            with _reported(location, "open"):
                migrate(conn)
                conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        except BaseException:
            conn.close()
            raise
        return cls(conn, location)

    def table_columns(self) -> dict[str, list[str]]:
        with _reported(self._location, "read"):
            return _table_columns(self._conn)

    def non_empty_tables(self, tables: Sequence[Table]) -> list[str]:
        held = []
        with _reported(self._location, "read"):
            for table in tables:
                if table.name in SEEDED_TABLES:
                    continue
                where, params = _data_rows(table)
                if self._conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table.name}{where})", params).fetchone()[0]:
                    held.append(table.name)
        return held

    def marker(self) -> str | None:
        with _reported(self._location, "read"):
            return _marker(self._conn)

    def set_marker(self, value: str | None) -> None:
        with _reported(self._location, "write to"):
            if value is None:
                self._conn.execute("DELETE FROM app_state WHERE key = ?", (INCOMPLETE_COPY_KEY,))
            else:
                self._conn.execute(
                    "INSERT INTO app_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (INCOMPLETE_COPY_KEY, value),
                )

    def clear(self, tables: Sequence[Table]) -> None:
        with _reported(self._location, "clear"), self._transaction():
            # Keeping the full-text indexes in step row by row is most of a load's cost (16 s of 23 s per 100k
            # stories), and inserting into indexes bigger than the cache in random order is most of the rest at
            # 1M. So their triggers and the secondary indexes are set aside until `finish` builds each once.
            # The statements that put them back are recorded here, in the same transaction: an interrupted copy
            # never loses them (the next copy finds them still recorded, and `finish` restores them).
            virtual = _full_text_tables(self._conn)
            names = [t.name for t in tables]
            set_aside = [("INDEX", "0", *index) for index in _indexes(self._conn, names)]
            set_aside += [("TRIGGER", "1", *trigger) for trigger in _feeding_triggers(self._conn, virtual)]
            for what, rank, name, statement in set_aside:
                self._conn.execute(f'DROP {what} "{name}"')  # a name from sqlite_master, not input
                self._conn.execute(
                    "INSERT INTO app_state (key, value) VALUES (?, ?)", (f"{_RESTORE}{rank}:{name}", statement)
                )
            for table in reversed(tables):
                if table.name == "app_state":
                    self._conn.execute("DELETE FROM app_state WHERE key NOT LIKE ?", (BOOKKEEPING_KEYS,))
                else:
                    self._conn.execute(f"DELETE FROM {table.name}")
            for index in virtual:
                self._conn.execute(f"INSERT INTO {index} ({index}) VALUES ('delete-all')")
            # AUTOINCREMENT remembers the highest id ever used; a cleared store starts again from 1.
            self._conn.execute("DELETE FROM sqlite_sequence")

    def write_table(self, table: Table, batches: Batches) -> None:
        marks = ", ".join("?" * len(table.columns))
        insert = f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({marks})"
        positions = table.time_positions
        for batch in batches:
            with _reported(self._location, "write to"), self._transaction():
                self._conn.executemany(insert, _convert(batch, positions, _to_db))

    def finish(self, tables: Sequence[Table]) -> None:
        with _reported(self._location, "write to"), self._transaction():
            pending = self._conn.execute(
                "SELECT key, value FROM app_state WHERE key LIKE ? ORDER BY key", (f"{_RESTORE}%",)
            ).fetchall()
            for key, statement in pending:
                self._conn.execute(statement)
                self._conn.execute("DELETE FROM app_state WHERE key = ?", (key,))
            for index in _full_text_tables(self._conn):
                self._conn.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")
            # heat_history ids are cursors ("seen up to N"): a new row must get an id above every cursor that
            # points into the history, even when the rows at the top were gone from the source.
            floor = int(
                self._conn.execute(
                    "SELECT max(coalesce((SELECT max(id) FROM heat_history), 0), "
                    "coalesce((SELECT max(cursor) FROM alert_engine), 0), "
                    "coalesce((SELECT max(cursor) FROM alert_subscriptions), 0))"
                ).fetchone()[0]
            )
            updated = self._conn.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'heat_history'", (floor,)
            ).rowcount
            if not updated and floor:
                self._conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('heat_history', ?)", (floor,))

    def facts(self, tables: Sequence[Table]) -> Facts:
        with _reported(self._location, "read"):
            return _facts(self._conn, tables)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")


def _to_db(value: object) -> object:
    return to_db(value) if isinstance(value, datetime) else value
