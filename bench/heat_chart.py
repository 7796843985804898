"""/heat at scale: the topic-median query and the whole data side of /heat, against a naive median, at 1M stories.

    .venv/bin/python bench/heat_chart.py                 # the 1,000,000-story SQLite store of bench/commands.py
    .venv/bin/python bench/heat_chart.py --db postgresql://postgres@127.0.0.1:5432/test

It reuses bench/commands.py's synthetic store (built and cached there on first use: ~200 skewed topics, stories
published over 60 days). Each sample is a random story; its chart period (publication to first sight, at least
the last 24 hours for the median) is what the service computes. Measured:
- median: `HeatChartStore.topic_median` — the latest 1,000 stories of the story's first topic in the period;
- /heat data: the whole `HeatChartService.chart` call (find the story, its heat history, topic, median, lines);
- baseline: the naive exact median — every story of the topic in the period joined from `stories`, sorted by heat
  (the time to fetch them; the median itself would be one more pass in Python);
- drawing: `chart_png` of the same charts (CPU, in the calling thread here; the bot runs it in a worker thread).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import psycopg  # noqa: E402
from commands import NOW, _percentiles, _warm, _warm_postgres, cached_postgres, cached_sqlite  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.render.heat import chart_png  # noqa: E402
from bot.services.heat_chart import MEDIAN_STORIES, HeatChart, HeatChartService  # noqa: E402
from bot.services.lookups import LookupService  # noqa: E402
from db import open_store, parse_location  # noqa: E402
from db.sqlite.timefmt import to_db  # noqa: E402

_NAIVE = (
    "SELECT s.heat FROM stories s JOIN story_topics st ON st.story_id = s.id "
    "WHERE st.topic_id = {m} AND s.published_at >= {m} AND s.published_at <= {m} AND s.heat >= 0 AND s.id != {m} "
    "ORDER BY s.heat"
)


async def run(target: str | None, stories: int, runs: int, baseline_runs: int, drawings: int, seed: int) -> None:
    raw: Any
    if target is not None and parse_location(target).engine == "postgres":
        location = cached_postgres(target, stories, seed)
        assert location.url is not None
        raw = psycopg.connect(location.url, autocommit=True)
        _warm_postgres(raw)
        mark, when = "%s", (lambda moment: moment)
    else:
        path = cached_sqlite(None if target is None else Path(target), stories, seed)
        _warm(path)
        location = parse_location(path)
        raw = sqlite3.connect(path)
        mark, when = "?", to_db
    store = await open_store(location)
    clock = ManualClock(NOW)
    lookups = LookupService(store.lookups, clock)
    service = HeatChartService(store, lookups, clock)
    rng = random.Random(seed + 2)
    try:
        size = raw.execute("SELECT max(id) FROM stories").fetchone()[0]
        ids = [rng.randint(1, size) for _ in range(runs)]
        charts: list[HeatChart] = [await service.chart(str(i)) for i in ids[:20]]  # warm up
        topic_ids: dict[str, int] = {}
        for name, topic_id in raw.execute("SELECT name, id FROM topics"):
            topic_ids[name] = topic_id

        data_samples: list[float] = []
        charts = []
        for story_id in ids:
            started = time.perf_counter()
            charts.append(await service.chart(str(story_id)))
            data_samples.append(time.perf_counter() - started)

        median_samples: list[float] = []
        sizes: list[int] = []
        for chart in charts:
            if chart.median is None:
                continue
            topic_id = topic_ids[chart.median.topic]
            started = time.perf_counter()
            found = await store.heat_charts.topic_median(
                topic_id,
                since=chart.median.since,
                until=chart.median.until,
                exclude_story=chart.story.id,
                cap=MEDIAN_STORIES,
            )
            median_samples.append(time.perf_counter() - started)
            sizes.append(found.stories)

        naive_samples: list[float] = []
        period_sizes: list[int] = []
        with_median = [c for c in charts if c.median is not None]
        for chart in with_median[:baseline_runs]:
            assert chart.median is not None
            params = (topic_ids[chart.median.topic], when(chart.median.since), when(chart.median.until), chart.story.id)
            started = time.perf_counter()
            rows = raw.execute(_NAIVE.format(m=mark), params).fetchall()
            naive_samples.append(time.perf_counter() - started)
            period_sizes.append(len(rows))

        draw_samples: list[float] = []
        chart_png(charts[0])  # matplotlib's import and font cache are not part of a drawing
        for chart in charts[:drawings]:
            started = time.perf_counter()
            chart_png(chart)
            draw_samples.append(time.perf_counter() - started)
    finally:
        raw.close()
        await store.close()

    engine = "PostgreSQL" if location.engine == "postgres" else "SQLite"
    print(f"\n{stories:,} stories on {engine} · {runs} stories sampled · baseline {len(naive_samples)} queries")
    print(
        f"stories in the median: median {statistics.median(sizes):.0f}, max {max(sizes)} (cap {MEDIAN_STORIES});"
        f" in the whole period (baseline): median {statistics.median(period_sizes):.0f}, max {max(period_sizes)}"
    )
    print(f"{'measure':<34} {'p50 ms':>8} {'p99 ms':>8}")
    m50, m99 = _percentiles(median_samples)
    d50, d99 = _percentiles(data_samples)
    b50, b99 = _percentiles(naive_samples)
    g50, g99 = _percentiles(draw_samples)
    print(f"{'topic median (ours, capped)':<34} {m50:8.2f} {m99:8.2f}")
    print(f"{'/heat data (the service call)':<34} {d50:8.2f} {d99:8.2f}")
    print(f"{'naive exact median (baseline)':<34} {b50:8.2f} {b99:8.2f}   ratio p50 {b50 / m50:.0f}x")
    print(f"{'drawing the PNG (chart_png)':<34} {g50:8.2f} {g99:8.2f}   ({len(draw_samples)} charts)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="a SQLite file path, or a postgresql:// URL of a server (default: bench/.data/)")
    parser.add_argument("--stories", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=400, help="stories sampled for the median and the service")
    parser.add_argument("--baseline-runs", type=int, default=20)
    parser.add_argument("--drawings", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    asyncio.run(run(args.db, args.stories, args.runs, args.baseline_runs, args.drawings, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
