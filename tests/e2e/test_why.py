"""/why end to end: the real bot explains a posted story (with a link) and a cold one, ephemerally."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.clock import ManualClock
from tests.discord_standin import ChannelType
from tests.e2e.stories import Story
from tests.e2e.test_alerts import alerts_harness, hot, post_now

pytestmark = pytest.mark.e2e


async def test_e2e_why_explains_posted_and_cold_stories(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news, "min_heat": 80}, user=h.admin)
        h.add_story(hot("why-hot", 120, title="Why hot story"))
        h.add_story(Story(slug="why-cold", title="Why cold story", topics=("AI",), heat=30, quality=80))
        await post_now(h)
        message = await h.standin.wait_for_message(news.id)
        choices = await h.autocomplete("why", {"story": "Why hot"}, focused="story")
        story_id = next(c["value"] for c in choices if c["name"] == "Why hot story")
        posted = await h.invoke("why", {"story": story_id, "channel": news}, user=h.admin)
        cold = await h.invoke("why", {"story": "Why cold story", "channel": news}, user=h.admin)
        refused = await h.invoke("why", {"story": story_id, "channel": news}, user=h.member)

    assert posted.ephemeral
    assert "✓ **ledger**: posted" in posted.content
    assert f"https://discord.com/channels/{h.guild.id}/{news.id}/{message.id}" in posted.content
    assert "✗ **heat** [every topic]: heat 30 < line 80 (50 short)" in cold.content
    assert "Manage Server" in refused.content
