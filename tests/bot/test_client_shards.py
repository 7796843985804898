"""The sharded client: how it names its shards in the start-up log, and closing one that never connected."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from bot.app import build_services
from bot.client import HeatwaveBot, describe_shards
from bot.clock import ManualClock
from bot.settings import Settings
from db import parse_location


@pytest.mark.parametrize(
    ("ids", "count", "expected"),
    [
        ((0,), 1, "shard 0 of 1"),
        ((0, 1, 2, 3), 8, "shards 0-3 of 8"),
        ((5, 0, 2), 6, "shards 0, 2, 5 of 6"),
        ((0, 1, 4, 5, 6, 9), 10, "shards 0-1, 4-6, 9 of 10"),
    ],
)
def test_describe_shards_joins_consecutive_ids_into_ranges(ids: tuple[int, ...], count: int, expected: str) -> None:
    assert describe_shards(ids, count) == expected


async def test_a_bot_that_never_logged_in_closes_cleanly(tmp_path: Path, clock: ManualClock) -> None:
    # `heatwave doctor` builds the bot only to read its command tree; discord.py's AutoShardedClient.close
    # needs what login sets up.
    settings = dataclasses.replace(Settings(), store=parse_location(tmp_path / "h.db"))
    services = await build_services(settings, store=settings.store, clock=clock)
    try:
        bot = HeatwaveBot(services)
        await bot.load_extension("cogs.lookups")
        await asyncio.wait_for(bot.close(), timeout=10)
        assert bot.is_closed()
    finally:
        await services.close()
