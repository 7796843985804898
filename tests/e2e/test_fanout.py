"""One hot story to many channels against Discord's own rate limits: the paced poster draws no 429."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.clock import ManualClock
from tests.discord_standin import DISCORD_RATE_LIMITS, ChannelType
from tests.e2e.harness import start_harness
from tests.e2e.stories import Story
from tests.support.polling import until

pytestmark = pytest.mark.e2e

CHANNELS = 80


async def test_a_hot_story_reaches_every_channel_within_discords_limits_without_a_429(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with start_harness(tmp_path, clock, stories=[], standin_options=DISCORD_RATE_LIMITS) as h:
        jobs = h.bot.jobs
        await until(lambda: jobs.recovered and not jobs.busy, 5, "the bot's first alert tick to finish")
        guilds = [h.standin.add_guild(f"Server {n}") for n in range(8)]
        channels = [h.standin.add_channel(guilds[n % 8].id, f"news-{n}", ChannelType.TEXT) for n in range(CHANNELS)]
        for channel in channels:
            await h.services.alerts.add_subscription(
                guild_id=channel.guild_id, channel_id=channel.id, channel_kind="text", min_heat=70
            )
        await until(lambda: all(h.bot.get_channel(c.id) is not None for c in channels), 10, "the bot to see them")
        # More than the stand-in's 50 requests/s, and a second story for the channels' own 5-per-5-s buckets.
        h.add_story(Story(slug="hot", title="The hot one", topics=("AI",), heat=170))
        h.add_story(Story(slug="warm", title="The warm one", topics=("AI",), heat=90))
        await h.rescan_now()
        already = len(h.standin.requests)
        report = await h.bot.jobs.post_alerts()
        requests = h.standin.requests[already:]

    assert report is not None
    assert report.sent == 2 * CHANNELS
    assert [r for r in requests if r.status == 429] == []
    for channel in channels:
        # Each channel got both, hottest first.
        assert [m.embeds[0]["title"] for m in h.standin.messages_in(channel.id)] == ["The hot one", "The warm one"]
