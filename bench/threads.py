"""Related-story threads: what the thread ledger adds to a fan-out, measured against the same fan-out without it.

    .venv/bin/python bench/threads.py [--pg] [--channels N] [--stories N] [--rounds N]

N hot stories (default 200), each listing 3 related stories, arrive at once for C channels of one server (default
100, every topic, dedupe off so every story is posted everywhere). The alert engine ticks with a poster that
answers at once (no Discord, no REST pacing) until nothing is owed: the time is the store's and the engine's.
Baseline: the same fan-out with threads off, measured in the same run on a fresh store of the same content. With
threads on every post also owes a thread and a related list (started, claimed, recorded: 2 more steps per post).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import ManualClock
from bot.services.alerts import AlertService
from bot.services.living_posts import LivingPosts
from bot.services.threads import RelatedThreads
from db import StoreLocation, open_store, parse_location
from db.models import StoryView
from tests.support.seed import Seeder, SeedRelated, SeedStory

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
GUILD = 5


class InstantPoster:
    """Accepts every post, thread and thread message at once."""

    def __init__(self) -> None:
        self._ids = itertools.count(10_000_000)
        self.posts = self.threads = self.thread_messages = 0

    async def send(self, channel_id: int, story: StoryView, *, ping_roles: Sequence[int] = ()) -> int:
        self.posts += 1
        return next(self._ids)

    async def publish(self, channel_id: int, message_id: int) -> None:
        """No followers."""

    async def find_recent(self, channel_id: int, story: StoryView) -> int | None:
        return None

    async def send_summary(
        self, channel_id: int, kind: str, stories: Sequence[StoryView]
    ) -> list[tuple[int, tuple[int, ...]]]:
        return [(next(self._ids), tuple(s.id for s in stories))]

    async def start_thread(self, channel_id: int, message_id: int, name: str, *, heat: int | None) -> int:
        self.threads += 1
        return message_id

    async def post_in_thread(self, thread_id: int, text: str, *, heat: int | None) -> int:
        self.thread_messages += 1
        return next(self._ids)

    async def find_in_thread(self, thread_id: int, marker: str) -> int | None:
        return None


def seed(location: StoreLocation, stories: int, at: datetime) -> None:
    with Seeder(location) as seeder:
        seeder.add(
            SeedStory(
                title="warm-up",
                excerpt="x",
                topics=("AI",),
                heat=1,
                url="https://bench.example/0",
                published_at=at,
                first_seen_at=at,
            )
        )
        for n in range(1, stories + 1):
            seeder.add(
                SeedStory(
                    title=f"Bench story {n} about chips and clouds",
                    excerpt="An excerpt.",
                    topics=("AI",),
                    heat=100 + n % 80,
                    url=f"https://bench.example/{n}",
                    published_at=at,
                    first_seen_at=at,
                    related=tuple(SeedRelated(f"https://elsewhere.example/{n}-{k}") for k in range(3)),
                ),
                at=at,
            )


async def fan_out(location: StoreLocation, channels: int, stories: int, *, threads: bool) -> tuple[float, int, int]:
    """(seconds, posts, thread steps) of one whole fan-out, ticking until nothing more is sent."""
    clock = ManualClock(NOW)
    store = await open_store(location)
    try:
        service = AlertService(
            store,
            clock,
            max_posts_per_tick=5,
            living=LivingPosts(store, clock),
            threads=RelatedThreads(store, clock) if threads else None,
        )
        seed(location, 0, NOW)  # the warm-up story: a heat event before the subscriptions take their cursor
        for channel in range(channels):
            await service.add_subscription(
                guild_id=GUILD,
                channel_id=1000 + channel,
                channel_kind="text",
                min_heat=70,
                dedupe=False,
                threads=threads,
            )
        clock.advance(timedelta(minutes=1))
        seed(location, stories, clock.now())
        poster = InstantPoster()
        started = time.perf_counter()
        while True:
            report = await service.tick(poster)
            clock.advance(timedelta(minutes=1))
            if not (report.sent or report.threads_started or report.thread_messages or report.queued):
                break
        elapsed = time.perf_counter() - started
        return elapsed, poster.posts, poster.threads + poster.thread_messages
    finally:
        await store.close()


async def run_pg(channels: int, stories: int, rounds: int) -> None:
    from tests.support.pg import private_schema

    results: dict[bool, list[tuple[float, int, int]]] = {False: [], True: []}
    for _ in range(rounds):
        for threads in (False, True):
            with private_schema() as schema_url:
                results[threads].append(await fan_out(parse_location(schema_url), channels, stories, threads=threads))
    report(results, "PostgreSQL")


async def run_sqlite(channels: int, stories: int, rounds: int) -> None:
    results: dict[bool, list[tuple[float, int, int]]] = {False: [], True: []}
    scratch = Path(tempfile.mkdtemp(prefix="heatwave-bench-threads-"))
    try:
        for number in range(rounds):
            for threads in (False, True):
                path = scratch / f"{number}-{threads}.db"
                results[threads].append(await fan_out(parse_location(path), channels, stories, threads=threads))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(results, "SQLite")


def report(results: dict[bool, list[tuple[float, int, int]]], engine: str) -> None:
    off = statistics.median(r[0] for r in results[False])
    on = statistics.median(r[0] for r in results[True])
    posts = results[True][0][1]
    steps = results[True][0][2]
    print(f"{engine}: {posts} posts ({steps} thread steps with threads on), median of {len(results[True])} rounds")
    print(f"  threads off (baseline): {off:.2f} s, {off / posts * 1000:.2f} ms per post")
    print(f"  threads on:             {on:.2f} s, {on / posts * 1000:.2f} ms per post ({on / off:.2f}x the baseline)")
    print(f"  the thread ledger's share: {(on - off) / posts * 1000:.2f} ms per post")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", action="store_true", help="run on PostgreSQL: private schemas of HEATWAVE_TEST_PG")
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--stories", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    random.seed(1)
    if args.pg:
        asyncio.run(run_pg(args.channels, args.stories, args.rounds))
    else:
        asyncio.run(run_sqlite(args.channels, args.stories, args.rounds))


if __name__ == "__main__":
    main()
