"""The ingester's store on both engines, driven by the real pipeline: same files in, same outcomes and contents out.

Contents are checked with plain SQL that reads the same on both engines (no placeholders, no timestamps).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

import bot.ingest.parse as parse_module
from bot.cli import main
from bot.clock import ManualClock
from bot.ingest.pipeline import IngestReport, ingest_paths
from db import DatabaseError, StoreLocation, open_ingest_store, parse_location
from db.ingest_rows import ScannedFile, StoryRow
from db.models import StoreStats
from db.text import index_words
from tests.conftest import CORPUS_DIR
from tests.support.permissions import locked, permissions_enforced
from tests.support.pg import private_schema, require_server
from tests.support.seed import NOW, SeedRelated, SeedStory, story_row
from tests.support.story_files import DROP, write_raw, write_story

MAX = 1 << 20
# The console script installed beside the interpreter running the tests.
HEATWAVE = Path(sys.executable).parent / "heatwave"


def ingest(paths: list[Path], location: StoreLocation, clock: ManualClock) -> IngestReport:
    clock.advance(timedelta(minutes=1))
    return ingest_paths(paths, location, clock=clock, max_file_bytes=MAX)


def counts(report: IngestReport) -> tuple[int, int, int, int, int, int]:
    return (report.scanned, report.added, report.updated, report.unchanged, report.duplicates, len(report.rejected))


def rows(location: StoreLocation, sql: str) -> list[tuple[object, ...]]:
    if location.engine == "sqlite":
        assert location.path is not None
        with closing(sqlite3.connect(location.path)) as conn:
            return conn.execute(sql).fetchall()
    assert location.url is not None
    with psycopg.connect(location.url) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def test_new_duplicate_and_rejected_files(tmp_path: Path, location: StoreLocation, clock: ManualClock) -> None:
    news = tmp_path / "news"
    write_story(news / "a-newer.md", title="Newer copy", publishedDateTime="2021-04-01T00:00:00Z")
    write_story(news / "b-older.md", title="Older copy", publishedDateTime="2021-03-01T00:00:00Z")
    write_story(news / "c.md", webUrl="https://news.example.com/c", topics=["ai", "Robots"], heat=-1)
    write_story(
        news / "d.md",
        webUrl="https://news.example.com/d",
        heat=DROP,
        related=[{"title": "R", "webUrl": "https://r.x/1"}],
    )
    write_story(news / "no-title.md", title=DROP, webUrl="https://news.example.com/x")

    report = ingest([news], location, clock)

    assert counts(report) == (5, 3, 0, 0, 1, 1)
    assert rows(location, "SELECT url, title FROM stories ORDER BY url") == [
        ("https://news.example.com/c", "Solar farm doubles output with AI-guided panels"),
        ("https://news.example.com/d", "Solar farm doubles output with AI-guided panels"),
        ("https://news.example.com/solar-farm", "Newer copy"),
    ]
    assert rows(location, "SELECT key, name, story_count FROM topics ORDER BY key") == [
        ("ai", "AI", 3),
        ("energy", "Energy", 2),
        ("robots", "Robots", 1),
    ]
    assert rows(location, "SELECT url FROM related_entries") == [("https://r.x/1",)]
    assert rows(location, "SELECT count(*) FROM source_files") == [(5,)]
    stats = _stats(location)
    assert (stats.stories, stats.topics, stats.heat_min, stats.heat_max, stats.suppressed, stats.unknown_heat) == (
        3,
        3,
        94,
        94,
        1,
        1,
    )
    assert stats.last_run is not None
    assert (stats.last_run.scanned, stats.last_run.added, stats.last_run.duplicates, stats.last_run.rejected) == (
        5,
        3,
        1,
        1,
    )
    assert stats.last_run.finished_at == clock.now()
    assert [(f.path, f.reason) for f in stats.rejected_files] == [(str(news / "no-title.md"), "missing title")]


def test_reingest_changes_nothing(tmp_path: Path, location: StoreLocation, clock: ManualClock) -> None:
    news = tmp_path / "news"
    for index in range(5):
        write_story(news / f"{index}.md", webUrl=f"https://news.example.com/{index}")
    write_story(news / "copy.md", webUrl="https://news.example.com/0")
    ingest([news], location, clock)
    query = "SELECT id, url, title, heat, source_path FROM stories ORDER BY id"
    before = rows(location, query), rows(location, "SELECT story_id, heat, previous_heat FROM heat_history")

    report = ingest([news], location, clock)
    # Rewritten with the same content and a fresh mtime: read again, still unchanged.
    write_story(news / "3.md", webUrl="https://news.example.com/3", secured="bmV3;bmV3", crlf=True)
    reread = ingest([news], location, clock)

    assert counts(report) == (6, 0, 0, 6, 0, 0)
    assert counts(reread) == (6, 0, 0, 6, 0, 0)
    assert (rows(location, query), rows(location, "SELECT story_id, heat, previous_heat FROM heat_history")) == before
    assert rows(location, "SELECT count(*) FROM ingest_runs") == [(3,)]


def test_heat_change_lands_in_heat_history(tmp_path: Path, location: StoreLocation, clock: ManualClock) -> None:
    path = write_story(tmp_path / "a.md")
    ingest([path], location, clock)
    write_story(path, heat=120, title="Solar farm triples output", topics=["Energy", "Climate"])
    updated = ingest([path], location, clock)
    write_story(path, heat=120, title="Solar farm triples output", excerpt="Same heat.", topics=["Energy", "Climate"])
    no_move = ingest([path], location, clock)

    assert counts(updated) == counts(no_move) == (1, 0, 1, 0, 0, 0)
    assert rows(location, "SELECT title, excerpt, heat FROM stories") == [
        ("Solar farm triples output", "Same heat.", 120)
    ]
    assert rows(location, "SELECT heat, previous_heat FROM heat_history ORDER BY id") == [(94, None), (120, 94)]
    assert rows(location, "SELECT name, story_count FROM topics ORDER BY name") == [
        ("AI", 0),
        ("Climate", 1),
        ("Energy", 1),
    ]


def test_duplicates_across_runs(tmp_path: Path, location: StoreLocation, clock: ManualClock) -> None:
    first = write_story(tmp_path / "a.md", title="Original", publishedDateTime="2021-04-01T00:00:00Z")
    ingest([first], location, clock)
    older = write_story(tmp_path / "b.md", title="Stale copy", publishedDateTime="2021-03-01T00:00:00Z")
    newer = write_story(tmp_path / "c.md", title="Fresh copy", publishedDateTime="2021-05-01T00:00:00Z", heat=99)

    assert counts(ingest([older], location, clock)) == (1, 0, 0, 0, 1, 0)
    assert rows(location, "SELECT title FROM stories") == [("Original",)]
    assert counts(ingest([newer], location, clock)) == (1, 0, 0, 0, 1, 0)
    assert rows(location, "SELECT title, source_path FROM stories") == [("Fresh copy", str(newer))]
    assert rows(location, "SELECT count(DISTINCT story_id) FROM source_files") == [(1,)]
    assert rows(location, "SELECT heat, previous_heat FROM heat_history ORDER BY id") == [(94, None), (99, 94)]


def test_duplicates_within_one_batch(tmp_path: Path, location: StoreLocation, clock: ManualClock) -> None:
    news = tmp_path / "news"
    # One URL in three files, the later ones winning (newer date, then later path); another URL in two
    # identical files, where only the path moves.
    write_story(news / "1.md", title="First", publishedDateTime="2021-03-01T00:00:00Z", heat=10)
    write_story(news / "2.md", title="Second", publishedDateTime="2021-04-01T00:00:00Z", heat=20)
    write_story(news / "3.md", title="Third", publishedDateTime="2021-04-01T00:00:00Z", heat=20, topics=["Solar"])
    write_story(news / "4.md", webUrl="https://news.example.com/same")
    write_story(news / "5.md", webUrl="https://news.example.com/same")

    report = ingest([news], location, clock)

    assert counts(report) == (5, 2, 0, 0, 3, 0)
    assert rows(location, "SELECT title, heat, source_path FROM stories ORDER BY id") == [
        ("Third", 20, str(news / "3.md")),
        ("Solar farm doubles output with AI-guided panels", 94, str(news / "5.md")),
    ]
    assert rows(location, "SELECT story_id, heat, previous_heat FROM heat_history ORDER BY id") == [
        (1, 10, None),
        (1, 20, 10),
        (2, 94, None),
    ]
    assert rows(location, "SELECT name, story_count FROM topics ORDER BY name") == [
        ("AI", 1),
        ("Energy", 1),
        ("Solar", 1),
    ]
    # The next run finds every file as stored: nothing to do.
    assert counts(ingest([news], location, clock)) == (5, 0, 0, 5, 0, 0)


def test_stored_story_changed_twice_in_one_batch(tmp_path: Path, location: StoreLocation, clock: ManualClock) -> None:
    write_story(tmp_path / "a" / "1.md", title="Original", publishedDateTime="2021-04-01T00:00:00Z")
    ingest([tmp_path / "a"], location, clock)
    news = tmp_path / "b"
    # Both newer than the stored copy: 2.md replaces it, then 3.md (same content, later path) takes it over.
    write_story(news / "2.md", title="Revised", publishedDateTime="2021-05-01T00:00:00Z", heat=100, topics=["Solar"])
    write_story(news / "3.md", title="Revised", publishedDateTime="2021-05-01T00:00:00Z", heat=100, topics=["Solar"])
    write_story(news / "4.md", title="Revised again", publishedDateTime="2021-06-01T00:00:00Z", heat=120)

    report = ingest([news], location, clock)

    assert counts(report) == (3, 0, 1, 0, 2, 0)
    assert rows(location, "SELECT title, heat, source_path FROM stories") == [
        ("Revised again", 120, str(news / "4.md"))
    ]
    assert rows(location, "SELECT heat, previous_heat FROM heat_history ORDER BY id") == [
        (94, None),
        (100, 94),
        (120, 100),
    ]
    assert rows(location, "SELECT name, story_count FROM topics ORDER BY name") == [
        ("AI", 1),
        ("Energy", 1),
        ("Solar", 0),
    ]


def test_rejected_file_fixed_then_deleted(tmp_path: Path, location: StoreLocation, clock: ManualClock) -> None:
    news = tmp_path / "news"
    path = write_story(news / "a.md", heat="very")
    assert counts(ingest([news], location, clock)) == (1, 0, 0, 0, 0, 1)
    write_story(path)
    assert counts(ingest([news], location, clock)) == (1, 1, 0, 0, 0, 0)
    assert rows(location, "SELECT rejected_reason FROM source_files") == [(None,)]
    path.unlink()

    assert counts(ingest([news], location, clock)) == (0, 0, 0, 0, 0, 0)
    assert rows(location, "SELECT count(*) FROM source_files") == [(0,)]
    assert rows(location, "SELECT count(*) FROM stories") == [(1,)]


def test_unreadable_folder_is_a_rejection_until_it_can_be_read(
    tmp_path: Path, location: StoreLocation, clock: ManualClock
) -> None:
    news = tmp_path / "news"
    write_story(news / "good.md", webUrl="https://news.example.com/good")
    private = news / "private"
    write_story(private / "inside.md", webUrl="https://news.example.com/inside")
    write_raw(private / "bad.md", b"no front matter")
    assert counts(ingest([news], location, clock)) == (3, 2, 0, 0, 0, 1)
    denied = (str(private), "cannot list the folder: Permission denied")

    with locked(private), permissions_enforced():
        with pytest.raises(PermissionError):
            os.listdir(private)
        first = ingest([news], location, clock)
        again = ingest([news], location, clock)
        stats_locked = _stats(location)

    # Reported like any rejected file, run after run, and what the store lists agrees with what it counts.
    for report in (first, again):
        assert counts(report) == (2, 0, 0, 1, 0, 1)
        assert [(item.path, item.reason) for item in report.rejected] == [denied]
    assert stats_locked.last_run is not None
    assert stats_locked.last_run.rejected == 1
    # What the folder hides is unknown, not gone: its rejected file is still listed from the run that read it.
    assert [(f.path, f.reason) for f in stats_locked.rejected_files] == [
        denied,
        (str(private / "bad.md"), "no front matter: the file must start with a `---` line"),
    ]

    readable = ingest([news], location, clock)

    assert counts(readable) == (3, 0, 0, 2, 0, 1)
    assert [f.path for f in _stats(location).rejected_files] == [str(private / "bad.md")]
    assert rows(location, "SELECT count(*) FROM stories") == [(2,)]


def test_story_ids_and_known_files(tmp_path: Path, location: StoreLocation, clock: ManualClock) -> None:
    news = tmp_path / "news"
    write_story(news / "a.md", webUrl="https://news.example.com/a")
    write_story(news / "b.md", webUrl="https://news.example.com/b")
    write_raw(news / "bad.md", b"no front matter")
    ingest([news], location, clock)

    with open_ingest_store(location) as store:
        ids = store.story_ids(["https://news.example.com/b", "https://news.example.com/a", "https://nowhere.x/"])
        known = store.known_files()
        assert store.story_ids([]) == {}

    assert ids == {"https://news.example.com/a": 1, "https://news.example.com/b": 2}
    assert sorted(known) == [str(news / name) for name in ("a.md", "b.md", "bad.md")]
    assert known[str(news / "a.md")].size == (news / "a.md").stat().st_size
    assert known[str(news / "bad.md")].rejected_reason is not None


def test_seeded_story_keeps_first_seen_and_topic_sort_keys(location: StoreLocation) -> None:
    story = SeedStory(title="Seeded", url="https://seed.example/1", topics=("AI", "Energy"))
    with open_ingest_store(location) as store:
        for at, heat in ((NOW, 80), (NOW + timedelta(hours=1), 130)):
            run = store.begin_run(at)
            run.write_batch([ScannedFile("/seed/1.md", 10, 1, story_row(replace(story, heat=heat)))], now=at)
            done = run.finish(scanned=1, finished_at=at)
            assert (done.added, done.updated) == ((1, 0) if heat == 80 else (0, 1))

    assert rows(location, "SELECT heat FROM stories") == [(130,)]
    assert rows(location, "SELECT heat, previous_heat FROM heat_history ORDER BY id") == [(80, None), (130, 80)]
    if location.engine == "postgres":
        # The PostgreSQL lookups sort a topic's stories by the copies kept on each link.
        assert rows(
            location,
            "SELECT DISTINCT s.first_seen_at = l.first_seen_at, l.heat FROM story_topics l "
            "JOIN stories s ON s.id = l.story_id",
        ) == [(True, 130)]
        titled = "SELECT title_words FROM stories WHERE title_search @@ 'seeded'::tsquery"
        assert rows(location, titled) == [("seeded",)]


def test_postgres_indexes_the_words_of_db_text() -> None:
    titles = ["Hello_World: A.I. 3-D printing, 2024!", "Café Ünïcode ½ ﬁnal straße", "ＦＵＬＬ width İstanbul"]
    with private_schema() as url:
        location = parse_location(url)
        with open_ingest_store(location) as store:
            run = store.begin_run(NOW)
            run.write_batch(
                [
                    ScannedFile(
                        f"/seed/{n}.md", 1, 1, story_row(SeedStory(title=title, url=f"https://seed.example/{n}"))
                    )
                    for n, title in enumerate(titles)
                ],
                now=NOW,
            )
        stored = rows(location, "SELECT title, title_words FROM stories ORDER BY id")

    assert stored == [(title, index_words(title)) for title in titles]


def test_stats_without_a_store_asks_for_an_ingest(tmp_path: Path, location: StoreLocation) -> None:
    with pytest.raises(DatabaseError, match=r"run `heatwave ingest PATH` first"):
        open_ingest_store(location, create=False)
    if location.engine == "postgres":
        assert rows(location, "SELECT to_regclass('stories') IS NULL, to_regclass('schema_version') IS NULL") == [
            (True, True)
        ]


def test_postgres_lost_connection_is_one_masked_line(tmp_path: Path) -> None:
    secret = "pw-s3cret-123"
    with private_schema() as url:
        location = parse_location(url.replace("postgres@", f"postgres:{secret}@", 1))
        row = story_row(SeedStory(title="x", url="https://seed.example/x"))
        with open_ingest_store(location) as store:
            run = store.begin_run(NOW)
            # A server restart, as far as this connection can tell.
            backend = store._conn.info.backend_pid  # type: ignore[attr-defined]
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
            with pytest.raises(DatabaseError) as caught:
                run.write_batch([ScannedFile("/seed/x.md", 1, 1, row)], now=NOW)
    message = str(caught.value)
    assert message.startswith("cannot write to the database postgresql://postgres:***@")
    assert secret not in message
    assert "\n" not in message


def test_two_ingest_processes_on_one_postgres_database(tmp_path: Path) -> None:
    shared, left, right = tmp_path / "shared", tmp_path / "left", tmp_path / "right"
    for index in range(300):
        write_story(shared / f"{index}.md", webUrl=f"https://news.example.com/shared/{index}")
        write_story(left / f"{index}.md", webUrl=f"https://news.example.com/left/{index}")
        # The same stories under another path in the other folder: one URL, two files, two processes.
        write_story(right / f"{index}.md", webUrl=f"https://news.example.com/left/{index}")
        write_story(right / f"own-{index}.md", webUrl=f"https://news.example.com/right/{index}")
    with private_schema() as url:
        location = parse_location(url)
        # Schema first: concurrent migrations are db/postgres/migrate.py's concern (and its test's).
        open_ingest_store(location).close()
        runs = [
            subprocess.Popen(
                [str(HEATWAVE), "ingest", str(folder), str(shared), "--db", url, "--json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for folder in (left, right)
        ]
        results = [run.communicate(timeout=120) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], results
        reports = [json.loads(out) for out, _ in results]

        assert sum(report["added"] for report in reports) == 900
        assert rows(location, "SELECT count(*), count(DISTINCT url) FROM stories") == [(900, 900)]
        assert rows(location, "SELECT count(*), count(DISTINCT story_id) FROM heat_history") == [(900, 900)]
        assert rows(location, "SELECT count(*) FROM source_files WHERE story_id IS NOT NULL") == [(1200,)]
        # Whichever process came first, the later path holds each story it shares with the other folder.
        assert rows(
            location, "SELECT count(*) FROM stories WHERE url LIKE '%/left/%' AND source_path LIKE '%/right/%'"
        ) == [(300,)]
        assert rows(location, "SELECT story_count FROM topics ORDER BY key") == [(900,), (900,)]


_WRITER = """
import sys
import time
from datetime import UTC, datetime
from db import open_ingest_store, parse_location
from db.ingest_rows import ScannedFile, StoryRow
from tests.support.seed import SeedStory, story_row

