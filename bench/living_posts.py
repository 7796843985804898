"""Living posts benchmark on either engine: selecting heat edits, and the dedupe check of a busy channel.

    .venv/bin/python bench/living_posts.py [--stories N] [--db PATH] [--checks N]
    .venv/bin/python bench/living_posts.py --db postgresql://postgres@127.0.0.1:5432/test [--drop]

1. Heat changes on 1,000 posted stories at once, each posted in 5 channels (5,000 live messages, plus 45,000
   older ones outside the 48 h window): the time of `due_edits` selecting every edit owed (limit 5,000) and one
   tick's worth (limit 25), target <= 200 ms; against a naive pass measured in the same run (read every recent
   message and its story one query each, compare in Python), same answer checked.
2. The dedupe check of one new story against a busy channel's last 72 h (3,000 posts and 1,000 stories listed
   on them) in a store of N stories (default 1,000,000): `LivingPosts.absorb` p50/p99 over --checks new stories
   (warm: titles of the window already normalised once), target p99 <= 5 ms; against the same check with every
   title normalised afresh, same answers checked.

The SQLite store is written straight into the tables (full-text triggers off for the load), built once per path
(default: heatwave_bench_living_<stories>.db in the temp directory). With a postgresql:// URL, that same SQLite
store is copied by `heatwave copy-store`'s code into a database of its own on that server,
`heatwave_bench_living_<stories>`, kept for re-runs (`--drop` removes it afterwards); the measurements then go
through `open_store` exactly as on SQLite, and the naive baselines run the same SQL on one plain connection to
either engine.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "bench"))

import psycopg  # noqa: E402
from commands import _warm_postgres, _with_database, drop_postgres  # noqa: E402
from psycopg import sql  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.services import living_posts as living_module  # noqa: E402
from bot.services.living_posts import EDIT_WINDOW, HEAT_STEP, LivingPosts  # noqa: E402
from bot.services.same_event import same_event_title, title_key  # noqa: E402
from db import open_store, parse_location  # noqa: E402
from db.copy_store import copy_store  # noqa: E402
from db.location import StoreLocation  # noqa: E402
from db.models import StoryView  # noqa: E402
from db.sqlite.connection import connect_sync  # noqa: E402
from db.sqlite.migrate import migrate  # noqa: E402
from db.sqlite.timefmt import to_db  # noqa: E402

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
CHUNK = 50_000
WORDS = [f"w{n}" for n in range(20_000)] + ["ai", "microsoft", "power", "apps", "cloud", "data", "model", "new"]
DOMAINS = [f"provider{n}.example" for n in range(400)]
BUSY = 777  # the busy channel
EDIT_CHANNELS = (901, 902, 903, 904, 905)


def _title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12)))


def build(path: Path, stories: int, rng: random.Random) -> None:
    conn = connect_sync(path)
    migrate(conn)
    for trigger in ("stories_fts_insert", "titles_fts_insert"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    stamp = to_db(NOW - timedelta(days=10))
    conn.execute("BEGIN")
    for start in range(1, stories + 1, CHUNK):
        rows = []
        related = []
        for i in range(start, min(stories, start + CHUNK - 1) + 1):
            rows.append(
                (
                    i,
                    f"https://example.com/{i}",
                    _title(rng),
                    stamp,
                    f"https://example.com/{i}",
                    rng.choice(DOMAINS),
                    rng.randint(20, 150),
                    stamp,
                    stamp,
                )
            )
            if i % 10 == 0:
                related.append((i, 0, f"https://example.com/{rng.randint(1, stories)}"))
        conn.executemany(
            "INSERT INTO stories (id, url, title, excerpt, published_at, kind, link_url, provider_domain, heat,"
            " quality, content_hash, source_path, first_seen_at, updated_at)"
            " VALUES (?, ?, ?, '', ?, 'article', ?, ?, ?, 50, 'h', 'p', ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO related_entries (story_id, position, url, link_url, title, excerpt)"
            " VALUES (?, ?, ?, ?, 'r', '')",
            ((s, p, u, u) for s, p, u in related),
        )
    # The busy channel: 3,000 posts over the last 72 h (one every ~86 s), 1,000 stories listed on them.
    posted = rng.sample(range(1, stories // 2), 4_000)

    def words(story: int, at: str) -> list[tuple[int, str, str, int]]:
        title = conn.execute("SELECT title FROM stories WHERE id = ?", (story,)).fetchone()[0]
        return [(BUSY, w, at, story) for w in sorted(title_key(title).words)]

    for n, story in enumerate(posted[:3_000]):
        at = to_db(NOW - timedelta(hours=72) + timedelta(seconds=86 * n + 60))
        conn.execute(
            "INSERT INTO living_posts (channel_id, story_id, message_id, edit_channel_id, posted_at, shown_heat)"
            " VALUES (?, ?, ?, ?, ?, 80)",
            (BUSY, story, 10**12 + n, BUSY, at),
        )
        conn.executemany("INSERT INTO post_words VALUES (?, ?, ?, ?)", words(story, at))
    for n, story in enumerate(posted[3_000:]):
        at = to_db(NOW - timedelta(hours=1))
        conn.execute(
            "INSERT INTO post_coverage (channel_id, story_id, post_story_id, added_at) VALUES (?, ?, ?, ?)",
            (BUSY, story, posted[n * 3], at),
        )
        conn.executemany("INSERT INTO post_words VALUES (?, ?, ?, ?)", words(story, at))
    # Edits: 1,000 stories posted in 5 channels within 48 h, 9,000 more posted 3-10 days ago.
    recent = rng.sample(range(stories // 2, stories), 10_000)
    for n, story in enumerate(recent):
        age = timedelta(hours=rng.uniform(1, 47)) if n < 1_000 else timedelta(days=rng.uniform(3, 10))
        conn.executemany(
            "INSERT INTO living_posts (channel_id, story_id, message_id, edit_channel_id, posted_at, shown_heat)"
            " VALUES (?, ?, ?, ?, ?, (SELECT heat FROM stories WHERE id = ?))",
            ((c, story, 10**13 + n * 10 + c, c, to_db(NOW - age), story) for c in EDIT_CHANNELS),
        )
    conn.execute("INSERT INTO app_state (key, value) VALUES ('bench_living', ?)", (",".join(map(str, recent[:1_000])),))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


class Raw:
    """The bench's own SQL (landing heat changes, the naive baselines) on one plain connection to either engine:
    `{m}` in a statement is the engine's parameter mark, `when` turns a time into what the engine stores."""

    def __init__(self, location: StoreLocation) -> None:
        self.conn: Any
        self.when: Callable[[datetime], object]
        if location.engine == "postgres":
            assert location.url is not None
            self.conn = psycopg.connect(location.url, autocommit=True)
            self.mark, self.when = "%s", lambda moment: moment
        else:
            assert location.path is not None
            self.conn = connect_sync(location.path)
            self.mark, self.when = "?", to_db

    def rows(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(statement.format(m=self.mark), params).fetchall()]

    def write(self, statement: str, rows: Iterable[Sequence[object]] = ((),)) -> None:
        self.conn.execute("BEGIN")
        self.conn.cursor().executemany(statement.format(m=self.mark), list(rows))
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def land_heat_changes(raw: Raw, rng: random.Random) -> list[int]:
    stored = raw.rows("SELECT value FROM app_state WHERE key = {m}", "bench_living")[0][0]
    ids = [int(x) for x in stored.split(",")]
    # Only the rows an earlier run left changed are reset: rewriting all 53,000 would leave PostgreSQL that many
    # dead rows and a stale row estimate (a hash join over every story, ~290 ms instead of ~110), which no bot
    # ever meets, since its edits touch a few rows at a time and autovacuum clears up behind them.
    raw.write(
        "UPDATE living_posts SET shown_heat = (SELECT heat FROM stories WHERE id = story_id),"
        " not_before = NULL, version = 0, shown_version = 0"
        " WHERE shown_heat != (SELECT heat FROM stories WHERE id = story_id) OR not_before IS NOT NULL"
        " OR version != 0 OR shown_version != 0"
    )
    raw.write("UPDATE stories SET heat = heat + {m} WHERE id = {m}", ((rng.randint(10, 40), i) for i in ids))
    return ids


