"""End-to-end fixtures: the real HeatwaveBot against the local Discord stand-in (tests/discord_standin).

Usage (any test folder):

    from tests.e2e.harness import Harness, start_harness      # or just use the `harness` fixture in tests/e2e

    async def test_something(harness: Harness) -> None:
        result = await harness.invoke("topic", {"name": "AI"})          # as harness.member in harness.channel
        assert result.in_time and result.embeds
        page2 = await harness.click(result, result.custom_ids()[-1])     # press a button
        choices = await harness.autocomplete("topic", {"name": "a"})
        admin_reply = await harness.invoke("alerts add", {"channel": harness.channel}, user=harness.admin)

    # Custom set-up (settings fields, other stories, guild sync, extra stand-in options, a slow ingest):
    async with start_harness(tmp_path, clock, stories=[...], post_seconds=1, scan_seconds=1, guild_sync=True,
                             standin_options={"publish_limit": (10, 3600.0)},
                             bot_options={"max_ratelimit_timeout": 30.0}) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.ANNOUNCEMENT)
        h.add_story(Story(slug="hot", title="...", topics=("AI",), heat=95))   # lands in h.news_dir
        await h.rescan_now()                      # or wait for the "rescan" job (scan_seconds)
        await h.bot.jobs.post_alerts()            # or wait for the "post-alerts" job (post_seconds)
        msg = await h.standin.wait_for_message(news.id)
        await h.restart()                         # new HeatwaveBot, same database/stand-in/settings

What you get: `h.standin` (StandIn: recording, faults, gateway control — see its docstring), `h.bot`
(HeatwaveBot; `h.bot.jobs` is the scheduler wrapper), `h.services`, `h.settings`, `h.guild`, `h.channel`
(#general), `h.member` (no special permissions), `h.admin` (Manage Server), `h.news_dir`, `h.clock` (the
ManualClock from tests/conftest.py, used by the ingest and the services). Scan/post intervals default to an hour
so nothing runs behind a test's back; pass `scan_seconds=` / `post_seconds=` to have the scheduler drive them.
At teardown the harness asserts `standin.assert_clean()` (no limit violations, unknown routes or late callbacks);
set `h.check_clean = False` in a test that provokes those on purpose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import ManualClock
from db import StoreLocation
from tests.e2e.harness import Harness, start_harness


@pytest.fixture
async def harness(tmp_path: Path, clock: ManualClock, location: StoreLocation) -> AsyncIterator[Harness]:
    """The bot, logged in to the stand-in with the fixed story set ingested; global command sync. Runs on each
    engine (the `location` fixture)."""
    async with start_harness(tmp_path, clock, location=location) as running:
        yield running