name, url, heat, day, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
published = datetime(2021, 4, day, tzinfo=UTC)
files = [
    ScannedFile(f"/{name}/{n}.md", 1, 1, story_row(SeedStory(
        title=f"{name} {n}", url=f"https://news.example/{n}", heat=heat, published_at=published)))
    for n in range(400)
]
with open_ingest_store(parse_location(url)) as store:
    time.sleep(max(0.0, start_at - time.time()))  # both processes start writing at the same moment
    run = store.begin_run(datetime.now(UTC))
    for start in range(0, len(files), 5):
        run.write_batch(files[start : start + 5], now=datetime.now(UTC))
    print(run.finish(scanned=len(files), finished_at=datetime.now(UTC)).added)
"""


def test_two_writers_in_small_batches_never_duplicate_or_lose_a_heat_change() -> None:
    with private_schema() as url:
        location = parse_location(url)
        open_ingest_store(location).close()
        # The same 400 URLs from two processes, 80 transactions each; the newer copies ("b") always win.
        start_at = str(time.time() + 1.5)
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", _WRITER, name, url, heat, day, start_at],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parents[2],
            )
            for name, heat, day in (("a", "50", "1"), ("b", "90", "2"))
        ]
        results = [writer.communicate(timeout=120) for writer in writers]
        assert [writer.returncode for writer in writers] == [0, 0], results

        assert sum(int(out) for out, _ in results) == 400
        assert rows(location, "SELECT count(*), count(DISTINCT url), min(heat), max(heat) FROM stories") == [
            (400, 400, 90, 90)
        ]
        assert rows(location, "SELECT count(*) FROM stories WHERE title LIKE 'b %'") == [(400,)]
        # Every story's latest heat_history row is its current heat: no change was lost.
        assert rows(
            location,
            "SELECT count(*) FROM stories s WHERE s.heat = "
            "(SELECT h.heat FROM heat_history h WHERE h.story_id = s.id ORDER BY h.id DESC LIMIT 1)",
        ) == [(400,)]


@pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"shared corpus not found at {CORPUS_DIR}")
def test_corpus_on_postgres_matches_sqlite(tmp_path: Path, clock: ManualClock) -> None:
    require_server()
    sqlite_location = parse_location(tmp_path / "corpus.db")
    sqlite_report = ingest([CORPUS_DIR], sqlite_location, clock)
    with private_schema() as url:
        pg_location = parse_location(url)
        pg_report = ingest([CORPUS_DIR], pg_location, clock)
        pg_stats = _stats(pg_location)

    assert pg_report.rejected == ()
    assert counts(pg_report) == counts(sqlite_report)
    assert pg_report.scanned > 250
    assert replace(_stats(sqlite_location), last_run=None) == replace(pg_stats, last_run=None)


def _stats(location: StoreLocation) -> StoreStats:
    with open_ingest_store(location, create=False) as store:
        return store.read_stats()


def test_a_row_the_database_refuses_costs_only_its_file(location: StoreLocation) -> None:
    # Past parse validation (a future field, an older parser): a 71-bit number fits neither engine's integers.
    good = [SeedStory(title=f"Good {n}", url=f"https://news.example.com/good-{n}") for n in range(3)]
    hot = SeedStory(title="Too hot", url="https://news.example.com/hot")
    related = SeedStory(
        title="Bad related",
        url="https://news.example.com/related",
        related=(SeedRelated("https://elsewhere.example/r"),),
    )

    def scanned(name: str, row: StoryRow) -> ScannedFile:
        return ScannedFile(f"/news/{name}.md", 10, 1, row)

    bad_related = story_row(related)
    bad_related = bad_related._replace(related=((*bad_related.related[0][:7], 2**70, None),))
    files = [
        scanned("a", story_row(good[0])),
        scanned("hot", story_row(hot)._replace(heat=2**70)),
        scanned("b", story_row(good[1])),
        scanned("related", bad_related),
        scanned("c", story_row(good[2])),
    ]
    with open_ingest_store(location) as store:
        run = store.begin_run(NOW)
        run.write_batch(files, now=NOW)
        run_counts = run.finish(scanned=5, finished_at=NOW)

    assert (run_counts.added, run_counts.rejected) == (3, 2)
    assert rows(location, "SELECT title, heat FROM stories ORDER BY title") == [
        ("Good 0", 80),
        ("Good 1", 80),
        ("Good 2", 80),
    ]
    assert rows(location, "SELECT story_count FROM topics") == [(3,)]
    assert rows(location, "SELECT count(*) FROM heat_history") == [(3,)]
    stats = _stats(location)
    refused = {f.path: f.reason for f in stats.rejected_files}
    assert sorted(refused) == ["/news/hot.md", "/news/related.md"]
    for reason in refused.values():
        assert reason.startswith("the database refused this story: "), reason
        assert len(reason) > len("the database refused this story: "), reason
    assert stats.last_run is not None
    assert stats.last_run.rejected == 2
    # The next rescan skips the refused files like any rejected one (their size and mtime are recorded).
    with open_ingest_store(location) as store:
        known = store.known_files()
    assert known["/news/hot.md"].rejected_reason == refused["/news/hot.md"]
    assert known["/news/a.md"].rejected_reason is None


def test_a_refused_update_keeps_the_stored_story(location: StoreLocation) -> None:
    story = SeedStory(title="Stored", url="https://news.example.com/stored", heat=70)
    other = SeedStory(title="Other", url="https://news.example.com/other")
    with open_ingest_store(location) as store:
        run = store.begin_run(NOW)
        run.write_batch([ScannedFile("/news/stored.md", 10, 1, story_row(story))], now=NOW)
        changed = story_row(replace(story, title="Changed"))._replace(heat=2**70)
        later = NOW + timedelta(minutes=1)
        run = store.begin_run(later)
        run.write_batch(
            [ScannedFile("/news/stored.md", 11, 2, changed), ScannedFile("/news/other.md", 10, 1, story_row(other))],
            now=later,
        )
        run_counts = run.counts()
    assert (run_counts.added, run_counts.updated, run_counts.rejected) == (1, 0, 1)
    assert rows(location, "SELECT title, heat FROM stories ORDER BY title") == [("Other", 80), ("Stored", 70)]


@pytest.mark.parametrize(
    ("parser_allows", "reason"),
    [
        # The parser's own range check names the field and the range.
        (False, "heat must be a whole number from -1 to 10000, got 9223372036854775808"),
        # Whatever the parser lets through, a row the database will not take costs only its own file.
        (True, "the database refused this story: "),
    ],
)
def test_ingest_command_rejects_a_number_out_of_range_and_stores_the_rest(
    tmp_path: Path,
    location: StoreLocation,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    parser_allows: bool,
    reason: str,
) -> None:
    if parser_allows:
        monkeypatch.setattr(parse_module, "HEAT_RANGE", (-1, 2**80))
    news = tmp_path / "news"
    write_story(news / "good.md", webUrl="https://news.example.com/good")
    write_raw(
        news / "hot.md",
        b"---\ntitle: Hot\nwebUrl: https://news.example.com/hot\n"
        b"publishedDateTime: 2021-03-31T07:00:00Z\nheat: 9223372036854775808\n---\n",
    )
    database = location.url if location.engine == "postgres" else str(location.path)
    assert database is not None

    assert main(["ingest", str(news), "--db", database]) == 1

    out = capsys.readouterr().out
    assert "1 new, 0 updated, 0 unchanged, 0 duplicates, 1 rejected." in out
    assert f"  {news / 'hot.md'}: {reason}" in out
    assert rows(location, "SELECT url FROM stories") == [("https://news.example.com/good",)]
