"""Digest benchmark: 10k digest subscriptions due at the same minute over 1M stories, on SQLite or PostgreSQL.

Prints the time to select every due digest's stories (target <= 1 s) with `DigestStore.stories` (one query per
distinct period), against a naive loop of one query per subscription measured in the same run on the same engine
(same answer checked); then one whole digest tick (queue, claim, select, record) with a poster that accepts
every digest instantly, so the bookkeeping around the sends is what gets measured.

    .venv/bin/python bench/digests.py [--stories N] [--subscriptions N] [--db PATH|URL] [--keep]

The synthetic store: stories first seen evenly over the last 30 days, heat like the corpus, one or two of 2,000
topics each. Subscriptions: 10 % hourly, 70 % daily, 20 % weekly, all due at the same minute; 1 in 10 follows
every topic, the rest one topic; min_heat 70-120; top 5 or 10. `--db` is a SQLite file (built once and reused;
default bench/.data/digests_<stories>_<subscriptions>.db) or a PostgreSQL server URL: the store then gets a
database of its own, built with COPY, reused when present, dropped after the run unless `--keep`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg import sql

from bot.clock import ManualClock
from bot.schedules import PERIOD
from bot.services.alerts import AlertService
from bot.services.digests import DigestService
from db import StoreLocation, open_store, parse_location
from db.models import DigestWindow
from db.postgres.connection import connect_sync as pg_connect
from db.postgres.migrate import migrate as pg_migrate
from db.sqlite.connection import connect_sync
from db.sqlite.migrate import migrate
from db.sqlite.timefmt import to_db
from db.text import index_words

# Due at 09:00 UTC on a Monday, so hourly, daily and weekly digests all fall due at this minute.
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DAYS = 30
TOPICS = 2_000
THRESHOLDS = (70, 80, 90, 100, 120)
CHUNK = 50_000
DATA_DIR = Path(__file__).resolve().parent / ".data"


def _heat(rng: random.Random) -> int:
    # Roughly the corpus: most stories 30-150, a few suppressed (-1), a long tail up to 189.
    if rng.random() < 0.03:
        return -1
    return max(0, min(189, int(rng.gauss(75, 30))))


def story_chunks(
    stories: int, rng: random.Random
) -> Iterator[tuple[list[tuple[int, int, datetime]], list[tuple[int, int, int]]]]:
    """(id, heat, first seen) rows in first-seen order and (story, topic, position) links, CHUNK at a time."""
    span = DAYS * 86_400
    batch: list[tuple[int, int, datetime]] = []
    links: list[tuple[int, int, int]] = []
    for i in range(1, stories + 1):
        seen = START - timedelta(seconds=span * (stories - i + 1) / stories)
        batch.append((i, _heat(rng), seen))
        first = rng.randint(1, TOPICS)
        links.append((i, first, 0))
        second = rng.randint(1, TOPICS)
        if second != first:
            links.append((i, second, 1))
        if len(batch) >= CHUNK:
            yield batch, links
            batch, links = [], []
    if batch:
        yield batch, links


def digest_rows(subscriptions: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for s in range(subscriptions):
        roll = s % 10
        every = "hourly" if roll == 0 else "weekly" if roll in (1, 2) else "daily"
        topic = None if s % 10 == 3 else rng.randint(1, TOPICS)
        rows.append(
            {
                "guild": 1 + s // 10,
                "channel": 10_000 + s,
                "topic": topic,
                "every": every,
                "minute": 9 * 60,
                "weekday": 0 if every == "weekly" else None,
                "top": rng.choice((5, 10)),
                "min_heat": rng.choice(THRESHOLDS),
                "covers_from": START - PERIOD[every],  # type: ignore[index]
            }
        )
    return rows


def build_sqlite(path: Path, stories: int, subscriptions: int, rng: random.Random) -> None:
    """Write the synthetic store straight into SQLite (full-text and count triggers off for the load)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect_sync(path)
    migrate(conn)
    for trigger in ("stories_fts_insert", "titles_fts_insert", "story_topics_count_insert", "story_topics_sort_keys"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO topics (id, key, name, story_count) VALUES (?, ?, ?, 0)",
        ((t, f"topic {t}", f"Topic {t}") for t in range(1, TOPICS + 1)),
    )
    for batch, links in story_chunks(stories, rng):
        conn.executemany(
            "INSERT INTO stories (id, url, title, excerpt, published_at, kind, link_url, heat, quality, content_hash,"
            " source_path, first_seen_at, updated_at) VALUES (?, ?, ?, '', ?, 'article', ?, ?, ?, 'h', 'p', ?, ?)",
            (
                (i, f"https://example.com/{i}", f"Story {i}", to_db(s), f"https://example.com/{i}", h, h, to_db(s),
                 to_db(s))
                for i, h, s in batch
            ),
        )  # fmt: skip
        keys = {i: (h, to_db(s)) for i, h, s in batch}
        conn.executemany(
            "INSERT INTO story_topics (story_id, topic_id, position, heat, published_at, first_seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ((i, t, p, keys[i][0], keys[i][1], keys[i][1]) for i, t, p in links),
        )
    conn.executemany(
        "INSERT INTO digest_subscriptions (guild_id, channel_id, kind, topic_id, topic_key, every, minute, weekday,"
        " timezone, top, min_heat, next_due_at, covers_from, created_at, updated_at) VALUES (:guild, :channel,"
        " 'text', :topic, coalesce(:topic, 0), :every, :minute, :weekday, 'UTC', :top, :min_heat, :due, :covers,"
        " :due, :due)",
        ({**r, "due": to_db(START), "covers": to_db(r["covers_from"])} for r in digest_rows(subscriptions, rng)),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def _with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def build_postgres(location: StoreLocation, stories: int, subscriptions: int, rng: random.Random) -> None:
    """COPY the synthetic store into the (empty) database at `location`, migrated first."""
    conn = pg_connect(location)
    try:
        pg_migrate(conn, location)
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
            " AND i.tablename IN ('stories', 'story_topics')"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ).fetchall()
        for name, _definition in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        # The topic-count and sort-key triggers would run per batch; the rows are written complete instead.
        conn.execute("ALTER TABLE story_topics DISABLE TRIGGER USER")
        with conn.cursor() as cur:
            with cur.copy("COPY topics (id, key, name) FROM STDIN") as copy:
                for topic_id in range(1, TOPICS + 1):
                    copy.write_row((topic_id, f"topic {topic_id}", f"Topic {topic_id}"))
            for batch, links in story_chunks(stories, rng):
                heats = {i: (h, s) for i, h, s in batch}
                with cur.copy(
                    "COPY stories (id, url, title, excerpt, published_at, kind, link_url, heat, quality,"
                    " content_hash, source_path, first_seen_at, updated_at, title_words, excerpt_words) FROM STDIN"
                ) as copy:
                    for i, h, s in batch:
                        url = f"https://example.com/{i}"
                        title = f"Story {i}"
                        copy.write_row(
                            (i, url, title, "", s, "article", url, h, h, "h", "p", s, s, index_words(title), "")
                        )
                with cur.copy(
                    "COPY story_topics (story_id, topic_id, position, heat, published_at, first_seen_at) FROM STDIN"
                ) as copy:
                    for i, topic, p in links:
                        h, s = heats[i]
                        copy.write_row((i, topic, p, h, s, s))
            conn.execute("SELECT setval(pg_get_serial_sequence('stories', 'id'), (SELECT max(id) FROM stories))")
            with cur.copy(
                "COPY digest_subscriptions (guild_id, channel_id, kind, topic_id, topic_key, every, minute, weekday,"
                " timezone, top, min_heat, next_due_at, covers_from, created_at, updated_at) FROM STDIN"
            ) as copy:
                for r in digest_rows(subscriptions, rng):
                    copy.write_row(
                        (r["guild"], r["channel"], "text", r["topic"], r["topic"] or 0, r["every"], r["minute"],
                         r["weekday"], "UTC", r["top"], r["min_heat"], START, r["covers_from"], START, START)
                    )  # fmt: skip
        conn.execute("ALTER TABLE story_topics ENABLE TRIGGER USER")
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            conn.execute(definition)
        conn.execute("VACUUM ANALYZE")
    finally:
        conn.close()


