"""PostgreSQL's side of `copy-store` (db/copy_store.py): reading a whole store, and loading one.

Both directions use binary COPY (no text round trip for times and numbers). The reader runs in one
REPEATABLE READ, READ ONLY transaction: every table comes from the same snapshot, whatever bots write meanwhile.
The writer loads each table in one transaction of its own; the target's full-text words (title_words,
excerpt_words) are made here from the copied text, exactly as the ingester makes them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import cast

import psycopg
from psycopg import sql

from db.copy_store import BOOKKEEPING_KEYS, INCOMPLETE_COPY_KEY, SEEDED_TABLES, Batches, Facts, Row, Table
from db.errors import DatabaseError
from db.location import StoreLocation
from db.postgres.connection import connect_sync, describe_error
from db.postgres.migrate import latest_version, migrate, schema_version
from db.postgres.vectors import TsVectorBinaryDumper, search_binary
from db.text import index_words

log = logging.getLogger(__name__)

# Columns the PostgreSQL store derives from copied ones: made here, as the ingester makes them.
_DERIVED = {"stories": ("title_words", "excerpt_words", "search", "title_search")}
_INTERNAL_TABLES = ("schema_version",)
# app_state keys ("copy-store:restore:<rank>:<table>:<name>") holding the DDL that puts back what a load dropped.
_RESTORE = "copy-store:restore:"
_RESTORE_WORKERS = 2
BUILD_MEMORY = "256MB"  # per restoring session (see _Restorer._run)
# The order restore statements go back in: the longest builds first, foreign keys after the keys they need.
_GIN, _INDEX, _KEY, _FOREIGN_KEY = 0, 1, 2, 3


@contextmanager
def _reported(location: StoreLocation, doing: str) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot {doing} {location}: {describe_error(exc)}") from None


def _marker(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT value FROM app_state WHERE key = %s", (INCOMPLETE_COPY_KEY,)).fetchone()
    return None if row is None else str(row[0])


def _table_columns(conn: psycopg.Connection) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT c.relname, a.attname FROM pg_class c "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') "
        "AND a.attgenerated = '' ORDER BY c.relname, a.attnum"
    ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        if table in _INTERNAL_TABLES or column in _DERIVED.get(table, ()):
            continue
        found.setdefault(table, []).append(column)
    return found


def _column_types(conn: psycopg.Connection, table: str, columns: Sequence[str]) -> list[int]:
    """Type oids of the columns, in order: binary COPY needs them to (de)serialise values."""
    rows = conn.execute(
        "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
        (table,),
    ).fetchall()
    oids: dict[str, int] = dict(rows)
    return [oids[column] for column in columns]


def _drop_foreign_keys(conn: psycopg.Connection, table: str) -> list[tuple[int, str, str]]:
    """Drop the table's foreign keys; return the statements that put them back (validating every row)."""
    restore: list[tuple[int, str, str]] = []
    keys = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        (table,),
    ).fetchall()
    for name, definition in keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
        add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
        restore.append((_FOREIGN_KEY, name, add.as_string(conn) + definition))  # catalog text, not input
    return restore


def _drop_indexes_and_keys(conn: psycopg.Connection, table: str) -> list[tuple[int, str, str]]:
    """Drop the table's indexes, primary key and unique keys; return the statements that put them back.

    Building an index once over loaded rows is several times cheaper than updating it row by row (the GIN
    index over `search` and the random-order `url` key most of all). A key a foreign key still points at stays.
    """
    restore: list[tuple[int, str, str]] = []
    indexes = conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), am.amname = 'gin' FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
        "WHERE i.indrelid = %s::regclass AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)",
        (table,),
    ).fetchall()
    for name, definition, gin in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        restore.append((_GIN if gin else _INDEX, name, definition))  # catalog text (pg_get_indexdef), not input
    keys = conn.execute(
        "SELECT k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.conrelid = %s::regclass "
        "AND k.contype IN ('p', 'u') AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid)",
        (table,),
    ).fetchall()
    for name, definition in keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
        add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
        restore.append((_KEY, name, add.as_string(conn) + definition))
    return restore


