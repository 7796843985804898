"""Lookup latency at scale: p50/p99 of every lookup's service call over a synthetic store, with a naive baseline.

    .venv/bin/python bench/commands.py                 # 1,000,000 stories (builds once, ~3 min, cached)
    .venv/bin/python bench/commands.py --stories 100000

The database is written directly (bulk INSERTs, FTS rebuilt once at the end) rather than through the
ingester: this measures reads, and the ingester has its own benchmark. It is cached under bench/.data/ by
size and seed, so re-runs only time the queries.
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
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bot.clock import ManualClock  # noqa: E402
from bot.errors import HeatwaveError  # noqa: E402
from bot.services.lookups import LookupService  # noqa: E402
from db import Database  # noqa: E402
from db.connection import connect_sync  # noqa: E402
from db.lookups import LookupRepository  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.timefmt import to_db  # noqa: E402

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


def build_database(path: Path, stories: int, *, seed: int = 7) -> None:
    """Write `stories` synthetic stories (with ~200 skewed topics and related lists) into a migrated database."""
    rng = random.Random(seed)
    words = _vocabulary(rng)
    word = _Zipf(len(words), 1.05, rng)
    topics = _topic_names()
    topic = _Zipf(len(topics), 1.2, rng)
    domains = [f"{w}{rng.choice(['news', 'daily', 'times', 'wire', 'tech'])}.com" for w in words[:500]]
    domain = _Zipf(len(domains), 1.1, rng)

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
                     [(i + 1, n.casefold(), n) for i, n in enumerate(topics)])

    def text(lo: int, hi: int) -> str:
        return " ".join(words[word()] for _ in range(rng.randint(lo, hi)))

    def rows() -> Iterator[tuple[object, ...]]:
        for i in range(1, stories + 1):
            first_seen = NOW - SPREAD * rng.random()
            published = first_seen - timedelta(hours=rng.random() * 48)
            roll = rng.random()
            heat = -1 if roll < 0.03 else None if roll < 0.05 else int(rng.gammavariate(6, 13))
            dom = domains[domain()]
            url = f"https://{dom}/{published:%Y/%m/%d}/story-{i}"
            yield (
                i, url, text(6, 12).capitalize(), text(20, 40) + ".", to_db(published),
                "video" if rng.random() < 0.08 else "article", dom.split(".")[0].title(), dom, url,
                f"https://img.{dom}/{i}.jpg", heat, None if heat is None else max(heat - rng.choice([0, 0, 10]), 0),
                f"h{i}", f"news/{i}.md", to_db(first_seen), to_db(first_seen),
            )

    batch: list[tuple[object, ...]] = []
    insert = (
        "INSERT INTO stories (id, url, title, excerpt, published_at, kind, provider_name, provider_domain, "
        "link_url, image_url, heat, quality, content_hash, source_path, first_seen_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    keys: list[tuple[object, object, object]] = []
    for row in rows():
        keys.append((row[10], row[4], row[14]))
        batch.append(row)
        if len(batch) == 20_000:
            conn.executemany(insert, batch)
            batch.clear()
    conn.executemany(insert, batch)

    links: list[tuple[object, ...]] = []
    related: list[tuple[object, ...]] = []
    for story_id in range(1, stories + 1):
        chosen = dict.fromkeys(topic() for _ in range(rng.choice([1, 1, 1, 2, 2, 3])))
        heat, published, first_seen = keys[story_id - 1]
        links.extend((story_id, t + 1, pos, heat, published, first_seen) for pos, t in enumerate(chosen))
        if rng.random() < 0.08:
            for pos in range(rng.randint(1, 5)):
                # A third of related entries point at a story we have (by its normalised URL), like a real feed.
                if rng.random() < 0.33:
                    other = rng.randint(1, stories)
                    url = f"ours:{other}"
                else:
                    url = f"https://elsewhere.example/{story_id}/{pos}"
                related.append((story_id, pos, url, url, text(6, 10), text(15, 25), None, "Elsewhere",
                                "elsewhere.example", 50, None))
    # The sort keys 0003 copies onto story_topics are written directly, since its triggers are off for the load.
    conn.executemany(
        "INSERT INTO story_topics (story_id, topic_id, position, heat, published_at, first_seen_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        links,
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
    for _name, sql in triggers:
        conn.execute(sql)
    conn.execute("COMMIT")
    for table in ("stories_fts", "titles_fts"):
        conn.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
    conn.execute("ANALYZE")
    conn.close()


def cached_database(stories: int, seed: int) -> Path:
    """The benchmark database for this size and seed, built on first use."""
    folder = PROJECT_ROOT / "bench" / ".data"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"commands-{stories}-{seed}.db"
    if not path.exists():
        partial = path.with_name(path.stem + ".partial.db")
        for leftover in folder.glob(partial.name + "*"):
            leftover.unlink()
        started = time.perf_counter()
        print(f"building {stories:,} stories into {path} ...", flush=True)
        build_database(partial, stories, seed=seed)
        partial.rename(path)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    return path


# ----- timing --------------------------------------------------------------------------------------------------


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


def _time_sync(conn: sqlite3.Connection, queries: list[tuple[str, tuple[object, ...]]]) -> list[float]:
    samples = []
    for sql, params in queries:
        started = time.perf_counter()
        conn.execute(sql, params).fetchall()
        samples.append(time.perf_counter() - started)
    return samples


def _typed_prefix(rng: random.Random, title: str) -> str:
    # Someone typing a title: the first few words, the last one possibly unfinished.
    words = title.split()
    count = rng.randint(1, min(4, len(words)))
    typed = words[:count]
    typed[-1] = typed[-1][: rng.randint(1, len(typed[-1]))]
    return " ".join(typed)


def _warm(path: Path) -> None:
    # A running bot's database sits in the OS page cache; read it once so the first timed queries do not
    # measure the disk instead of the queries (a cold first read of a 1.5 GB file takes seconds).
    with path.open("rb") as file:
        while file.read(1 << 22):
            pass


async def run(stories: int, runs: int, baseline_runs: int, seed: int, *, mmap: bool) -> None:
    path = cached_database(stories, seed)
    _warm(path)
    rng = random.Random(seed + 1)
    database = await Database.open(path)
    if mmap:
        # What the connection settings could add: SQLite reads pages straight from the OS cache instead of
        # copying each into its own 2 MB page cache (`PRAGMA mmap_size`).
        await database.conn.execute("PRAGMA mmap_size = 4294967296")
        await database.conn.execute("PRAGMA cache_size = -262144")
    service = LookupService(LookupRepository(database), ManualClock(NOW))
    raw = sqlite3.connect(path)
    try:
        topics: list[str] = [r[0] for r in raw.execute("SELECT name FROM topics ORDER BY story_count DESC")]
        size = raw.execute("SELECT max(id) FROM stories").fetchone()[0]
        sample_ids = [rng.randint(1, size) for _ in range(runs)]
        titles = [raw.execute("SELECT title FROM stories WHERE id = ?", (i,)).fetchone()[0] for i in sample_ids]
        words = _vocabulary(random.Random(seed))
        word = _Zipf(len(words), 1.05, rng)
        hostile = ['"quantum', "NEAR(ai cloud)", "power AND apps OR", "((data", "*", "title:cloud -ai", "the of a"]

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
        cutoff = to_db(NOW - timedelta(hours=24))
        baselines: dict[str, tuple[str, list[tuple[str, tuple[object, ...]]]]] = {
            "topic": ("join + sort, planner's choice", [
                ("SELECT s.id FROM stories s JOIN story_topics st ON st.story_id = s.id JOIN topics t "
                 "ON t.id = st.topic_id WHERE t.name = ? COLLATE NOCASE ORDER BY s.heat DESC LIMIT 5",
                 (rng.choice(topics),)) for _ in range(baseline_runs)]),
            "topics": ("GROUP BY count", [
                ("SELECT t.name, count(*) AS n FROM story_topics st JOIN topics t ON t.id = st.topic_id "
                 "GROUP BY t.id ORDER BY n DESC LIMIT 20", ()) for _ in range(baseline_runs)]),
            # The naive ranking scores every row (how many title words it shares), so it must read them all.
            "related": ("LIKE title words, ranked", [
                ("SELECT id FROM stories WHERE id != ? ORDER BY (title LIKE ?) + (title LIKE ?) DESC, heat DESC "
                 "LIMIT 5", (i, f"%{t.split()[0]}%", f"%{t.split()[-1]}%"))
                for i, t in zip(sample_ids[:baseline_runs], titles, strict=False)]),
            "search": ("LIKE '%term%' scan, ranked", [
                ("SELECT id FROM stories WHERE title LIKE ? OR excerpt LIKE ? ORDER BY (title LIKE ?) DESC, "
                 "heat DESC LIMIT 5", (f"%{w}%", f"%{w}%", f"%{w}%"))
                for w in (words[word()] for _ in range(baseline_runs))]),
            "trending": ("full scan + sort", [
                ("SELECT id FROM stories NOT INDEXED WHERE first_seen_at >= ? AND heat >= 0 "
                 "ORDER BY heat DESC LIMIT 5", (cutoff,)) for _ in range(baseline_runs)]),
            "topic autocomplete": ("LIKE + GROUP BY count", [
                ("SELECT t.name, count(*) AS n FROM topics t JOIN story_topics st ON st.topic_id = t.id "
                 "WHERE t.name LIKE ? GROUP BY t.id ORDER BY n DESC LIMIT 25", (f"%{rng.choice(topics)[:3]}%",))
                for _ in range(baseline_runs)]),
            "story autocomplete": ("title LIKE '%text%' scan", [
                ("SELECT id, title FROM stories WHERE title LIKE ? ORDER BY heat DESC LIMIT 25",
                 (f"%{_typed_prefix(rng, t)}%",)) for t in titles[:baseline_runs]]),
        }
        for calls in cases.values():  # warm the page cache and aiosqlite's thread
            await _time_calls(calls[:5])
        settings = "mmap_size 4 GB, cache 256 MB" if mmap else "default connection settings"
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
        await database.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=1_000_000, help="stories in the synthetic store")
    parser.add_argument("--runs", type=int, default=400, help="timed service calls per lookup")
    parser.add_argument("--baseline-runs", type=int, default=10, help="timed naive queries per lookup")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mmap", action="store_true", help="also set PRAGMA mmap_size/cache_size on the connection")
    args = parser.parse_args(argv)
    asyncio.run(run(args.stories, args.runs, args.baseline_runs, args.seed, mmap=args.mmap))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