def cached_postgres(server: str, stories: int, subscriptions: int, rng: random.Random) -> StoreLocation:
    name = f"heatwave_bench_digests_{stories}_{subscriptions}"
    building = name + "_partial"
    with psycopg.connect(server, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(building)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
            started = time.perf_counter()
            build_postgres(parse_location(_with_database(server, building)), stories, subscriptions, rng)
            admin.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(name))
            )
            print(f"built {stories:,} stories, {subscriptions:,} digests in {time.perf_counter() - started:.0f} s")
        else:
            print(f"reusing database {name}")
    return parse_location(_with_database(server, name))


def reset(location: StoreLocation) -> None:
    """Put every digest back at its built state (due now, nothing delivered), so reruns measure the same work."""
    statements = (
        "DELETE FROM digest_deliveries",
        "UPDATE digest_subscriptions SET next_due_at = created_at, last_sent_at = NULL, last_error = NULL,"
        " covers_from = CASE every WHEN 'hourly' THEN {hour} WHEN 'daily' THEN {day} ELSE {week} END",
    )
    if location.engine == "postgres":
        with pg_connect(location) as conn:
            for statement in statements:
                conn.execute(
                    statement.format(hour="created_at - interval '1 hour'", day="created_at - interval '1 day'",
                                     week="created_at - interval '7 days'")
                )  # fmt: skip
        return
    assert location.path is not None
    conn = connect_sync(location.path)
    try:
        conn.execute("BEGIN")
        for statement in statements:
            conn.execute(
                statement.format(hour=f"'{to_db(START - PERIOD['hourly'])}'", day=f"'{to_db(START - PERIOD['daily'])}'",
                                 week=f"'{to_db(START - PERIOD['weekly'])}'")
            )  # fmt: skip
        conn.execute("COMMIT")
    finally:
        conn.close()


