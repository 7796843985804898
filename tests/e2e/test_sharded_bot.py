"""One process running every shard: Discord recommends two, the bot connects both and serves servers on each."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.clock import ManualClock
from tests.discord_standin import ChannelType
from tests.e2e.harness import start_harness
from tests.e2e.stories import Story

pytestmark = pytest.mark.e2e


async def test_one_process_runs_both_recommended_shards_and_serves_servers_on_each(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with start_harness(tmp_path, clock, standin_options={"shards": 2}) as h:
        servers = [h.standin.add_guild(f"On shard {n}", shard=(n, 2)) for n in (0, 1)]
        channels = [h.standin.add_channel(g.id, "news", ChannelType.TEXT) for g in servers]
        admins = [h.standin.add_member(g.id, "morgan", manage_guild=True) for g in servers]
        replies = [
            await h.standin.invoke(g.id, c.id, a.id, "alerts add", {"channel": c})
            for g, c, a in zip(servers, channels, admins, strict=True)
        ]
        h.add_story(Story(slug="both", title="On both shards", topics=("AI",), heat=160))
        await h.rescan_now()
        await h.bot.jobs.post_alerts()
        titles = [[m.embeds[0]["title"] for m in h.standin.messages_in(c.id)] for c in channels]
        shard_count, shard_ids = h.bot.shard_count, h.bot.shard_ids

    assert (shard_count, shard_ids) == (2, [0, 1])
    assert all("will now get" in r.content for r in replies), [r.content for r in replies]
    assert titles == [["On both shards"], ["On both shards"]]
