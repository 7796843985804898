"""`heatwave copy-store` throughput: a synthetic SQLite store copied into a fresh PostgreSQL database.

    .venv/bin/python bench/copy_store.py                      # 1,000,000 stories (source built once, cached)
    .venv/bin/python bench/copy_store.py --stories 200000
    .venv/bin/python bench/copy_store.py --back               # then PostgreSQL -> a new SQLite file, timed too

The source is bench/commands.py's synthetic store (stories, topics, links, related entries) plus what ingest and
the alert engine add around them: a heat_history row per story (a quarter have a second), a source_files row
per story, an ingest run, subscriptions and a ledger of sent deliveries. It is cached under bench/.data/.
The target is a database of its own, `heatwave_bench_copy_store` (`--target-db`), on the server `--db` names
(dropped and created for every run, dropped afterwards unless `--keep`). Prints stories/s for the whole copy
(verification included) and the seconds each table took. `--before DIR` also times the copy made by another
checkout's code (in a process of its own, in the same rounds: the baseline); `--rounds N` repeats both.
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "bench"))

import commands  # noqa: E402  (bench/commands.py: the synthetic store)
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from db import parse_location  # noqa: E402
from db.copy_store import TABLES, CopyReport, copy_store  # noqa: E402
from db.sqlite.connection import connect_sync  # noqa: E402
from db.sqlite.timefmt import from_db, to_db  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_DB = "heatwave_bench_copy_store"
GUILDS = 20
CHANNELS_PER_GUILD = 5
SENT_PER_CHANNEL = 200


def cached_source(stories: int, seed: int) -> Path:
    """The commands benchmark store plus heat history, source files and alert state, built on first use."""
    path = PROJECT_ROOT / "bench" / ".data" / f"copy-store-{stories}-{seed}.db"
    if path.exists():
        return path
    base = commands.cached_sqlite(None, stories, seed)
    partial = path.with_name(path.stem + ".partial.db")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    started = time.perf_counter()
    print(f"adding heat history, source files and alerts to a copy of {base.name} ...", flush=True)
    shutil.copyfile(base, partial)
    _add_ingest_and_alerts(partial, seed)
    partial.rename(path)
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def _add_ingest_and_alerts(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    conn = connect_sync(path)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    stories = conn.execute("SELECT id, heat, published_at, first_seen_at FROM stories ORDER BY id").fetchall()
    heat_rows = []
    file_rows = []
    for story_id, heat, published, first_seen in stories:
        heat_rows.append((story_id, first_seen, heat, None))
        file_rows.append(
            (
                f"/news/{story_id}.md",
                rng.randint(800, 4000),
                1_700_000_000_000_000_000 + story_id,
                story_id,
                published,
                None,
                first_seen,
            )
        )
    # A quarter of the stories changed heat once, later (ids in time order, as ingest writes them).
    for story_id, heat, _published, first_seen in stories:
        if rng.random() < 0.25:
            later = to_db(from_db(first_seen) + timedelta(hours=rng.randint(1, 48)))
            heat_rows.append((story_id, later, (heat or 0) + rng.randint(1, 30), heat))
    heat_rows.sort(key=lambda row: row[1])
    conn.executemany(
        "INSERT INTO heat_history (story_id, observed_at, heat, previous_heat) VALUES (?, ?, ?, ?)", heat_rows
    )
    conn.executemany(
        "INSERT INTO source_files (path, size, mtime_ns, story_id, published_at, rejected_reason, ingested_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        file_rows,
    )
    now = to_db(commands.NOW)
    conn.execute(
        "INSERT INTO ingest_runs (started_at, finished_at, scanned, added, updated, unchanged, duplicates, rejected)"
        " VALUES (?, ?, ?, ?, 0, 0, 0, 0)",
        (now, now, len(stories), len(stories)),
    )
    top = int(conn.execute("SELECT max(id) FROM heat_history").fetchone()[0])
    conn.execute("UPDATE alert_engine SET cursor = ?", (top,))
    hot = [row[0] for row in stories if row[1] is not None and row[1] >= 70]
    channel = 10_000
    for guild in range(1, GUILDS + 1):
        for _ in range(CHANNELS_PER_GUILD):
            channel += 1
            conn.execute(
                "INSERT INTO alert_channels (channel_id, guild_id, kind, created_at) VALUES (?, ?, 'text', ?)",
                (channel, guild, now),
            )
            topic = rng.choice([None, 1, 2, 3])
            conn.execute(
                "INSERT INTO alert_subscriptions (channel_id, topic_id, topic_key, min_heat, cursor, created_at, "
                "updated_at) VALUES (?, ?, ?, 70, ?, ?, ?)",
                (channel, topic, topic or 0, top, now, now),
            )
            sent = rng.sample(hot, min(SENT_PER_CHANNEL, len(hot)))
            conn.executemany(
                "INSERT INTO alert_deliveries (story_id, channel_id, status, heat, queued_at, next_attempt_at, "
                "attempts, message_id, sent_at) VALUES (?, ?, 'sent', 80, ?, ?, 1, ?, ?)",
                [(story_id, channel, now, now, rng.randrange(1 << 60), now) for story_id in sent],
            )
    conn.execute("INSERT INTO app_state (key, value) VALUES ('command_tree_hash', 'bench')")
    conn.execute("COMMIT")
    conn.close()


def _with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def _recreate_database(server: str, name: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# Runs in a process of its own with another checkout first on sys.path: that checkout's copy, timed.
_BEFORE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from db import parse_location
from db.copy_store import copy_store
started = time.perf_counter()
report = copy_store(parse_location(sys.argv[2]), parse_location(sys.argv[3]), force=True)
print(time.perf_counter() - started, report.stories, report.ok)
"""


