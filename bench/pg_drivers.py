"""Which PostgreSQL driver for the bot: psycopg 3 (async) against asyncpg on the bot's typical query shape.

    .venv/bin/pip install asyncpg          # only this benchmark needs it; Heatwave itself does not
    .venv/bin/python bench/pg_drivers.py --db postgresql://postgres@127.0.0.1:5432/test

Both drivers fetch the same 5 rows by primary key (a page of stories) from a 100k-row table in a schema of
their own, alternately, several rounds; figures are per query, with asyncpg as the baseline. One driver for both
the async bot and the sync ingester (which needs COPY) is simpler if it is not measurably slower.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

import psycopg

QUERIES = 3_000
ROUNDS = 3


async def _time_asyncpg(url: str, schema: str) -> list[float]:
    import asyncpg

    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    timings = []
    try:
        for i in range(QUERIES):
            start = time.perf_counter()
            await conn.fetch("SELECT id, title, heat FROM drivers WHERE id = any($1::bigint[])", list(range(i, i + 5)))
            timings.append(time.perf_counter() - start)
    finally:
        await conn.close()
    return timings


async def _time_psycopg(url: str, schema: str) -> list[float]:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True, options=f"-csearch_path={schema}")
    timings = []
    try:
        for i in range(QUERIES):
            start = time.perf_counter()
            cur = await conn.execute("SELECT id, title, heat FROM drivers WHERE id = any(%s)", (list(range(i, i + 5)),))
            await cur.fetchall()
            timings.append(time.perf_counter() - start)
    finally:
        await conn.close()
    return timings


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test", help="a PostgreSQL URL")
    args = parser.parse_args()
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        print("bench/pg_drivers.py needs asyncpg: .venv/bin/pip install asyncpg", file=sys.stderr)
        return 2
    schema = f"bench_drivers_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.db, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        admin.execute(f"CREATE TABLE {schema}.drivers (id bigint PRIMARY KEY, title text, heat int)")
        admin.execute(
            f"INSERT INTO {schema}.drivers SELECT g, 'title ' || g, g % 190 FROM generate_series(1, 100000) g"
        )
        admin.execute(f"ANALYZE {schema}.drivers")
    try:
        results: dict[str, list[float]] = {"asyncpg": [], "psycopg": []}
        for _ in range(ROUNDS):
            results["asyncpg"] += await _time_asyncpg(args.db, schema)
            results["psycopg"] += await _time_psycopg(args.db, schema)
        base50, base99 = _percentile(results["asyncpg"], 0.5), _percentile(results["asyncpg"], 0.99)
        print(f"{'driver':10} {'p50 ms':>8} {'p99 ms':>8} {'p50 vs asyncpg':>15}")
        for name, timings in results.items():
            p50, p99 = _percentile(timings, 0.5), _percentile(timings, 0.99)
            print(f"{name:10} {p50:8.3f} {p99:8.3f} {p50 / base50:14.2f}x")
        print(f"(baseline asyncpg p50 {base50:.3f} ms, p99 {base99:.3f} ms; {ROUNDS} x {QUERIES} queries each)")
    finally:
        with psycopg.connect(args.db, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
