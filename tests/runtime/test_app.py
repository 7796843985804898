"""bot.app: everything the bot and the console share is built in one place, from Settings."""

from __future__ import annotations

import dataclasses

import pytest

from bot.app import build_services
from bot.clock import ManualClock
from bot.services.alerts import AlertService
from bot.services.lookups import LookupService
from bot.settings import Settings
from db import StoreLocation
from db.sqlite.migrate import latest_version
from db.sqlite.store import SqliteStore


async def test_build_services_opens_a_migrated_database_and_wires_the_services(
    location: StoreLocation, clock: ManualClock
) -> None:
    settings = dataclasses.replace(Settings(), max_posts_per_tick=3)

    services = await build_services(settings, store=location, clock=clock)
    try:
        assert isinstance(services.store, SqliteStore)
        async with services.store._database.conn.execute("PRAGMA user_version") as cursor:
            (version,) = await cursor.fetchone() or (None,)
        assert version == latest_version()
        assert isinstance(services.lookups, LookupService)
        assert isinstance(services.alerts, AlertService)
        assert services.alerts.max_posts_per_tick == 3
        assert services.clock is clock
        assert services.store_location == location
    finally:
        await services.close()


async def test_services_are_immutable(location: StoreLocation, clock: ManualClock) -> None:
    services = await build_services(Settings(), store=location, clock=clock)
    try:
        with pytest.raises(dataclasses.FrozenInstanceError):
            services.clock = clock  # type: ignore[misc]
    finally:
        await services.close()
