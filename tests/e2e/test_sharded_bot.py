"""One process running every shard: Discord recommends two, the bot connects both and serves servers on each."""

from __future__ import annotations

import logging
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


async def test_shards_split_over_processes_on_a_file_store_say_they_must_share_one_machine(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.client")
    async with start_harness(tmp_path, clock, shard_count=2, shard_ids=(0,)) as h:
        owned = h.bot.owns_guild(h.guild.id)

    assert "running shard 0 of 2" in caplog.text
    assert "they must all run on this machine; use a PostgreSQL store" in caplog.text
    assert owned == ((h.guild.id >> 22) % 2 == 0)