def _run_before(code: Path, source: str, target: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _BEFORE, str(code), source, target], check=True, capture_output=True, text=True
    ).stdout.split()
    seconds, stories, ok = float(out[0]), int(out[1]), out[2] == "True"
    rate = stories / seconds
    print(f"\nbefore ({code}): {stories:,} stories in {seconds:.1f} s = {rate:,.0f} stories/s, verified: {ok}")
    return seconds


def _warm(path: Path) -> None:
    # A store in use sits in the OS page cache; without this the first run would time the disk.
    with path.open("rb") as file:
        while file.read(1 << 22):
            pass


def _run(source: str, target: str, label: str) -> CopyReport:
    started = time.perf_counter()
    report = copy_store(parse_location(source), parse_location(target), force=True)
    seconds = time.perf_counter() - started
    print(
        f"\n{label}: {report.stories:,} stories in {seconds:.1f} s = {report.stories / seconds:,.0f} stories/s "
        f"({sum(t.source for t in report.tables) / seconds:,.0f} rows/s), verified: {report.ok}"
    )
    for table in report.tables:
        if table.source:
            print(f"  {table.table:<20} {table.source:>11,} rows {table.seconds:7.2f} s")
    rest = seconds - sum(t.seconds for t in report.tables)
    print(f"  {'(open, clear, finish, verify)':<37} {rest:7.2f} s")
    if not report.ok:
        print("MISMATCHES:", *report.mismatches, sep="\n  ")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stories", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", default=DEFAULT_SERVER, help="a PostgreSQL URL naming the server to use")
    parser.add_argument("--back", action="store_true", help="also copy PostgreSQL -> SQLite")
    parser.add_argument("--keep", action="store_true", help="leave the target database in place")
    parser.add_argument("--target-db", default=TARGET_DB, help="the target database's name")
    parser.add_argument("--before", type=Path, help="also time this checkout's copy (the baseline), same rounds")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="log how long each index and key took to rebuild")
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(format="  %(message)s")
        logging.getLogger("db.postgres.dump").setLevel(logging.DEBUG)

    source = cached_source(args.stories, args.seed)
    _warm(source)
    target = _with_database(args.db, args.target_db)
    print(f"source {source} ({source.stat().st_size / 1e9:.2f} GB), {len(TABLES)} tables")
    try:
        for round_number in range(1, args.rounds + 1):
            if args.before is not None:
                _recreate_database(args.db, args.target_db)
                before = _run_before(args.before, str(source), target)
            _recreate_database(args.db, args.target_db)
            started = time.perf_counter()
            report = _run(str(source), target, f"SQLite -> PostgreSQL (round {round_number})")
            if args.before is not None:
                print(f"  ratio: {before / (time.perf_counter() - started):.2f}x the baseline's stories/s")
        if args.back:
            back = source.with_name(f"copy-store-back-{args.stories}.db")
            for leftover in back.parent.glob(back.name + "*"):
                leftover.unlink()
            report = _run(target, str(back), "PostgreSQL -> SQLite") if report.ok else report
            for leftover in back.parent.glob(back.name + "*"):
                leftover.unlink()
    finally:
        if not args.keep:
            _recreate_database(args.db, args.target_db, drop_only=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
