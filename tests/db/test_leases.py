"""Leases on both engines: one holder at a time, renewals, expiry and hand-over, several processes at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.clock import ManualClock
from db import StoreLocation, open_store
from db.interfaces import Store

TTL = timedelta(seconds=90)


async def test_a_free_lease_is_taken_and_then_refused_to_others_until_it_runs_out(
    store: Store, clock: ManualClock
) -> None:
    leases = store.leases
    assert await leases.acquire("scan", "a", now=clock.now(), ttl=TTL)
    assert await leases.holder("scan", now=clock.now()) == "a"
    assert not await leases.acquire("scan", "b", now=clock.now() + timedelta(seconds=89), ttl=TTL)
    assert await leases.holder("scan", now=clock.now() + timedelta(seconds=89)) == "a"
    # Expired: nobody holds it, and the next to ask gets it.
    later = clock.now() + TTL
    assert await leases.holder("scan", now=later) is None
    assert await leases.acquire("scan", "b", now=later, ttl=TTL)
    assert await leases.holder("scan", now=later) == "b"
    assert not await leases.acquire("scan", "a", now=later, ttl=TTL)


async def test_the_holder_renews_its_lease_and_other_names_are_separate(store: Store, clock: ManualClock) -> None:
    leases = store.leases
    assert await leases.acquire("scan", "a", now=clock.now(), ttl=TTL)
    renewed_at = clock.now() + timedelta(seconds=60)
    assert await leases.acquire("scan", "a", now=renewed_at, ttl=TTL)
    # The renewal moved the expiry: past the first term, "a" still holds it.
    assert await leases.holder("scan", now=clock.now() + timedelta(seconds=120)) == "a"
    assert not await leases.acquire("scan", "b", now=clock.now() + timedelta(seconds=120), ttl=TTL)
    assert await leases.acquire("command-sync", "b", now=clock.now(), ttl=TTL)


async def test_a_released_lease_is_free_at_once_but_only_its_holder_can_release_it(
    store: Store, clock: ManualClock
) -> None:
    leases = store.leases
    assert await leases.acquire("scan", "a", now=clock.now(), ttl=TTL)
    await leases.release("scan", "b")
    assert await leases.holder("scan", now=clock.now()) == "a"
    await leases.release("scan", "a")
    assert await leases.holder("scan", now=clock.now()) is None
    assert await leases.acquire("scan", "b", now=clock.now(), ttl=TTL)


async def test_of_many_processes_asking_at_once_exactly_one_gets_the_lease(
    location: StoreLocation, clock: ManualClock
) -> None:
    stores = [await open_store(location) for _ in range(6)]
    try:
        got = await asyncio.gather(
            *(s.leases.acquire("scan", f"process-{n}", now=clock.now(), ttl=TTL) for n, s in enumerate(stores))
        )
        holder = await stores[0].leases.holder("scan", now=clock.now())
    finally:
        for s in stores:
            await s.close()
    assert sum(got) == 1
    assert holder == f"process-{got.index(True)}"