def _data_rows(table: Table) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause (and its parameters) leaving out the copy's own app_state rows."""
    if table.name == "app_state":
        return " WHERE key NOT LIKE %s", (BOOKKEEPING_KEYS,)
    return "", ()


def _facts(conn: psycopg.Connection, tables: Sequence[Table]) -> Facts:
    rows: dict[str, int] = {}
    max_ids: dict[str, int | None] = {}
    for table in tables:
        # Table and column names come from db.copy_store.TABLES, never from input.
        where, params = _data_rows(table)
        top = f"max({table.id_column})" if table.id_column else "NULL"
        row = conn.execute(f"SELECT count(*), {top} FROM {table.name}{where}", params).fetchone()
        assert row is not None
        rows[table.name] = int(row[0])
        if table.id_column:
            max_ids[table.name] = None if row[1] is None else int(row[1])
    story_counts = {int(i): int(n) for i, n in conn.execute("SELECT id, story_count FROM topics")}
    return Facts(rows, max_ids, story_counts)


def _check_version(version: int, location: StoreLocation) -> None:
    latest = latest_version()
    if version == 0:
        raise DatabaseError(f"the database {location} holds no Heatwave store (it has no schema)")
    if version < latest:
        raise DatabaseError(
            f"the database {location} has schema version {version}, older than this Heatwave's ({latest}); "
            "start Heatwave on it once (or run `heatwave stats --db ...`) to upgrade it, then copy"
        )
    if version > latest:
        raise DatabaseError(
            f"the database {location} has schema version {version}, newer than this Heatwave knows ({latest}); "
            "upgrade Heatwave"
        )


class PgDumpReader:
    """The source database, read in one snapshot with binary COPY."""

    def __init__(self, conn: psycopg.Connection, location: StoreLocation) -> None:
        self._conn = conn
        self._location = location

    @classmethod
    def open(cls, location: StoreLocation) -> PgDumpReader:
        conn = connect_sync(location)
        try:
            with _reported(location, "read"):
                version = schema_version(conn)
            _check_version(version, location)
        except BaseException:
            conn.close()
            raise
        return cls(conn, location)

    def begin_snapshot(self) -> None:
        with _reported(self._location, "read"):
            self._conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")

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
        where, params = _data_rows(table)
        query = f"COPY (SELECT {', '.join(table.columns)} FROM {table.name}{where}) TO STDOUT (FORMAT BINARY)"
        with _reported(self._location, "read"):
            types = _column_types(self._conn, table.name, table.columns)
            with self._conn.cursor().copy(query, params or None) as copy:
                copy.set_types(types)
                batch: list[Row] = []
                for row in copy.rows():
                    batch.append(row)
                    if len(batch) >= size:
                        yield batch
                        batch = []
                if batch:
                    yield batch

    def close(self) -> None:
        self._conn.close()


