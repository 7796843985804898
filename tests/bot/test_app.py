"""bot.app: everything the bot and the console share is built in one place, from Settings, on either engine."""

from __future__ import annotations

import dataclasses

import pytest

from bot.app import build_services
from bot.clock import ManualClock
from bot.errors import NotFound
from bot.settings import Settings
from db import StoreLocation


async def test_build_services_opens_a_migrated_store_and_wires_the_services(
    location: StoreLocation, clock: ManualClock
) -> None:
    settings = dataclasses.replace(Settings(), max_posts_per_tick=3)

    services = await build_services(settings, store=location, clock=clock)
    try:
        # A migrated store answers at once: no topics yet, nothing subscribed, state can be kept.
        with pytest.raises(NotFound, match="No topics yet"):
            await services.lookups.topics()
        assert (await services.alerts.list_subscriptions(1)).subscriptions == ()
        await services.store.app_state.set("probe", "kept")
        assert services.alerts.max_posts_per_tick == 3
        assert services.clock is clock
        assert services.store_location == location
    finally:
        await services.close()

    reopened = await build_services(settings, store=location, clock=clock)
    try:
        assert await reopened.store.app_state.get("probe") == "kept"
    finally:
        await reopened.close()
