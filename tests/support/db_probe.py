"""Looking into a store from outside, as an operator with a SQL prompt would (any engine).

For end-to-end tests that watch a bot subprocess: what state the ledger is in, and holding the ledger's rows so
the bot cannot record a send. SQL is written with `?` placeholders and adapted for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg

from db import StoreLocation


def query_one(location: StoreLocation, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """The first row of a read-only query, or None (also when the schema does not exist yet)."""
    if location.engine == "sqlite":
        assert location.path is not None
        if not location.path.exists():
            return None
        conn = sqlite3.connect(f"file:{location.path}?mode=ro", uri=True, timeout=5)
        try:
            row: tuple[Any, ...] | None = conn.execute(sql, params).fetchone()
        except sqlite3.OperationalError:  # not migrated yet
            return None
        finally:
            conn.close()
        return row
    assert location.url is not None
    with psycopg.connect(location.url, autocommit=True) as pg:
        try:
            return pg.execute(sql.replace("?", "%s"), params).fetchone()
        except psycopg.errors.UndefinedTable:
            return None


@contextlib.contextmanager
def ledger_held(location: StoreLocation) -> Iterator[None]:
    """While inside, no process can record the outcome of a claimed delivery (reads still work)."""
    if location.engine == "sqlite":
        assert location.path is not None
        blocker = sqlite3.connect(location.path, isolation_level=None, timeout=10)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    assert location.url is not None
    with psycopg.connect(location.url) as pg:
        pg.execute("SELECT 1 FROM alert_deliveries WHERE status = 'claimed' FOR UPDATE")
        try:
            yield
        finally:
            pg.rollback()


def database_setting(location: StoreLocation) -> str:
    """The HEATWAVE_DB value that names this store (the URL with its password: for child processes only)."""
    return str(location.path) if location.engine == "sqlite" else str(location.url)


def query_all(location: StoreLocation, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every row of a read-only query (`?` placeholders, adapted for PostgreSQL)."""
    if location.engine == "sqlite":
        assert location.path is not None
        conn = sqlite3.connect(f"file:{location.path}?mode=ro", uri=True, timeout=5)
        try:
            return list(conn.execute(sql, params).fetchall())
        finally:
            conn.close()
    assert location.url is not None
    with psycopg.connect(location.url, autocommit=True) as pg:
        return list(pg.execute(sql.replace("?", "%s"), params).fetchall())