def naive_due(raw: Raw) -> set[tuple[int, int]]:
    due = set()
    for channel, story, shown in raw.rows(
        "SELECT channel_id, story_id, shown_heat FROM living_posts WHERE posted_at >= {m}", raw.when(NOW - EDIT_WINDOW)
    ):
        heat = raw.rows("SELECT heat FROM stories WHERE id = {m}", story)[0][0]
        if heat is not None and shown is not None and abs(heat - shown) >= HEAT_STEP:
            due.add((channel, story))
    return due


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def run(location: StoreLocation, stories: int, checks: int, rng: random.Random) -> None:
    raw = Raw(location)
    try:
        if location.engine == "postgres":
            _warm_postgres(raw.conn)
        ids = land_heat_changes(raw, rng)
        await measure(location, raw, ids, stories, checks, rng)
    finally:
        raw.close()


async def measure(
    location: StoreLocation, raw: Raw, ids: list[int], stories: int, checks: int, rng: random.Random
) -> None:
    store = await open_store(location)
    try:
        living = store.living
        since = NOW - EDIT_WINDOW
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            due = await living.due_edits(NOW, since=since, min_change=HEAT_STEP, limit=5_000)
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        await living.due_edits(NOW, since=since, min_change=HEAT_STEP, limit=25)
        tick_time = time.perf_counter() - started
        started = time.perf_counter()
        expected = naive_due(raw)
        naive = time.perf_counter() - started
        assert {(d.channel_id, d.story_id) for d in due} == expected, "due_edits differs from the naive pass"
        assert len(expected) == 5 * len(ids)
        best = min(timings)
        engine = "PostgreSQL" if location.engine == "postgres" else "SQLite"
        print(f"{engine}, {stories:,} stories, load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(
            f"edit selection: {len(due)} edits owed (1,000 stories x 5 channels) in {_ms(best)} (best of 5),"
            f" one tick's 25 in {_ms(tick_time)}; naive per-message pass {_ms(naive)} -> {naive / best:.1f}x"
            f" [target <= 200 ms: {'ok' if best <= 0.2 else 'MISSED'}]"
        )

        views = await store.lookups.stories(rng.sample(range(1, stories // 2), checks))
        # A few of them retell a story the busy channel showed: the same title with a word dropped.
        posted = await store.lookups.stories(
            [int(r[0]) for r in raw.rows("SELECT story_id FROM living_posts WHERE channel_id = {m}", BUSY)][:5]
        )
        retold = [
            dataclasses.replace(
                v, id=v.id + 1, title=v.title.rsplit(" ", 1)[0] + " today", provider_domain="retold.example"
            )
            for v in posted
        ]
        service = LivingPosts(store, ManualClock(NOW))
        fast, answers = [], []
        for view in [*views, *retold]:
            started = time.perf_counter()
            answers.append(await service.absorb(BUSY, view))
            fast.append(time.perf_counter() - started)
        slow, slow_answers = [], []
        for view in [*views[: max(1, checks // 10)], *retold]:
            started = time.perf_counter()
            slow_answers.append(naive_check(raw, view))
            slow.append(time.perf_counter() - started)
        fast_subset = answers[: max(1, checks // 10)] + answers[-len(retold) :]
        if fast_subset != slow_answers:
            print([(i, a, b) for i, (a, b) in enumerate(zip(fast_subset, slow_answers, strict=True)) if a != b])
        assert fast_subset == slow_answers, "checks disagree"
        assert all(a is not None for a in answers[-len(retold) :]), "a retold story was not recognised"
        checks_only = fast[: len(views)]
        p50 = statistics.median(checks_only)
        p99 = statistics.quantiles(checks_only, n=100)[98]
        merges = fast[len(views) :]
        window = raw.rows("SELECT count(*) FROM living_posts WHERE channel_id = {m}", BUSY)[0][0]
        print(
            f"dedupe check of a new story vs the busy channel's 72 h ({window} posts + 1,000 listed stories),"
            f" {len(checks_only)} checks: p50 {_ms(p50)}, p99 {_ms(p99)}; reading the whole window p50"
            f" {_ms(statistics.median(slow))} -> {statistics.median(slow) / p50:.1f}x"
            f" [target p99 <= 5 ms: {'ok' if p99 <= 0.005 else 'MISSED'}];"
            f" {len(merges)} retold stories recognised and listed (check + write) in {_ms(statistics.median(merges))}"
            " each (median)"
        )
    finally:
        await store.close()


def naive_check(raw: Raw, story: StoryView) -> int | None:
    """The baseline: read every story the channel showed in the window, then look for a related link and compare
    each title; among several matches the same post as the service's (a related one first, then the first posted
    story), whatever order the engine returned the rows in."""
    since = raw.when(NOW - living_module.DEDUPE_WINDOW)
    rows = raw.rows(
        "SELECT p.story_id, p.message_id, st.title, st.provider_domain, st.id FROM living_posts p"
        " JOIN stories st ON st.id = p.story_id WHERE p.channel_id = {m} AND p.posted_at >= {m} UNION ALL"
        " SELECT p.story_id, p.message_id, st.title, st.provider_domain, st.id FROM post_coverage c"
        " JOIN living_posts p ON p.channel_id = c.channel_id AND p.story_id = c.post_story_id"
        " JOIN stories st ON st.id = c.story_id WHERE c.channel_id = {m} AND p.posted_at >= {m}",
        BUSY,
        since,
        BUSY,
        since,
    )
    rows.sort(key=lambda row: row[0])
    linked = {
        r[0]
        for r in raw.rows(
            "SELECT s2.id FROM related_entries r JOIN stories s2 ON s2.url = r.url WHERE r.story_id = {m}"
            " UNION SELECT story_id FROM related_entries WHERE url = {m}",
            story.id,
            story.url,
        )
    }
    for _post, message_id, _title, _domain, story_id in rows:
        if story_id != story.id and story_id in linked:
            return int(message_id)
    key = title_key(story.title)
    for _post, message_id, title, domain, story_id in rows:
        if story_id != story.id and same_event_title(key, story.provider_domain, title_key(str(title)), domain):
            return int(message_id)
    return None


def cached_sqlite(path: Path, stories: int, rng: random.Random) -> Path:
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_name(path.name + ".partial")
        for leftover in path.parent.glob(partial.name + "*"):
            leftover.unlink()
        build(partial, stories, rng)
        partial.rename(path)
        print(f"built {stories:,} stories in {time.perf_counter() - started:.0f} s at {path}", flush=True)
    return path


def cached_postgres(server: str, source: Path, stories: int) -> StoreLocation:
    """The SQLite store copied by `heatwave copy-store`'s code into a database of its own, on first use."""
    name = f"heatwave_bench_living_{stories}"
    building = name + "_partial"
    with psycopg.connect(server, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(building)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
            print(f"copying {source} into database {name} (copy-store) ...", flush=True)
            report = copy_store(parse_location(source), parse_location(_with_database(server, building)))
            assert report.ok, report.mismatches
            admin.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(name))
            )
            print(f"copied in {report.seconds:.0f} s ({report.stories / report.seconds:,.0f} stories/s)", flush=True)
        size = admin.execute("SELECT pg_size_pretty(pg_database_size(%s))", (name,)).fetchone()
        print(f"database {name}: {size[0] if size else '?'}", flush=True)
    return parse_location(_with_database(server, name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--db", help="a SQLite file path, or a postgresql:// URL of a server (default: a temp file)")
    parser.add_argument("--drop", action="store_true", help="PostgreSQL: drop the benchmark database afterwards")
    args = parser.parse_args()
    rng = random.Random(11)
    target = None if args.db is None else parse_location(args.db)
    default = Path(tempfile.gettempdir()) / f"heatwave_bench_living_{args.stories}.db"
    if target is not None and target.engine == "postgres":
        location = cached_postgres(args.db, cached_sqlite(default, args.stories, rng), args.stories)
    else:
        location = parse_location(cached_sqlite(default if target is None else Path(args.db), args.stories, rng))
    try:
        asyncio.run(run(location, args.stories, args.checks, rng))
    finally:
        if args.drop and location.engine == "postgres":
            drop_postgres(args.db, location)


if __name__ == "__main__":
    main()
