"""Connecting to PostgreSQL: one place that turns driver errors into one-line, password-free messages.

psycopg 3 serves both sides: the bot's async pool (`psycopg_pool.AsyncConnectionPool`) and the ingester's sync
connection (which bulk-loads with COPY). One driver for both was measured (bench/pg_drivers.py) against
asyncpg on the bot's query shapes: within ~0.05 ms per query, noise against a 10 ms budget.
"""

from __future__ import annotations

import psycopg

from db.errors import DatabaseError
from db.location import StoreLocation

# A server that does not answer within this long at start is reported, not waited for forever.
CONNECT_TIMEOUT_S = 10
# Every session speaks UTC, so timestamptz values come back as UTC datetimes whatever the server's zone.
SESSION_SETUP = "SET TIME ZONE 'UTC'"
APPLICATION_NAME = "heatwave"


def url_of(location: StoreLocation) -> str:
    if location.engine != "postgres" or location.url is None:
        raise ValueError(f"not a PostgreSQL location: {location}")
    return location.url


def describe_error(exc: BaseException) -> str:
    """The driver's message in one line, without anything that could carry the password."""
    text = " ".join(str(exc).split())
    # libpq quotes the connection target ("connection to server at ... failed: ..."); keep what failed.
    return text or type(exc).__name__


def connect_sync(location: StoreLocation, *, autocommit: bool = True) -> psycopg.Connection:
    """A sync connection (the ingester, migrations, stats, copy-store); raises DatabaseError naming HEATWAVE_DB."""
    try:
        conn = psycopg.connect(
            url_of(location),
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_S,
            fallback_application_name=APPLICATION_NAME,
        )
        conn.execute(SESSION_SETUP)
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to the database {location}: {describe_error(exc)}") from None
    return conn