class PgDumpWriter:
    """A migrated target database, loaded one table per transaction with binary COPY.

    How a big load goes fast, the way pg_restore does it: `clear` drops every foreign key, each table's load
    drops that table's indexes and keys, and everything dropped is rebuilt from the loaded rows, never row by
    row. A loaded table's indexes are built on other connections while the next tables load; keys, then
    foreign keys (validated in one join each) come back in `finish`. Each statement that puts something back
    is recorded in app_state (under _RESTORE) in the transaction that dropped it and deleted in the one that
    restores it: a copy cut short anywhere leaves them for the next copy's `clear`, never lost.
    """

    def __init__(self, conn: psycopg.Connection, location: StoreLocation) -> None:
        self._conn = conn
        self._location = location
        self._restorer = _Restorer(location)

    @classmethod
    def open(cls, location: StoreLocation) -> PgDumpWriter:
        conn = connect_sync(location)
        try:
            migrate(conn, location)
            with _reported(location, "open"):
                _setup_session(conn)
                conn.adapters.register_dumper(None, TsVectorBinaryDumper)
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
                row = self._conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table.name}{where})", params).fetchone()
                if row is not None and row[0]:
                    held.append(table.name)
        return held

    def marker(self) -> str | None:
        with _reported(self._location, "read"):
            return _marker(self._conn)

    def set_marker(self, value: str | None) -> None:
        with _reported(self._location, "write to"):
            if value is None:
                self._conn.execute("DELETE FROM app_state WHERE key = %s", (INCOMPLETE_COPY_KEY,))
            else:
                self._conn.execute(
                    "INSERT INTO app_state (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (INCOMPLETE_COPY_KEY, value),
                )

    def clear(self, tables: Sequence[Table]) -> None:
        names = [t.name for t in tables if t.name != "app_state"]
        with _reported(self._location, "clear"), self._conn.transaction():
            self._conn.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY")
            self._conn.execute("DELETE FROM app_state WHERE key NOT LIKE %s", (BOOKKEEPING_KEYS,))
            # What an interrupted copy left dropped comes back at once over the empty tables.
            for key, statement in self._pending(_GIN, _FOREIGN_KEY):
                self._conn.execute(sql.SQL(statement))
                self._conn.execute("DELETE FROM app_state WHERE key = %s", (key,))
            for table in names:
                self._record(table, _drop_foreign_keys(self._conn, table))

    def write_table(self, table: Table, batches: Batches) -> None:
        derived = _DERIVED.get(table.name, ())
        columns = [*table.columns, *derived]
        # FREEZE writes rows already frozen and visible to all (no VACUUM pass before index-only scans work);
        # PostgreSQL allows it only into a table emptied in the same transaction, and app_state holds the marker.
        bulk = table.name != "app_state"
        query = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY{', FREEZE' if bulk else ''})"
        with _reported(self._location, "write to"):
            with self._conn.transaction():
                if bulk:
                    self._conn.execute(f"TRUNCATE {table.name}")  # empty already (see FREEZE)
                    self._record(table.name, _drop_indexes_and_keys(self._conn, table.name))
                types = _column_types(self._conn, table.name, columns)
                with self._conn.cursor().copy(query) as copy:
                    copy.set_types(types)
                    write_row = copy.write_row
                    if derived:
                        title, excerpt = table.columns.index("title"), table.columns.index("excerpt")
                        for batch in batches:
                            for row in batch:
                                write_row((*row, *story_words(cast(str, row[title]), cast(str, row[excerpt]))))
                    else:
                        for batch in batches:
                            for row in batch:
                                write_row(row)
            # Only this table's indexes: they lock nothing the next tables' loads need.
            self._restorer.submit(self._pending(_GIN, _INDEX, table=table.name))

    def finish(self, tables: Sequence[Table]) -> None:
        with _reported(self._location, "write to"):
            self._restorer.wait()
            self._restorer.submit(self._pending(_KEY, _KEY))
            self._restorer.wait()
            self._add_foreign_keys_unvalidated()
            # A bulk-loaded table has no planner statistics until autovacuum gets to it: the first lookups on
            # the new store would be planned blind.
            self._restorer.submit(
                [*self._pending(_FOREIGN_KEY, _FOREIGN_KEY), *((None, f"ANALYZE {t.name}") for t in tables)]
            )
            self._restorer.wait()
            leftover = self._pending(_GIN, _FOREIGN_KEY)
            if leftover:
                raise DatabaseError(f"{self._location} still lacks {leftover[0][1]}")
            with self._conn.transaction():
                for table in tables:
                    if table.id_column is None:
                        continue
                    floor = f"max({table.id_column})"
                    if table.name == "heat_history":
                        # Ids are cursors ("seen up to N"): new rows must land above every cursor pointing into
                        # the history, even when the source's top rows were gone.
                        floor = (
                            "greatest(max(id), (SELECT max(cursor) FROM alert_engine), "
                            "(SELECT max(cursor) FROM alert_subscriptions))"
                        )
                    # An empty table's floor is NULL, or 0 for heat_history when the seeded cursors are 0 (a store
                    # nothing was ingested into yet): both mean "start at 1", and setval refuses 0.
                    self._conn.execute(
                        f"SELECT setval(pg_get_serial_sequence(%s, %s), greatest({floor}, 1), "
                        f"coalesce({floor} >= 1, false)) FROM {table.name}",
                        (table.name, table.id_column),
                    )

    def facts(self, tables: Sequence[Table]) -> Facts:
        with _reported(self._location, "read"):
            return _facts(self._conn, tables)

    def close(self) -> None:
        self._restorer.close()
        self._conn.close()

    def _add_foreign_keys_unvalidated(self) -> None:
        """Put every dropped foreign key back NOT VALID (no check, one short transaction) and leave each one's
        check to the restorer as VALIDATE CONSTRAINT, recorded in its place.

        Adding a key validated holds a lock on the table it references that other additions wait for, so the
        checks of the four keys on `stories` ran one after another; VALIDATE takes only a share of that lock,
        and the checks run side by side."""
        with self._conn.transaction():
            for key, statement in self._pending(_FOREIGN_KEY, _FOREIGN_KEY):
                assert key is not None
                _rank, table, name = key.removeprefix(_RESTORE).split(":", 2)
                self._conn.execute(sql.SQL(statement + " NOT VALID"))  # catalog-made DDL, not input
                validate = sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
                self._conn.execute(
                    "UPDATE app_state SET value = %s WHERE key = %s", (validate.as_string(self._conn), key)
                )

    def _record(self, table: str, restore: list[tuple[int, str, str]]) -> None:
        for rank, name, statement in restore:
            self._conn.execute(
                "INSERT INTO app_state (key, value) VALUES (%s, %s)", (f"{_RESTORE}{rank}:{table}:{name}", statement)
            )

    def _pending(self, first: int, last: int, *, table: str = "%") -> list[tuple[str | None, str]]:
        """Recorded restore statements of ranks first..last (of one table, or all), in the order they go back."""
        rows = self._conn.execute(
            "SELECT key, value FROM app_state WHERE key LIKE %s AND split_part(key, ':', 3)::int BETWEEN %s AND %s "
            "ORDER BY key",
            (f"{_RESTORE}%:{table}:%", first, last),
        ).fetchall()
        return [(str(key), str(value)) for key, value in rows]


