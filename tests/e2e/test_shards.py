"""Scale-out: two `heatwave run` processes, shards 0 and 1 of 2, over one PostgreSQL store.

Every server's channel gets a hot story exactly once, posted by the process that owns the server; a process
killed with SIGKILL mid fan-out and restarted still leaves every channel with exactly one post; when the process
leading the news scan dies, the other takes the scanning over. The slash commands are synced once, not per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.services.alerts import AlertService
from db import StoreLocation, open_store
from tests.conftest import PROJECT_ROOT
from tests.discord_standin import Channel, ChannelType, StandIn
from tests.e2e.stories import Story, write_story
from tests.support.db_probe import database_setting
from tests.support.polling import until
from tests.support.processes import alert_ticks_done, heatwave_process

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("engine", ["postgres"])]

TOKEN = "standin-token"
SERVERS_PER_SHARD = 20
POSTED = re.compile(r"story \d+ posted to channel (\d+) of server (\d+)")


@dataclass
class Deployment:
    """The stand-in (2 shards, 20 servers on each, one subscribed #news per server) and how to start a process."""

    standin: StandIn
    channels: dict[int, list[Channel]]  # shard id -> the #news channels of its servers
    env: dict[str, str]
    news_dir: Path
    logs: Path
    processes: dict[int, asyncio.subprocess.Process] = field(default_factory=dict)

    def log(self, shard: int) -> Path:
        return self.logs / f"shard-{shard}.log"

    def log_text(self, shard: int) -> str:
        path = self.log(shard)
        return path.read_text(errors="replace") if path.exists() else ""

    def posted_by(self, shard: int) -> set[int]:
        """The channels whose alert this shard's process logged as posted."""
        return {int(m.group(1)) for m in POSTED.finditer(self.log_text(shard))}

    def all_channels(self) -> list[Channel]:
        return [c for shard in sorted(self.channels) for c in self.channels[shard]]

    def titles(self, channel: Channel) -> list[str]:
        return [m.embeds[0]["title"] for m in self.standin.messages_in(channel.id)]

    def tail(self) -> str:
        return "\n".join(f"--- shard {s} ---\n{self.log_text(s)[-3000:]}" for s in sorted(self.channels))

    @contextlib.asynccontextmanager
    async def process(self, shard: int) -> AsyncIterator[asyncio.subprocess.Process]:
        env = {**self.env, "HEATWAVE_SHARDS": str(shard)}
        async with heatwave_process(["run"], env, PROJECT_ROOT, self.log(shard)) as proc:
            self.processes[shard] = proc
            yield proc

    async def ready(self, shard: int, *, times: int = 1) -> None:
        def started() -> bool:
            proc = self.processes[shard]
            assert proc.returncode is None, f"shard {shard} process exited {proc.returncode}:\n{self.tail()}"
            connected = shard in self.standin.gateway.shards_connected
            return connected and self.log_text(shard).count("invite URL: ") >= times

        await until(started, 60, f"the process of shard {shard} to be ready")

    async def kill(self, shard: int) -> None:
        proc = self.processes[shard]
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), timeout=10)

    async def settle(self, *shards: int) -> None:
        """Wait for three more finished alert ticks of each running shard process and for requests in flight."""
        marks = {s: alert_ticks_done(self.log(s)) for s in shards}
        await until(
            lambda: all(alert_ticks_done(self.log(s)) >= marks[s] + 3 for s in shards), 30, "more alert ticks"
        )
        await until(lambda: self.standin.api_in_flight == 0, 10, "the last request to settle")


@contextlib.asynccontextmanager
async def deployment(tmp_path: Path, location: StoreLocation) -> AsyncIterator[Deployment]:
    news_dir = tmp_path / "news"
    news_dir.mkdir()
    async with StandIn(token=TOKEN, heartbeat_interval=0.25, shards=2) as standin:
        channels: dict[int, list[Channel]] = {0: [], 1: []}
        for n in range(2 * SERVERS_PER_SHARD):
            shard = n % 2
            guild = standin.add_guild(f"Server {n}", shard=(shard, 2))
            channels[shard].append(standin.add_channel(guild.id, "news", ChannelType.TEXT))
        store = await open_store(location)
        try:
            alerts = AlertService(store, SystemClock(), max_posts_per_tick=5)
            for channel in channels[0] + channels[1]:
                await alerts.add_subscription(
                    guild_id=channel.guild_id, channel_id=channel.id, channel_kind="text", min_heat=70
                )
        finally:
            await store.close()
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE": standin.base_url,
            "DISCORD_GATEWAY_URL": standin.gateway_url,
            "HEATWAVE_DB": database_setting(location),
            "HEATWAVE_NEWS_DIR": str(news_dir),
            "HEATWAVE_SCAN_SECONDS": "1",
            "HEATWAVE_POST_SECONDS": "1",
            "HEATWAVE_SHARD_COUNT": "auto",  # the stand-in recommends 2
            "HEATWAVE_LOG_LEVEL": "DEBUG",  # a line per posted alert and per finished tick
        }
        env.pop("DISCORD_GUILD_ID", None)
        yield Deployment(standin, channels, env, news_dir, tmp_path)


