"""Lookup latency at scale: p50/p99 of every lookup's service call over a synthetic store, with a naive baseline.

    .venv/bin/python bench/commands.py                 # 1,000,000 stories in SQLite (builds once, ~3 min, cached)
    .venv/bin/python bench/commands.py --stories 100000
    .venv/bin/python bench/commands.py --db postgresql://postgres@127.0.0.1:5432/test   # the same on PostgreSQL

The store is written directly rather than through the ingester: this measures reads, and the ingester has its
own benchmark. Both engines get the same synthetic stories (same seed, same generator).
- SQLite: bulk INSERTs, FTS rebuilt once at the end, cached under bench/.data/ by size and seed (`--db PATH`
  puts it elsewhere).
- PostgreSQL: the URL names a server and a database to connect to first; the store is built with COPY into a
  database of its own, `heatwave_bench_commands_<stories>_<seed>` (secondary indexes dropped for the load and
  rebuilt once, then VACUUM ANALYZE), and left there so re-runs only time the queries (`--drop` removes it
  after the run). Migrations the cached database lacks are applied when it is opened.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import random
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.errors import HeatwaveError  # noqa: E402
from bot.services.lookups import LookupService  # noqa: E402
from db import StoreLocation, open_store, parse_location  # noqa: E402
from db.postgres.connection import connect_sync as pg_connect  # noqa: E402
from db.postgres.migrate import migrate as pg_migrate  # noqa: E402
from db.postgres.vectors import search_text  # noqa: E402
from db.sqlite.connection import connect_sync  # noqa: E402
from db.sqlite.migrate import migrate  # noqa: E402
from db.sqlite.store import SqliteStore  # noqa: E402
from db.sqlite.timefmt import to_db  # noqa: E402
from db.text import index_words, topic_key  # noqa: E402

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SPREAD = timedelta(days=60)
CORPUS = PROJECT_ROOT.parent / "shared" / "corpus"

# A news-flavoured base vocabulary; words from the shared corpus are added when it is present, and pseudo-words
# make up the long tail so rare terms exist (real text is Zipf-distributed: few very common words, many rare).
_BASE_WORDS = (
    "the", "a", "of", "to", "and", "in", "for", "on", "with", "new", "how", "why", "what", "is", "are", "will",
    "by", "from", "at", "as", "its", "this", "that", "microsoft", "power", "apps", "bi", "azure", "ai",
    "artificial", "intelligence", "machine", "learning", "data", "cloud", "security", "model", "driven", "canvas",
    "portals", "teams", "integration", "release", "wave", "update", "preview", "announces", "launches", "report",
    "study", "market", "growth", "company", "startup", "funding", "billion", "million", "users", "customers",
    "developers", "platform", "service", "services", "tools", "analytics", "robotics", "autos", "ethics",
    "vision", "language", "processing", "network", "storage", "identity", "compute", "database", "databases",
    "google", "amazon", "apple", "facebook", "ibm", "nvidia", "openai", "chip", "chips", "quantum", "computing",
    "research", "researchers", "university", "government", "policy", "regulation", "privacy", "health",
    "healthcare", "finance", "bank", "banks", "fintech", "retail", "energy", "climate", "city", "cities",
    "airport", "passengers", "social", "distancing", "covid", "pandemic", "vaccine", "workers", "jobs",
    "automation", "future", "digital", "transformation", "enterprise", "business", "leaders", "strategy",
    "trends", "week", "year", "today", "video", "tutorial", "demo", "guide", "tips", "best", "practices", "build",
    "faster", "smarter", "deploy", "scale", "open", "source", "code",
)


def _vocabulary(rng: random.Random) -> list[str]:
    words = list(dict.fromkeys(_BASE_WORDS))
    if CORPUS.is_dir():
        seen = set(words)
        for path in sorted(CORPUS.glob("*/_news/*.md"))[:250]:
            for word in re.findall(r"[a-z]{3,12}", path.read_text(encoding="utf-8", errors="replace").lower()):
                if word not in seen and not word.startswith("http"):
                    seen.add(word)
                    words.append(word)
    syllables = ["ka", "ro", "mi", "tel", "van", "sor", "qui", "den", "lo", "pra", "zen", "tu", "bex", "ni", "ol"]
    while len(words) < 20_000:
        words.append("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return words


class _Zipf:
    """Draws indexes 0..n-1 with probability proportional to 1/(rank+1)^s."""

    def __init__(self, n: int, s: float, rng: random.Random) -> None:
        weights = [1 / (i + 1) ** s for i in range(n)]
        self._cum = list(itertools.accumulate(weights))
        self._rng = rng

    def __call__(self) -> int:
        return bisect.bisect_left(self._cum, self._rng.random() * self._cum[-1])


def _topic_names() -> list[str]:
    roots = ["Power Apps", "AI", "Power BI", "Azure", "Security", "Cloud", "Data", "Robotics", "Fintech", "Health"]
    subs = ["Analytics", "Networking", "Storage", "Identity", "Ethics", "Autos", "Finance", "Vision", "Portals",
            "Teams integration", "Canvas apps", "Model-driven apps", "AI Builder", "Databases", "Compute", "IoT",
            "Machine Learning", "Natural Language Processing"]
    names = list(roots)
    for root, sub in itertools.product(roots, subs):
        if len(names) >= 200:
            break
        names.append(f"{sub} in {root}" if root != sub else sub)
    return names[:200]


# ----- the synthetic store (the same for both engines) --------------------------------------------------------

# id, url, title, excerpt, published_at, kind, provider_name, provider_domain, link_url, image_url, heat,
# quality, content_hash, source_path, first_seen_at, updated_at
StoryTuple = tuple[Any, ...]
# story_id, topic_id, position, heat, published_at, first_seen_at
LinkTuple = tuple[Any, ...]
# story_id, position, url ("ours:<id>" for a story we have), link_url, title, excerpt, published_at,
# provider_name, provider_domain, quality, image_url
RelatedTuple = tuple[Any, ...]


class Synthetic:
    """Stories with ~200 skewed topics and related lists, drawn from one seeded generator.

    Iterate `stories()` first (it records the sort keys), then `links_and_related()`: the draws happen in that
    order, so a given size and seed always give the same store.
    """

    def __init__(self, stories: int, seed: int) -> None:
        self.count = stories
        self._rng = rng = random.Random(seed)
        self._words = _vocabulary(rng)
        self._word = _Zipf(len(self._words), 1.05, rng)
        self.topics = _topic_names()
        self._topic = _Zipf(len(self.topics), 1.2, rng)
        domains = [f"{w}{rng.choice(['news', 'daily', 'times', 'wire', 'tech'])}.com" for w in self._words[:500]]
        self._domains = domains
        self._domain = _Zipf(len(domains), 1.1, rng)
        self._keys: list[tuple[int | None, datetime, datetime]] = []

    def _text(self, lo: int, hi: int) -> str:
        return " ".join(self._words[self._word()] for _ in range(self._rng.randint(lo, hi)))

    def stories(self) -> Iterator[StoryTuple]:
        rng = self._rng
        for i in range(1, self.count + 1):
            first_seen = NOW - SPREAD * rng.random()
            published = first_seen - timedelta(hours=rng.random() * 48)
            roll = rng.random()
            heat = -1 if roll < 0.03 else None if roll < 0.05 else int(rng.gammavariate(6, 13))
            dom = self._domains[self._domain()]
            url = f"https://{dom}/{published:%Y/%m/%d}/story-{i}"
            self._keys.append((heat, published, first_seen))
            yield (
                i, url, self._text(6, 12).capitalize(), self._text(20, 40) + ".", published,
                "video" if rng.random() < 0.08 else "article", dom.split(".")[0].title(), dom, url,
                f"https://img.{dom}/{i}.jpg", heat, None if heat is None else max(heat - rng.choice([0, 0, 10]), 0),
                f"h{i}", f"news/{i}.md", first_seen, first_seen,
            )

    def links_and_related(self) -> tuple[list[LinkTuple], list[RelatedTuple]]:
        rng = self._rng
        links: list[LinkTuple] = []
        related: list[RelatedTuple] = []
        for story_id in range(1, self.count + 1):
            chosen = dict.fromkeys(self._topic() for _ in range(rng.choice([1, 1, 1, 2, 2, 3])))
            heat, published, first_seen = self._keys[story_id - 1]
            links.extend((story_id, t + 1, pos, heat, published, first_seen) for pos, t in enumerate(chosen))
            if rng.random() < 0.08:
                for pos in range(rng.randint(1, 5)):
                    # A third of related entries point at a story we have (by its normalised URL), like a real
                    # feed; "ours:<id>" is replaced by that story's URL once the stories are in.
                    if rng.random() < 0.33:
                        url = f"ours:{rng.randint(1, self.count)}"
                    else:
                        url = f"https://elsewhere.example/{story_id}/{pos}"
                    related.append((story_id, pos, url, url, self._text(6, 10), self._text(15, 25), None,
                                    "Elsewhere", "elsewhere.example", 50, None))
        return links, related


# ----- SQLite ----------------------------------------------------------------------------------------------------


def build_sqlite(path: Path, stories: int, *, seed: int = 7) -> None:
    """Write the synthetic store into a migrated SQLite database."""
    data = Synthetic(stories, seed)
    conn = connect_sync(path)
    migrate(conn)
    # Triggers maintain the FTS index and topic counts row by row; for a bulk load it is far quicker to drop
    # them, load, rebuild both once, and put the triggers back exactly as the migration created them.
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('stories', 'story_topics')"
    ).fetchall()
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    for name, _sql in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.executemany("INSERT INTO topics (id, key, name) VALUES (?, ?, ?)",
                     [(i + 1, topic_key(n), n) for i, n in enumerate(data.topics)])
    insert = (
        "INSERT INTO stories (id, url, title, excerpt, published_at, kind, provider_name, provider_domain, "
        "link_url, image_url, heat, quality, content_hash, source_path, first_seen_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    rows = ((*r[:4], to_db(r[4]), *r[5:14], to_db(r[14]), to_db(r[15])) for r in data.stories())
    while batch := list(itertools.islice(rows, 20_000)):
        conn.executemany(insert, batch)
    links, related = data.links_and_related()
    # The sort keys 0003 copies onto story_topics are written directly, since its triggers are off for the load.
    conn.executemany(
        "INSERT INTO story_topics (story_id, topic_id, position, heat, published_at, first_seen_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(*link[:4], to_db(link[4]), to_db(link[5])) for link in links],
    )
    conn.executemany(
        "INSERT INTO related_entries (story_id, position, url, link_url, title, excerpt, published_at, "
        "provider_name, provider_domain, quality, image_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        related,
    )
    # Related entries that point at our own stories get the real URL of that story.
    conn.execute(
        "UPDATE related_entries SET url = (SELECT url FROM stories WHERE id = CAST(substr(related_entries.url, 6) "
        "AS INTEGER)), link_url = (SELECT link_url FROM stories WHERE id = CAST(substr(related_entries.url, 6) "
        "AS INTEGER)) WHERE url LIKE 'ours:%'"
    )
    conn.execute(
        "UPDATE topics SET story_count = (SELECT count(*) FROM story_topics st WHERE st.topic_id = topics.id)"
    )
    for table in ("stories_fts", "titles_fts"):
        conn.execute(f"INSERT INTO {table} ({table}) VALUES ('rebuild')")
    for _name, sql_text in triggers:
        conn.execute(sql_text)
    conn.execute("COMMIT")
    for table in ("stories_fts", "titles_fts"):
        conn.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
    conn.execute("ANALYZE")
    conn.close()


def cached_sqlite(path: Path | None, stories: int, seed: int) -> Path:
    """The SQLite benchmark database for this size and seed, built on first use."""
    if path is None:
        folder = PROJECT_ROOT / "bench" / ".data"
        path = folder / f"commands-{stories}-{seed}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        partial_path = path.with_name(path.stem + ".partial.db")
        for leftover in path.parent.glob(partial_path.name + "*"):
            leftover.unlink()
        started = time.perf_counter()
        print(f"building {stories:,} stories into {path} ...", flush=True)
        build_sqlite(partial_path, stories, seed=seed)
        partial_path.rename(path)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def _warm(path: Path) -> None:
    # A running bot's database sits in the OS page cache; read it once so the first timed queries do not
    # measure the disk instead of the queries (a cold first read of a 1.5 GB file takes seconds).
    with path.open("rb") as file:
        while file.read(1 << 22):
            pass


# ----- PostgreSQL ------------------------------------------------------------------------------------------------


def _with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def build_postgres(location: StoreLocation, stories: int, *, seed: int = 7) -> None:
    """COPY the synthetic store into the (empty) database at `location`, migrated first."""
    data = Synthetic(stories, seed)
    conn = pg_connect(location)
    try:
        pg_migrate(conn, location)
        # Secondary indexes (the GIN full-text index above all) are far cheaper to build once than to maintain
        # row by row: drop them for the load and re-create them from their own definitions afterwards.
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename IN ('stories', 'story_topics', 'related_entries') "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ).fetchall()
        for name, _definition in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        with conn.cursor() as cur:
            with cur.copy("COPY topics (id, key, name) FROM STDIN") as copy:
                for i, name in enumerate(data.topics):
                    copy.write_row((i + 1, topic_key(name), name))
            with cur.copy(
                "COPY stories (id, url, title, excerpt, published_at, kind, provider_name, provider_domain, "
                "link_url, image_url, heat, quality, content_hash, source_path, first_seen_at, updated_at, "
                "title_words, excerpt_words, search, title_search) FROM STDIN"
            ) as copy:
                # The store writes its own full-text vectors (migration 0005): without them every full-text
                # lookup would find nothing and time nothing.
                for row in data.stories():
                    title_words, excerpt_words = index_words(row[2]), index_words(row[3])
                    copy.write_row((*row, title_words, excerpt_words, *search_text(title_words, excerpt_words)))
            links, related = data.links_and_related()
            # Topic counts follow from the statement-level trigger on story_topics (one UPDATE for the COPY).
            with cur.copy(
                "COPY story_topics (story_id, topic_id, position, heat, published_at, first_seen_at) FROM STDIN"
            ) as copy:
                for link in links:
                    copy.write_row(link)
            with cur.copy(
                "COPY related_entries (story_id, position, url, link_url, title, excerpt, published_at, "
                "provider_name, provider_domain, quality, image_url) FROM STDIN"
            ) as copy:
                for entry in related:
                    copy.write_row(entry)
        conn.execute(
            "UPDATE related_entries r SET url = s.url, link_url = s.link_url FROM stories s "
            "WHERE r.url LIKE 'ours:%' AND s.id = substr(r.url, 6)::bigint"
        )
        for table in ("stories", "topics"):
            conn.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), (SELECT max(id) FROM {i}))").format(
                    t=sql.Literal(table), i=sql.Identifier(table)
                )
            )
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            conn.execute(definition)
        conn.execute("VACUUM ANALYZE")
    finally:
        conn.close()


def cached_postgres(server: str, stories: int, seed: int, name: str | None = None) -> StoreLocation:
    """The PostgreSQL benchmark database for this size and seed on the server at `server`, built on first use."""
    name = name or f"heatwave_bench_commands_{stories}_{seed}"
    building = name + "_partial"
    with psycopg.connect(server, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(building)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
            started = time.perf_counter()
            print(f"building {stories:,} stories into database {name} ...", flush=True)
            build_postgres(parse_location(_with_database(server, building)), stories, seed=seed)
            admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(building), sql.Identifier(name)))
            print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    location = parse_location(_with_database(server, name))
    conn = pg_connect(location)
    try:
        pg_migrate(conn, location)  # a cached database gets the migrations added since it was built
    finally:
        conn.close()
    return location


def drop_postgres(server: str, location: StoreLocation) -> None:
    assert location.url is not None
    name = urlsplit(location.url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _warm_postgres(conn: psycopg.Connection[Any]) -> None:
    # As for SQLite: a running bot's tables and indexes sit in memory. pg_prewarm (when available) reads them
    # into shared_buffers when the database fits there, else into the OS cache; otherwise the warm-up calls
    # below do it more slowly.
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    except psycopg.Error:
        return
    row = conn.execute(
        "SELECT pg_database_size(current_database()) <= "
        "(SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers')"
    ).fetchone()
    mode = "buffer" if row is not None and row[0] else "read"
    conn.execute(
        "SELECT pg_prewarm(c.oid, %s) FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
        "AND c.relkind IN ('r', 'i', 't')",
        (mode,),
    )


# ----- timing ----------------------------------------------------------------------------------------------------


class _Raw(Protocol):
    """The naive baseline's connection: sqlite3 or psycopg, both with execute(sql, params).fetchall()."""

    def execute(self, sql: Any, params: Any = ...) -> Any: ...


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return p50 * 1000, p99 * 1000


