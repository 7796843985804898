"""The news signal on PostgreSQL: LISTEN on a connection of its own, NOTIFY from the ingester's transaction.

Every ingest transaction that stores heat changes ends with `NOTIFY_NEWS` (db/postgres/ingest.py), which the
server delivers at its commit to every session listening on the channel, on any machine; the payload names the
store's schema (news_channel.py).

The listening connection is not a pool connection: LISTEN belongs to a session, and a pooled one is handed to
any caller. When it drops (a server restart, `pg_terminate_backend`), the signal polls the newest heat change
every POLL_SECONDS and tries to listen again after a growing pause; right after LISTEN it reads the newest heat
change once, so a commit made while nobody was listening is still reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import psycopg

from db.postgres.connection import CONNECT_TIMEOUT_S, describe_error, url_of
from db.postgres.database import PgDatabase
from db.postgres.news_channel import NEWS_CHANNEL

log = logging.getLogger(__name__)

_NEWEST = "SELECT coalesce(max(id), 0) AS newest FROM heat_history"
LISTENER_APPLICATION_NAME = "heatwave-news"
# Without a listening connection: how often the store is asked for the newest heat change instead.
POLL_SECONDS = 0.5
# A listening connection that has brought nothing for this long is used for one query: a connection that died
# without a word (a dropped network path) is found within about this long.
QUIET_CHECK_SECONDS = 10.0
# Pauses before the n-th attempt to listen again after a failure (the last one repeats).
RELISTEN_PAUSES_S = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)

_Conn = psycopg.AsyncConnection[Any]


class PgNewsSignal:
    """Implements `db.interfaces.NewsSignal`; the connection is opened at the first wait and closed by `close`."""

    def __init__(
        self,
        database: PgDatabase,
        *,
        poll_seconds: float = POLL_SECONDS,
        quiet_check_seconds: float = QUIET_CHECK_SECONDS,
    ) -> None:
        self._db = database
        self._poll_seconds = poll_seconds
        self._quiet_check_seconds = quiet_check_seconds
        self._conn: _Conn | None = None
        self._schema = ""
        self._failures = 0
        self._relisten_at = 0.0  # time.monotonic() of the next attempt to listen after a failure
        self._closed = False
        # One waiter at a time drives the connection; another waits its turn and then reads the newest itself.
        self._turn = asyncio.Lock()

    @property
    def listening(self) -> bool:
        """Whether a LISTEN connection is up (False: polling until it can listen again)."""
        return self._conn is not None

    async def wait_newer(self, than: int) -> int:
        async with self._turn:
            while True:
                await self._listen()
                newest = await self._newest()
                if newest is not None and newest > than:
                    return newest
                await self._next_wake()

    async def close(self) -> None:
        self._closed = True
        await self._drop()

    async def _listen(self) -> None:
        """Open the listening connection unless it is up or the pause after the last failure has not passed."""
        if self._closed or self._conn is not None or time.monotonic() < self._relisten_at:
            return
        conn: _Conn | None = None
        try:
            conn = await psycopg.AsyncConnection.connect(
                url_of(self._db.location),
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name=LISTENER_APPLICATION_NAME,
            )
            cur = await conn.execute("SELECT current_schema()")
            row = await cur.fetchone()
            self._schema = str(row[0]) if row is not None else ""
            await conn.execute(f"LISTEN {NEWS_CHANNEL}")
        except psycopg.Error as exc:
            if conn is not None:
                await conn.close()
            pause = RELISTEN_PAUSES_S[min(self._failures, len(RELISTEN_PAUSES_S) - 1)]
            self._failures += 1
            self._relisten_at = time.monotonic() + pause
            log.warning(
                "cannot listen for news on %s (%s); checking every %.1f s, listening again in %.2f s",
                self._db.location,
                describe_error(exc),
                self._poll_seconds,
                pause,
            )
            return
        if self._failures:
            log.info("listening for news on %s again", self._db.location)
        self._failures = 0
        self._conn = conn

    async def _newest(self) -> int | None:
        """The newest heat change: on the listening connection when it is up (the pool may be busy with a
        fan-out), else through the pool; None when the store cannot be reached right now."""
        if self._conn is not None:
            try:
                cur = await self._conn.execute(_NEWEST)
                row = await cur.fetchone()
                return int(row[0]) if row is not None else 0
            except psycopg.Error as exc:
                await self._lost(exc)
        try:
            answer = await self._db.one(_NEWEST)
        except Exception:
            log.debug("cannot read the newest heat change; trying again in %.1f s", self._poll_seconds, exc_info=True)
            return None
        return int(answer["newest"]) if answer is not None else 0

    async def _next_wake(self) -> None:
        """Until a notification for this store arrives (or a quiet spell passes); without a listening
        connection, one poll interval (shorter when it is time to listen again)."""
        conn = self._conn
        if conn is None:
            until_relisten = self._relisten_at - time.monotonic()
            await asyncio.sleep(max(0.01, min(self._poll_seconds, until_relisten)))
            return
        try:
            # aclosing: the generator holds the connection's lock until it is closed, and we leave it early.
            async with contextlib.aclosing(conn.notifies(timeout=self._quiet_check_seconds)) as notifies:
                async for notify in notifies:
                    if notify.payload == self._schema:
                        return
        except psycopg.Error as exc:
            await self._lost(exc)

    async def _lost(self, exc: BaseException) -> None:
        if self._closed:
            return  # the store closed it under a waiter
        log.warning(
            "lost the news listener's connection to %s (%s); checking every %.1f s until it is back",
            self._db.location,
            describe_error(exc),
            self._poll_seconds,
        )
        await self._drop()
        # The first attempt to listen again comes at once: a single dropped connection is the common case.
        self._relisten_at = 0.0

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