def naive(location: StoreLocation, windows: list[DigestWindow]) -> tuple[list[list[int]], float]:
    """Baseline: one query per subscription (its period, its topic, its line, its top)."""
    postgres = location.engine == "postgres"
    mark = "%s" if postgres else "?"
    every = (
        f"SELECT st.id FROM stories st WHERE st.first_seen_at >= {mark} AND st.first_seen_at < {mark}"
        f" AND st.heat >= {mark} ORDER BY st.heat DESC, st.id LIMIT {mark}"
    )
    topic = (
        f"SELECT st.id FROM story_topics x JOIN stories st ON st.id = x.story_id WHERE x.topic_id = {mark}"
        f" AND st.first_seen_at >= {mark} AND st.first_seen_at < {mark} AND st.heat >= {mark}"
        f" ORDER BY st.heat DESC, st.id LIMIT {mark}"
    )
    conn: Any = pg_connect(location) if postgres else connect_sync(location.path)  # type: ignore[arg-type]
    answers: list[list[int]] = []
    try:
        started = time.perf_counter()
        for w in windows:
            since, until = (w.since, w.until) if postgres else (to_db(w.since), to_db(w.until))
            if w.topic_id is None:
                rows = conn.execute(every, (since, until, w.min_heat, w.top)).fetchall()
            else:
                rows = conn.execute(topic, (w.topic_id, since, until, w.min_heat, w.top)).fetchall()
            answers.append([r[0] for r in rows])
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return answers, seconds


class _InstantPoster:
    """Accepts every digest at once, so the tick's own work is what gets measured."""

    def __init__(self) -> None:
        self.count = 0

    async def send_digest(self, channel_id: int, digest: object) -> int:
        self.count += 1
        return self.count

    async def find_digest(self, channel_id: int, digest: object) -> int | None:
        return None


async def measure(location: StoreLocation) -> None:
    engine = "PostgreSQL" if location.engine == "postgres" else "SQLite"
    reset(location)
    store = await open_store(location)
    try:
        due = await store.digests.due(START, 100_000)
        windows = [DigestWindow(d.channel_id, d.topic_id, d.covers_from, START, d.min_heat, d.top) for d in due]
        await store.digests.stories(windows[:50])  # warm the connection and the caches a little, as a live bot
        started = time.perf_counter()
        picked = await store.digests.stories(windows)
        selection = time.perf_counter() - started
        naive_answers, naive_seconds = naive(location, windows)
        same = [[p.story_id for p in picks] for picks in picked] == naive_answers
        stories = sum(len(p) for p in picked)
        print(f"{engine}: selecting the stories of {len(windows):,} digests due at the same minute:")
        print(f"  grouped by period:             {selection * 1000:8.1f} ms -> {stories:,} stories")
        print(
            f"  naive per-subscription loop:   {naive_seconds * 1000:8.1f} ms"
            f" (same answer: {'yes' if same else 'NO'})"
        )
        print(
            f"  ratio naive / grouped: {naive_seconds / selection:.1f}x; target <= 1000 ms:"
            f" {'met' if selection <= 1 else 'MISSED'}"
        )
        clock = ManualClock(START)
        service = DigestService(store, clock, alerts=AlertService(store, clock, max_posts_per_tick=5))
        poster = _InstantPoster()
        started = time.perf_counter()
        report = await service.tick(poster)
        tick = time.perf_counter() - started
        print(
            f"  one whole tick (queue, claim, select, send instantly, record): {tick:.2f} s for {report.sent:,} sent,"
            f" {report.empty:,} empty ({tick / max(1, len(windows)) * 1000:.2f} ms per digest)"
        )
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stories", type=int, default=1_000_000)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--db", help="SQLite file or PostgreSQL server URL")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL benchmark database")
    args = parser.parse_args()
    rng = random.Random(20261130)
    if args.db and args.db.startswith(("postgres://", "postgresql://")):
        location = cached_postgres(args.db, args.stories, args.subscriptions, rng)
        try:
            asyncio.run(measure(location))
        finally:
            if not args.keep:
                assert location.url is not None
                name = urlsplit(location.url).path.lstrip("/")
                with psycopg.connect(args.db, autocommit=True) as admin:
                    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        return
    path = Path(args.db) if args.db else DATA_DIR / f"digests_{args.stories}_{args.subscriptions}.db"
    if not path.exists():
        started = time.perf_counter()
        build_sqlite(path, args.stories, args.subscriptions, rng)
        took = time.perf_counter() - started
        print(f"built {args.stories:,} stories, {args.subscriptions:,} digests in {took:.0f} s")
    else:
        print(f"reusing {path}")
    asyncio.run(measure(parse_location(path)))


if __name__ == "__main__":
    main()
