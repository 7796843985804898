"""The news signal on both engines: heat changes committed through another connection (the ingester's, as in
another process) wake a waiting bot process within a bound; PostgreSQL's listener outlives its connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest

from db import StoreLocation, open_store, parse_location
from db.interfaces import Store
from db.postgres.database import PgDatabase
from db.postgres.news_signal import LISTENER_APPLICATION_NAME, PgNewsSignal
from tests.support.pg import private_schema
from tests.support.polling import until
from tests.support.seed import Seeder, SeedStory

# The target is ~100 ms from the commit to the waiting process's alert tick; the machine running the tests is
# shared and noisy, so the bound leaves room, yet stays below the 0.5 s poll the signal replaces.
WAKE_BOUND_S = 0.3


def _store_story_elsewhere(location: StoreLocation, heat: int = 150) -> float:
    """Store one story through the ingester's own connection (what another process does); returns when it had
    committed, on the monotonic clock."""
    with Seeder(location) as seeder:
        seeder.add(SeedStory(heat=heat))
        return time.monotonic()


async def _stored_in_thread(location: StoreLocation, heat: int = 150) -> float:
    # Off the event loop, as in another process: the waiter must be free to wake while the writer commits.
    return await asyncio.to_thread(_store_story_elsewhere, location, heat)


async def test_a_commit_through_another_connection_wakes_a_waiting_process_within_the_bound(
    store: Store, location: StoreLocation
) -> None:
    before = await store.ledger.newest_heat_event()
    waiter = asyncio.create_task(store.news.wait_newer(before))
    await asyncio.sleep(0.3)
    assert not waiter.done(), "woke without any new heat change"

    committed = await _stored_in_thread(location)
    newest = await asyncio.wait_for(waiter, timeout=10)
    woke_after = time.monotonic() - committed

    assert newest == await store.ledger.newest_heat_event() > before
    assert woke_after <= WAKE_BOUND_S, f"woke {woke_after:.3f} s after the commit"


async def test_a_waiter_returns_at_once_when_newer_heat_changes_are_already_stored(
    store: Store, location: StoreLocation
) -> None:
    before = await store.ledger.newest_heat_event()
    await _stored_in_thread(location)

    newest = await asyncio.wait_for(store.news.wait_newer(before), timeout=WAKE_BOUND_S + 1)

    assert newest > before


async def test_each_commit_wakes_the_next_wait_and_one_seen_already_does_not(
    store: Store, location: StoreLocation
) -> None:
    first = await asyncio.wait_for(asyncio.gather(store.news.wait_newer(0), _stored_in_thread(location)), timeout=10)
    seen = first[0]
    waiter = asyncio.create_task(store.news.wait_newer(seen))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    await _stored_in_thread(location, heat=120)
    assert await asyncio.wait_for(waiter, timeout=10) > seen


@pytest.fixture
def pg_location() -> Iterator[StoreLocation]:
    with private_schema() as url:
        yield parse_location(url)


async def test_postgresql_heat_changes_in_another_store_on_the_same_server_do_not_wake_it(
    pg_location: StoreLocation,
) -> None:
    with private_schema() as other_url:
        other = parse_location(other_url)
        store = await open_store(pg_location)
        other_store = await open_store(other)  # creates the other schema's tables
        await other_store.close()
        try:
            waiter = asyncio.create_task(store.news.wait_newer(0))
            await asyncio.sleep(0.3)
            await _stored_in_thread(other)
            await asyncio.sleep(1.0)  # two polls' worth: a wrong wake-up would have returned by now
            assert not waiter.done()
            await _stored_in_thread(pg_location)
            assert await asyncio.wait_for(waiter, timeout=10) > 0
        finally:
            await store.close()


def _listener_backends(location: StoreLocation) -> set[int]:
    assert location.url is not None
    with psycopg.connect(location.url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (LISTENER_APPLICATION_NAME,)
        ).fetchall()
    return {int(row[0]) for row in rows}


def _terminate(location: StoreLocation, pid: int) -> None:
    assert location.url is not None
    with psycopg.connect(location.url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_postgresql_listener_survives_pg_terminate_backend_and_listens_again(
    pg_location: StoreLocation,
) -> None:
    store = await open_store(pg_location)  # migrates the schema
    await store.close()
    database = await PgDatabase.open(pg_location)
    # Polling only every 30 s: a wake-up within the bound can only come from a notification.
    signal = PgNewsSignal(database, poll_seconds=30)
    others = _listener_backends(pg_location)  # other stores' listeners on this server, if any
    try:
        waiter = asyncio.create_task(signal.wait_newer(0))
        await until(lambda: _listener_backends(pg_location) - others, 10, "the listening connection")
        (first,) = _listener_backends(pg_location) - others

        _terminate(pg_location, first)
        await until(lambda: (_listener_backends(pg_location) - others) - {first}, 10, "a new listening connection")
        assert not waiter.done()
        committed = await _stored_in_thread(pg_location)
        newest = await asyncio.wait_for(waiter, timeout=10)
        woke_after = time.monotonic() - committed

        assert newest > 0
        assert woke_after <= WAKE_BOUND_S, f"woke {woke_after:.3f} s after the commit"
        assert first not in _listener_backends(pg_location)
    finally:
        await signal.close()
        await database.close()
