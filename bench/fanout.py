"""Alert fan-out under Discord's rate limits: one hot story to many channels, paced vs today's unpaced poster.

The real bot (tests/e2e/harness.py: SQLite + HeatwaveBot) posts against the Discord stand-in with Discord's own
limits turned on (`DISCORD_RATE_LIMITS`: 50 requests/s per bot token, 5 messages per 5 s per channel, 429s with
`retry_after` and `global: true`). Each mode gets a fresh stand-in and store: the unpaced poster (what the bot did
before HEATWAVE_REST_RATE) and the paced one, in the same run. Printed per mode: messages sent per second over the
fan-out (first request of the tick to the last message) and the share of requests answered 429.

    .venv/bin/python bench/fanout.py [--channels 200] [--rate 45] [--processes 2] [--db URL|PATH]

`--processes 2` runs two real `heatwave run` processes (shards 0 and 1 of 2, half the channels each, each with
HEATWAVE_REST_RATE = rate / 2) over one store (a temporary SQLite file, or `--db`), against one stand-in: one bot
token, one global limit. "Unpaced" there is HEATWAVE_REST_RATE=1000 (the pacer never holds a request back);
messages/s is measured from the first message of the fan-out to the last.
Target: >= 40 messages/s and <= 5 % of requests answered 429.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.alert_posters import DiscordPoster
from bot.clock import ManualClock
from bot.pacing import RestPacer
from db import StoreLocation, parse_location
from tests.discord_standin import DISCORD_RATE_LIMITS, ChannelType
from tests.e2e.harness import Harness, start_harness
from tests.e2e.stories import Story

GUILDS = 20
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Outcome:
    sent: int
    seconds: float
    requests: int
    rate_limited: int
    global_limited: int
    # Two processes: each one's messages/s from its own first message to its last.
    per_process: tuple[float, ...] = ()
    # Two processes: how long after the first process's first message the other one sent its first.
    start_gap: float | None = None

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def share_429(self) -> float:
        return self.rate_limited / self.requests if self.requests else 0.0


async def _subscribe(h: Harness, channels: int) -> list[int]:
    """`channels` text channels over GUILDS servers, each subscribed (through the service) at heat 70."""
    ids: list[int] = []
    guilds = [h.standin.add_guild(f"Fan-out {g}") for g in range(GUILDS)]
    for n in range(channels):
        guild = guilds[n % GUILDS]
        channel = h.standin.add_channel(guild.id, f"news-{n}", ChannelType.TEXT)
        await h.services.alerts.add_subscription(
            guild_id=guild.id, channel_id=channel.id, channel_kind="text", min_heat=70
        )
        ids.append(channel.id)
    await h.standin.wait_for(lambda: all(h.bot.get_channel(c) is not None for c in ids), timeout=60)
    return ids


@contextlib.contextmanager
def _store_location(db: str | None, folder: Path) -> Iterator[StoreLocation]:
    """A fresh store: a private schema of the `--db` PostgreSQL server, the `--db` file, or a file in `folder`."""
    import os

    from tests.support.pg import private_schema

    if db is not None and db.startswith("postgres"):
        os.environ["HEATWAVE_TEST_PG"] = db
        with private_schema() as url:
            yield parse_location(url)
    else:
        yield parse_location(db or folder / "fanout.db")


async def fan_out(channels: int, rate: float | None, db: str | None) -> Outcome:
    """One tick posting one hot story to `channels` channels; `rate` None: the unpaced poster."""
    with tempfile.TemporaryDirectory() as folder, _store_location(db, Path(folder)) as location:
        clock = ManualClock(datetime.now(UTC))
        async with start_harness(
            Path(folder), clock, location=location, stories=[], standin_options=DISCORD_RATE_LIMITS
        ) as h:
            await _subscribe(h, channels)
            h.add_story(Story(slug="hot", title="One hot story", topics=("Bench",), heat=150))
            await h.rescan_now()
            already = len(h.standin.requests)
            started = time.monotonic()
            poster = DiscordPoster(h.bot, pacer=None if rate is None else RestPacer(rate))
            report = await h.services.alerts.tick(poster)
            requests = h.standin.requests[already:]
            last = max((r.at for r in requests if r.status == 200 and r.method == "POST"), default=started)
    return Outcome(
        sent=report.sent,
        seconds=last - started,
        requests=len(requests),
        rate_limited=sum(r.status == 429 for r in requests),
        global_limited=sum(r.scope == "global" for r in requests),
    )


async def fan_out_processes(channels: int, rate: float | None, db: str | None) -> Outcome:
    """Two `heatwave run` processes (shards 0 and 1 of 2) fan one hot story out to `channels` channels."""
    import os

    from bot.clock import SystemClock
    from bot.services.alerts import AlertService
    from db import open_store
    from tests.discord_standin import StandIn
    from tests.e2e.stories import write_story
    from tests.support.db_probe import database_setting
    from tests.support.polling import until
    from tests.support.processes import heatwave_process

    root = ROOT
    with tempfile.TemporaryDirectory() as folder, _store_location(db, Path(folder)) as location:
        tmp = Path(folder)
        news = tmp / "news"
        news.mkdir()
        async with StandIn(heartbeat_interval=1.0, shards=2, **DISCORD_RATE_LIMITS) as standin:
            ids: list[int] = []
            shard_of: dict[int, int] = {}
            store = await open_store(location)
            try:
                alerts = AlertService(store, SystemClock(), max_posts_per_tick=5)
                guilds = [standin.add_guild(f"Fan-out {g}", shard=(g % 2, 2)) for g in range(GUILDS)]
                for n in range(channels):
                    guild = guilds[n % GUILDS]
                    channel = standin.add_channel(guild.id, f"news-{n}", ChannelType.TEXT)
                    await alerts.add_subscription(
                        guild_id=guild.id, channel_id=channel.id, channel_kind="text", min_heat=70
                    )
                    ids.append(channel.id)
                    shard_of[channel.id] = (guild.id >> 22) % 2
            finally:
                await store.close()
            env = {
                **os.environ,
                "PYTHONPATH": str(root),
                "DISCORD_TOKEN": standin.token,
                "DISCORD_API_BASE": standin.base_url,
                "DISCORD_GATEWAY_URL": standin.gateway_url,
                "HEATWAVE_DB": database_setting(location),
                "HEATWAVE_NEWS_DIR": str(news),
                "HEATWAVE_SCAN_SECONDS": "1",
                "HEATWAVE_POST_SECONDS": "1",
                "HEATWAVE_SHARD_COUNT": "2",
                "HEATWAVE_REST_RATE": "1000" if rate is None else f"{rate / 2:g}",
                "HEATWAVE_LOG_LEVEL": "INFO",
            }
            log = tmp / "processes.log"
            async with contextlib.AsyncExitStack() as processes:
                for shard in (0, 1):
                    await processes.enter_async_context(
                        heatwave_process(["run"], {**env, "HEATWAVE_SHARDS": str(shard)}, root, log)
                    )
                await until(lambda: standin.gateway.shards_connected == {0, 1}, 60, "both processes to connect")
                await until(lambda: log.read_text().count("invite URL") >= 2, 60, "both processes to be ready")
                already = len(standin.requests)
                write_story(news, Story(slug="hot", title="One hot story", topics=("Bench",), heat=150))
                await until(lambda: all(standin.messages_in(c) for c in ids), 120, "the story in every channel")
                await until(lambda: standin.api_in_flight == 0, 10, "the last request")
                requests = standin.requests[already:]
    posts = sorted(r.at for r in requests if r.status == 200 and r.method == "POST")
    per_process = []
    firsts = []
    for shard in (0, 1):
        own = sorted(
            r.at
            for r in requests
            if r.status == 200 and r.method == "POST" and shard_of.get(int(r.path.split("/")[2]), -1) == shard
        )
        if len(own) > 1:
            per_process.append((len(own) - 1) / (own[-1] - own[0]))
        if own:
            firsts.append(own[0])
    return Outcome(
        sent=len(posts),
        seconds=(posts[-1] - posts[0]) * len(posts) / max(1, len(posts) - 1),
        requests=len(requests),
        rate_limited=sum(r.status == 429 for r in requests),
        global_limited=sum(r.scope == "global" for r in requests),
        per_process=tuple(per_process),
        start_gap=max(firsts) - min(firsts) if len(firsts) == 2 else None,
    )


def _line(label: str, outcome: Outcome) -> str:
    return (
        f"{label:<28} {outcome.sent:4d} sent in {outcome.seconds:5.2f} s = {outcome.per_second:5.1f} messages/s; "
        f"{outcome.rate_limited} of {outcome.requests} requests answered 429 ({outcome.share_429:.1%}, "
        f"{outcome.global_limited} global)"
        + (
            f"; per process while it sends: {' + '.join(f'{r:.1f}' for r in outcome.per_process)}"
            f" = {sum(outcome.per_process):.1f}/s"
            if outcome.per_process
            else ""
        )
        + (
            f"; the second process started {outcome.start_gap:.2f} s after the first"
            if outcome.start_gap is not None
            else ""
        )
    )


async def main_async(channels: int, rate: float, processes: int, db: str | None) -> None:
    if processes == 1:
        print(f"fan-out of one hot story to {channels} channels in one process, Discord's limits on the stand-in")
        baseline = await fan_out(channels, None, db)
    else:
        print(
            f"fan-out of one hot story to {channels} channels by 2 processes (shards 0 and 1 of 2, "
            f"{channels // 2} channels each), one bot token on the stand-in with Discord's limits"
        )
        baseline = await fan_out_processes(channels, None, db)
    print(_line("unpaced (before)", baseline))
    paced = await fan_out(channels, rate, db) if processes == 1 else await fan_out_processes(channels, rate, db)
    print(_line(f"paced at {rate:g}/s in total", paced))
    ratio = paced.per_second / baseline.per_second if baseline.per_second else float("inf")
    met = paced.per_second >= 40 and paced.share_429 <= 0.05
    print(
        f"paced / unpaced: {ratio:.2f}x the messages/s, 429s {baseline.rate_limited} -> {paced.rate_limited}; "
        f"target >= 40/s and <= 5 % 429: {'met' if met else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--rate", type=float, default=45.0, help="HEATWAVE_REST_RATE (split over the processes)")
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--db", default=None, help="a SQLite file or a postgresql:// server URL (a fresh schema)")
    args = parser.parse_args()
    asyncio.run(main_async(args.channels, args.rate, args.processes, args.db))


if __name__ == "__main__":
    main()
