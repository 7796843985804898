"""Resident memory of one `heatwave run` process over a big store: 1M stories and 10k subscriptions.

Builds (or reuses, `--db`) the synthetic store of bench/alerts.py and lands a typical rescan's heat changes on it
(`--events`, 100: ~17k deliveries queued for the 5k subscribed channels), starts the real bot as a subprocess
against the Discord stand-in, lets it connect, run a few idle scans and work through its first alert tick for
`--seconds` (the channels are not on the stand-in, so each send is a paced fetch answered 404), then reads the
process's VmRSS and VmHWM (peak) from /proc. Baseline in the same run: the same process over an empty store.
Target: under 200 MB resident.

    .venv/bin/python bench/memory.py [--stories 1000000] [--subscriptions 10000] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts import build_sqlite, land_events, reset_store  # bench/alerts.py: the same synthetic store

from db import parse_location
from tests.discord_standin import StandIn
from tests.support.polling import until
from tests.support.processes import alert_ticks_done, heatwave_process

ROOT = Path(__file__).resolve().parent.parent
TICKS = 3


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in kB from /proc/PID/status."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


async def resident(store: Path, folder: Path, label: str, seconds: float) -> dict[str, int]:
    news = folder / f"news-{label}"
    news.mkdir()
    log = folder / f"{label}.log"
    async with StandIn(heartbeat_interval=1.0) as standin:
        guild = standin.add_guild("Memory")
        for n in range(50):
            standin.add_channel(guild.id, f"news-{n}")
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": standin.token,
            "DISCORD_API_BASE": standin.base_url,
            "DISCORD_GATEWAY_URL": standin.gateway_url,
            "HEATWAVE_DB": str(store),
            "HEATWAVE_NEWS_DIR": str(news),
            "HEATWAVE_SCAN_SECONDS": "1",
            "HEATWAVE_POST_SECONDS": "1",
            "HEATWAVE_LOG_LEVEL": "DEBUG",
        }
        async with heatwave_process(["run"], env, ROOT, log) as proc:
            await until(lambda: "invite URL" in log.read_text(errors="replace"), 300, f"the {label} bot to start")
            started = time.monotonic()
            await until(
                lambda: alert_ticks_done(log) >= TICKS or time.monotonic() - started > seconds,
                seconds + 60,
                f"{TICKS} alert ticks or {seconds} s of ticking",
            )
            assert proc.returncode is None, log.read_text()[-3000:]
            return _status(proc.pid)


async def main_async(stories: int, subscriptions: int, db: Path | None, events: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        big = db if db is not None else folder / "big.db"
        if not big.exists():
            started = time.perf_counter()
            build_sqlite(big, stories, subscriptions, random.Random(42))
            took = time.perf_counter() - started
            print(f"built {stories:,} stories and {subscriptions:,} subscriptions in {took:.0f} s")
        location = parse_location(big)
        reset_store(location)
        land_events(location, events, stories, random.Random(43))
        empty = folder / "empty.db"
        baseline = await resident(empty, folder, "empty", seconds)
        loaded = await resident(big, folder, "big", seconds)
    mb = 1024
    print(
        f"heatwave run, empty store:      {baseline['VmRSS'] / mb:6.1f} MB resident (peak {baseline['VmHWM'] / mb:.1f})"
    )
    print(
        f"heatwave run, {stories:,} stories / {subscriptions:,} subscriptions, {events} heat changes queued: "
        f"{loaded['VmRSS'] / mb:6.1f} MB resident "
        f"(peak {loaded['VmHWM'] / mb:.1f}); {loaded['VmRSS'] / baseline['VmRSS']:.2f}x the empty store; "
        f"target < 200 MB: {'met' if loaded['VmHWM'] < 200 * mb else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=1_000_000)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--db", type=Path, default=None, help="a SQLite file to reuse (built there when missing)")
    parser.add_argument("--events", type=int, default=100, help="heat changes landed before the start")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the first ticks may run")
    args = parser.parse_args()
    asyncio.run(main_async(args.stories, args.subscriptions, args.db, args.events, args.seconds))


if __name__ == "__main__":
    main()