def _dispatched(standin: StandIn, shard: int, event: str, object_id: int) -> bool:
    """Whether the stand-in has sent this event about this object on the shard's session."""
    backlog = standin.gateway.live[shard].backlog
    return any(name == event and data.get("id") == str(object_id) for _, name, data in backlog)


def _hot(slug: str) -> Story:
    return Story(slug=slug, title=f"Hot story {slug}", topics=("AI",), heat=150)


async def test_two_processes_post_each_servers_alert_once_from_the_process_that_owns_it(
    tmp_path: Path, location: StoreLocation
) -> None:
    async with deployment(tmp_path, location) as d, d.process(0), d.process(1):
        await d.ready(0)
        await d.ready(1)
        # A subscription added by slash command in a server of each shard: the command reaches only the process
        # of that shard, and the store it changes is shared.
        replies = []
        for shard in (0, 1):
            guild_id = d.channels[shard][0].guild_id
            extra = d.standin.add_channel(guild_id, "extra", ChannelType.TEXT)
            admin = d.standin.add_member(guild_id, "morgan", manage_guild=True)
            await until(lambda: d.standin.command_syncs, 30, "the slash commands to be synced")
            # The command must come after the channel's CHANNEL_CREATE on that shard's connection.
            await until(
                functools.partial(_dispatched, d.standin, shard, "CHANNEL_CREATE", extra.id),
                10,
                "the new channel to reach its shard",
            )
            replies.append(
                await d.standin.invoke(guild_id, extra.id, admin.id, "alerts add", {"channel": extra}, timeout=15)
            )
            d.channels[shard].append(extra)
        write_story(d.news_dir, _hot("one"))
        every = d.all_channels()
        try:
            await until(lambda: all(d.standin.messages_in(c.id) for c in every), 60, "the alert in every channel")
        except AssertionError:
            missing = [(c.id, c.name) for c in every if not d.standin.messages_in(c.id)]
            raise AssertionError(f"{missing} {[r.content for r in replies]}\n{d.tail()}") from None
        await d.settle(0, 1)
        titles = {c.id: d.titles(c) for c in every}
        syncs = len(d.standin.command_syncs)
        logs = {s: d.log_text(s) for s in (0, 1)}

    assert all("will now get" in r.content for r in replies), [r.content for r in replies]
    assert all(t == ["Hot story one"] for t in titles.values()), titles
    assert len(titles) == 2 * SERVERS_PER_SHARD + 2
    assert d.posted_by(0) == {c.id for c in d.channels[0]}
    assert d.posted_by(1) == {c.id for c in d.channels[1]}
    assert syncs == 1  # one global command sync for the deployment, not one per process
    for shard in (0, 1):
        assert f"running shard {shard} of 2" in logs[shard]
        assert f"shard {shard} of 2: {SERVERS_PER_SHARD} servers" in logs[shard]
        assert logs[shard].count("invite URL: ") == 1
        assert "Traceback" not in logs[shard]
    # Exactly one of them scanned the news folder.
    assert sum("this process now leads news-scan" in logs[s] for s in (0, 1)) == 1


async def test_a_process_killed_mid_fan_out_and_restarted_leaves_every_channel_with_one_post(
    tmp_path: Path, location: StoreLocation
) -> None:
    async with deployment(tmp_path, location) as d:
        # Slow sends make the fan-out long enough to be cut in the middle.
        d.standin.faults.delay("POST /channels/*/messages", 0.5)
        shard_0 = d.channels[0]
        async with d.process(1):
            async with d.process(0):
                await d.ready(0)
                await d.ready(1)
                write_story(d.news_dir, _hot("cut"))
                await until(
                    lambda: sum(bool(d.standin.messages_in(c.id)) for c in shard_0) >= 3, 60, "a few shard-0 posts"
                )
                await d.kill(0)
            cut_short = sum(bool(d.standin.messages_in(c.id)) for c in shard_0)
            async with d.process(0):
                await d.ready(0)
                every = d.all_channels()
                await until(lambda: all(d.standin.messages_in(c.id) for c in every), 60, "the alert everywhere")
                await d.settle(0, 1)
                titles = {c.id: d.titles(c) for c in every}

    assert cut_short < SERVERS_PER_SHARD, "the kill came after the fan-out had finished"
    assert all(t == ["Hot story cut"] for t in titles.values()), titles


async def test_when_the_scanning_leader_dies_the_other_process_scans_and_posts_new_stories(
    tmp_path: Path, location: StoreLocation
) -> None:
    async with deployment(tmp_path, location) as d, d.process(0), d.process(1):
        await d.ready(0)
        await d.ready(1)
        await until(
            lambda: any("this process now leads news-scan" in d.log_text(s) for s in (0, 1)), 30, "a scan leader"
        )
        leader = 0 if "this process now leads news-scan" in d.log_text(0) else 1
        survivor = 1 - leader
        await d.kill(leader)
        write_story(d.news_dir, _hot("after"))
        survivors = d.channels[survivor]
        # Two scan intervals for the lease to pass to the survivor, then its scan and tick; generous under load.
        await until(lambda: all(d.standin.messages_in(c.id) for c in survivors), 60, "the story on the survivor")
        await d.settle(survivor)
        titles = [d.titles(c) for c in survivors]
        survivor_log = d.log_text(survivor)

    assert all(t == ["Hot story after"] for t in titles)
    assert "this process now leads news-scan" in survivor_log