def story_words(title: str, excerpt: str) -> tuple[str, str, bytes, bytes]:
    """A story's derived columns, as the ingester makes them: title_words, excerpt_words, and the `search` and
    `title_search` vectors (binary)."""
    title_words, excerpt_words = index_words(title), index_words(excerpt)
    return (title_words, excerpt_words, *search_binary(title_words, excerpt_words))


def _setup_session(conn: psycopg.Connection) -> None:
    # Only this copy's sessions: a crash may lose their last commits, never order them differently, so the
    # marker (removed by the very last commit) can never be gone while data before it is missing.
    conn.execute("SET synchronous_commit = off")


class _Restorer:
    """Runs restore statements (each with the deletion of its app_state key) on connections of its own."""

    def __init__(self, location: StoreLocation) -> None:
        self._location = location
        self._executor = ThreadPoolExecutor(max_workers=_RESTORE_WORKERS, thread_name_prefix="copy-store")
        self._local = threading.local()
        self._connections: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._futures: list[Future[None]] = []

    def submit(self, jobs: Sequence[tuple[str | None, str]]) -> None:
        self._futures += [self._executor.submit(self._run, key, statement) for key, statement in jobs]

    def wait(self) -> None:
        """Until every job submitted so far is done; raises the first failure."""
        futures, self._futures = self._futures, []
        for future in futures:
            future.result()

    def close(self) -> None:
        # Cut short (an error, Ctrl-C): drop queued jobs and stop running builds; their keys stay recorded.
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            conn.cancel_safe()
        self._executor.shutdown(wait=True)
        for conn in connections:
            conn.close()

    def _run(self, key: str | None, statement: str) -> None:
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect_sync(self._location)
            _setup_session(conn)
            # Index builds work in memory up to maintenance_work_mem, then spill (GIN: in many small batches).
            # The server's default (64 MB) made the full-text index alone take ~17 s at 1M stories. Raised (never
            # lowered) for these sessions only, while the copy runs.
            conn.execute(
                "SELECT set_config('maintenance_work_mem', %(memory)s, false) "
                "WHERE pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes(%(memory)s)",
                {"memory": BUILD_MEMORY},
            )
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(sql.SQL(statement))  # catalog-made DDL (see _drop_*), not input
            if key is not None:
                conn.execute("DELETE FROM app_state WHERE key = %s", (key,))
        log.debug("%.2f s: %s", time.perf_counter() - started, statement[:100])
