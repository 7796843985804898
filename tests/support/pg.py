"""A private PostgreSQL schema per test, on the server named by HEATWAVE_TEST_PG.

Each schema gets a URL whose `options` put it first on the search path, so everything that opens that URL
(the test itself, a bot subprocess, `heatwave ingest`) sees only that test's tables. pg_trgm lives in
`public` (the migrations create it there), which stays on the path.

Under CI (`CI=true`) a server that cannot be reached fails the test; elsewhere those tests skip, saying why.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

DEFAULT_TEST_PG = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("HEATWAVE_TEST_PG", DEFAULT_TEST_PG)


@functools.cache
def _unreachable_reason() -> str | None:
    try:
        with psycopg.connect(server_url(), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at HEATWAVE_TEST_PG is unreachable: {' '.join(str(exc).split())}"
    return None


def require_server() -> None:
    """Skip (or, under CI, fail) the calling test when the test server cannot be reached."""
    reason = _unreachable_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def schema_url(schema: str) -> str:
    """The server URL with `schema` first on the search path."""
    parts = urlsplit(server_url())
    option = quote(f"-csearch_path={schema},public", safe="")
    query = f"{parts.query}&options={option}" if parts.query else f"options={option}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


@contextmanager
def private_schema() -> Iterator[str]:
    """Create a fresh schema, yield its URL, drop it (and everything in it) afterwards."""
    require_server()
    schema = f"hw_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema_url(schema)
    finally:
        with psycopg.connect(server_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