async def _time_calls(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    samples = []
    for call in calls:
        started = time.perf_counter()
        with contextlib.suppress(HeatwaveError):  # "nothing found" is an answer too, timed like one
            await call()
        samples.append(time.perf_counter() - started)
    return samples


def _time_sync(conn: _Raw, queries: Sequence[tuple[str, tuple[object, ...]]]) -> list[float]:
    samples = []
    for sql_text, params in queries:
        started = time.perf_counter()
        conn.execute(sql_text, params).fetchall()
        samples.append(time.perf_counter() - started)
    return samples


def _typed_prefix(rng: random.Random, title: str) -> str:
    # Someone typing a title: the first few words, the last one possibly unfinished.
    words = title.split()
    count = rng.randint(1, min(4, len(words)))
    typed = words[:count]
    typed[-1] = typed[-1][: rng.randint(1, len(typed[-1]))]
    return " ".join(typed)


@dataclass(frozen=True)
class _Dialect:
    """What the naive baseline queries spell differently per engine."""

    mark: str  # parameter placeholder
    nocase: str  # a case-insensitive comparison of t.name with a parameter
    unindexed_seen: str  # stories' first_seen_at, read without any index (a full scan)
    cutoff: Callable[[datetime], object]


_SQLITE = _Dialect("?", "t.name = ? COLLATE NOCASE", "stories NOT INDEXED WHERE first_seen_at", to_db)
# PostgreSQL has no NOT INDEXED; an expression over first_seen_at keeps the time indexes out of the plan.
_POSTGRES = _Dialect(
    "%s", "lower(t.name) = lower(%s)", "stories WHERE first_seen_at + interval '0 s'", lambda moment: moment
)


def _baselines(
    dialect: _Dialect, rng: random.Random, runs: int, topics: list[str], sample_ids: list[int], titles: list[str],
    word: Callable[[], str],
) -> dict[str, tuple[str, list[tuple[str, tuple[object, ...]]]]]:
    m = dialect.mark
    cutoff = dialect.cutoff(NOW - timedelta(hours=24))
    return {
        "topic": ("join + sort, planner's choice", [
            ("SELECT s.id FROM stories s JOIN story_topics st ON st.story_id = s.id JOIN topics t "
             f"ON t.id = st.topic_id WHERE {dialect.nocase} ORDER BY s.heat DESC LIMIT 5",
             (rng.choice(topics),)) for _ in range(runs)]),
        "topics": ("GROUP BY count", [
            ("SELECT t.name, count(*) AS n FROM story_topics st JOIN topics t ON t.id = st.topic_id "
             "GROUP BY t.id ORDER BY n DESC LIMIT 20", ()) for _ in range(runs)]),
        # The naive ranking scores every row (how many title words it shares), so it must read them all.
        "related": ("LIKE title words, ranked", [
            (f"SELECT id FROM stories WHERE id != {m} ORDER BY CAST(title LIKE {m} AS INTEGER) "
             f"+ CAST(title LIKE {m} AS INTEGER) DESC, heat DESC LIMIT 5",
             (i, f"%{t.split()[0]}%", f"%{t.split()[-1]}%"))
            for i, t in zip(sample_ids[:runs], titles, strict=False)]),
        "search": ("LIKE '%term%' scan, ranked", [
            (f"SELECT id FROM stories WHERE title LIKE {m} OR excerpt LIKE {m} ORDER BY (title LIKE {m}) DESC, "
             "heat DESC LIMIT 5", (f"%{w}%", f"%{w}%", f"%{w}%"))
            for w in (word() for _ in range(runs))]),
        "trending": ("full scan + sort", [
            (f"SELECT id FROM {dialect.unindexed_seen} >= {m} AND heat >= 0 "
             "ORDER BY heat DESC LIMIT 5", (cutoff,)) for _ in range(runs)]),
        "topic autocomplete": ("LIKE + GROUP BY count", [
            ("SELECT t.name, count(*) AS n FROM topics t JOIN story_topics st ON st.topic_id = t.id "
             f"WHERE t.name LIKE {m} GROUP BY t.id ORDER BY n DESC LIMIT 25", (f"%{rng.choice(topics)[:3]}%",))
            for _ in range(runs)]),
        "story autocomplete": ("title LIKE '%text%' scan", [
            (f"SELECT id, title FROM stories WHERE title LIKE {m} ORDER BY heat DESC LIMIT 25",
             (f"%{_typed_prefix(rng, t)}%",)) for t in titles[:runs]]),
    }


async def run(
    target: str | None, stories: int, runs: int, baseline_runs: int, seed: int, *, mmap: bool, drop: bool,
    database: str | None = None, build_only: bool = False,
) -> None:
    raw: Any
    if target is not None and parse_location(target).engine == "postgres":
        location = cached_postgres(target, stories, seed, database)
        if build_only:
            return
        assert location.url is not None
        raw = psycopg.connect(location.url, autocommit=True)
        _warm_postgres(raw)
        dialect = _POSTGRES
    else:
        path = cached_sqlite(None if target is None else Path(target), stories, seed)
        if build_only:
            return
        _warm(path)
        location = parse_location(path)
        raw = sqlite3.connect(path)
        dialect = _SQLITE
    rng = random.Random(seed + 1)
    store = await open_store(location)
    if mmap:
        # What the connection settings could add: SQLite reads pages straight from the OS cache instead of
        # copying each into its own 2 MB page cache (`PRAGMA mmap_size`).
        assert isinstance(store, SqliteStore), "--mmap is a SQLite setting"
        await store._database.conn.execute("PRAGMA mmap_size = 4294967296")
        await store._database.conn.execute("PRAGMA cache_size = -262144")
    service = LookupService(store.lookups, ManualClock(NOW))
    m = dialect.mark
    try:
        topics: list[str] = [r[0] for r in raw.execute("SELECT name FROM topics ORDER BY story_count DESC")]
        size = raw.execute("SELECT max(id) FROM stories").fetchone()[0]
        sample_ids = [rng.randint(1, size) for _ in range(runs)]
        titles = [raw.execute(f"SELECT title FROM stories WHERE id = {m}", (i,)).fetchone()[0] for i in sample_ids]
        words = _vocabulary(random.Random(seed))
        word = _Zipf(len(words), 1.05, rng)
        hostile = ['"quantum', "NEAR(ai cloud)", "power AND apps OR", "((data", "*", "title:cloud -ai", "the of a",
                   "a & b | !c ():", "'quantum' & !"]

        def pick_topic() -> str:
            # Half the lookups go to the 10 biggest topics, half anywhere (small topics are the slow case for
            # some plans, big ones for others).
            return rng.choice(topics[:10]) if rng.random() < 0.5 else rng.choice(topics)

        def search_text() -> str:
            if rng.random() < 0.05:
                return rng.choice(hostile)
            return " ".join(words[word()] for _ in range(rng.randint(1, 3)))

        hours_choices = [1, 6, 24, 72, 168, 720]
        cases: dict[str, list[Callable[[], Awaitable[object]]]] = {
            "topic": [
                partial(service.topic, pick_topic(), sort=rng.choice(["hot", "new"]), page=rng.choice([0, 0, 0, 1, 2]))
                for _ in range(runs)
            ],
            "topics": [partial(service.topics, page=rng.randint(0, 9)) for _ in range(runs)],
            "related": [partial(service.related, str(i)) for i in sample_ids],
            "search": [partial(service.search, search_text(), page=rng.choice([0, 0, 1])) for _ in range(runs)],
            "trending": [
                partial(
                    service.trending,
                    hours=rng.choice(hours_choices),
                    topic=pick_topic() if rng.random() < 0.3 else None,
                )
                for _ in range(runs)
            ],
            "topic autocomplete": [
                partial(service.topic_choices, rng.choice(topics)[: rng.randint(0, 5)]) for _ in range(runs)
            ],
            "story autocomplete": [
                partial(service.story_choices, "" if rng.random() < 0.05 else _typed_prefix(rng, title))
                for title in titles
            ],
        }
        baselines = _baselines(dialect, rng, baseline_runs, topics, sample_ids, titles, lambda: words[word()])
        for calls in cases.values():  # warm the caches and the connection(s)
            await _time_calls(calls[:5])
        if dialect is _SQLITE:
            settings = "mmap_size 4 GB, cache 256 MB" if mmap else "default connection settings"
        else:
            settings = f"PostgreSQL {raw.info.server_version // 10000}, {location}"
        print(f"\n{stories:,} stories · {runs} calls per lookup · baseline {baseline_runs} queries each · {settings}")
        print(f"{'lookup':<20} {'p50 ms':>8} {'p99 ms':>8}   {'baseline':<30} {'p50 ms':>9} {'p99 ms':>9} {'ratio':>7}")
        for name, calls in cases.items():
            p50, p99 = _percentiles(await _time_calls(calls))
            label, queries = baselines[name]
            b50, b99 = _percentiles(_time_sync(raw, queries))
            verdict = "" if p99 <= 10 else "  over 10 ms"
            print(f"{name:<20} {p50:8.2f} {p99:8.2f}   {label:<30} {b50:9.2f} {b99:9.2f} {b50 / p50:6.1f}x{verdict}")
    finally:
        raw.close()
        await store.close()
    if drop and target is not None and location.engine == "postgres":
        drop_postgres(target, location)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="a SQLite file path, or a postgresql:// URL of a server (default: bench/.data/)")
    parser.add_argument("--stories", type=int, default=1_000_000, help="stories in the synthetic store")
    parser.add_argument("--runs", type=int, default=400, help="timed service calls per lookup")
    parser.add_argument("--baseline-runs", type=int, default=10, help="timed naive queries per lookup")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mmap", action="store_true", help="also set PRAGMA mmap_size/cache_size (SQLite only)")
    parser.add_argument("--drop", action="store_true", help="PostgreSQL: drop the benchmark database afterwards")
    parser.add_argument("--database", help="PostgreSQL: the benchmark database's name (default: by size and seed)")
    parser.add_argument("--build-only", action="store_true", help="build (or find) the store, time nothing")
    args = parser.parse_args(argv)
    asyncio.run(run(args.db, args.stories, args.runs, args.baseline_runs, args.seed, mmap=args.mmap, drop=args.drop,
                    database=args.database, build_only=args.build_only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
