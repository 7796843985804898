"""The ingest pipeline against real SQLite files: counts, change detection, duplicates, incremental rescans."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from multiprocessing.pool import Pool
from pathlib import Path

import frontmatter
import pytest

from bot.clock import ManualClock
from bot.errors import InvalidArgument
from bot.ingest.pipeline import IngestReport, Rejection, ingest_paths
from bot.urls import normalize_url
from db import DatabaseError, open_ingest_store, parse_location
from tests.conftest import CORPUS_DIR
from tests.support.permissions import locked, permissions_enforced
from tests.support.story_files import DROP, set_age, write_raw, write_story

MAX = 1024 * 1024


def ingest(paths: list[Path], db_path: Path, clock: ManualClock, **kwargs: object) -> IngestReport:
    clock.advance(timedelta(minutes=1))
    return ingest_paths(paths, parse_location(db_path), clock=clock, max_file_bytes=MAX, **kwargs)  # type: ignore[arg-type]


@contextmanager
def opened(db_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(db_path)
    try:
        yield conn
    finally:
        conn.close()


def rows(db_path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with opened(db_path) as conn:
        return conn.execute(sql, args).fetchall()


def counts(report: IngestReport) -> tuple[int, int, int, int, int, int]:
    return (report.scanned, report.added, report.updated, report.unchanged, report.duplicates, len(report.rejected))


def test_ingest_paths_adds_new_stories(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    write_story(news / "a.md")
    write_story(news / "sub" / "b.md", webUrl="https://news.example.com/b", topics=["ai", "Robots"])
    write_raw(news / "notes.txt", b"ignored: not a .md file in a folder")

    report = ingest([news], db_path, clock)

    assert counts(report) == (2, 2, 0, 0, 0, 0)
    assert rows(db_path, "SELECT key, name, story_count FROM topics ORDER BY key") == [
        ("ai", "AI", 2),
        ("energy", "Energy", 1),
        ("robots", "Robots", 1),
    ]
    assert rows(db_path, "SELECT heat, previous_heat FROM heat_history") == [(94, None), (94, None)]
    assert rows(db_path, "SELECT count(*) FROM stories_fts WHERE stories_fts MATCH 'solar'") == [(2,)]


def test_ingest_paths_accepts_explicit_file_of_any_name(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    story = write_story(tmp_path / "story.txt")
    assert counts(ingest([story], db_path, clock)) == (1, 1, 0, 0, 0, 0)


def test_ingest_paths_second_run_changes_nothing(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    for index in range(5):
        write_story(news / f"{index}.md", webUrl=f"https://news.example.com/{index}")
    ingest([news], db_path, clock)
    before = rows(db_path, "SELECT * FROM stories ORDER BY id") + rows(db_path, "SELECT * FROM heat_history")
    files_before = rows(db_path, "SELECT * FROM source_files ORDER BY path")

    report = ingest([news], db_path, clock)

    assert counts(report) == (5, 0, 0, 5, 0, 0)
    assert rows(db_path, "SELECT * FROM stories ORDER BY id") + rows(db_path, "SELECT * FROM heat_history") == before
    assert rows(db_path, "SELECT * FROM source_files ORDER BY path") == files_before
    assert rows(db_path, "SELECT count(*) FROM ingest_runs") == [(2,)]


def test_ingest_paths_secured_and_line_ending_churn_is_unchanged(
    tmp_path: Path, db_path: Path, clock: ManualClock
) -> None:
    path = write_story(tmp_path / "a.md")
    ingest([path], db_path, clock)
    write_story(path, secured="bmV3;bmV3", crlf=True)

    report = ingest([path], db_path, clock)

    assert counts(report) == (1, 0, 0, 1, 0, 0)
    assert rows(db_path, "SELECT count(*) FROM heat_history") == [(1,)]


def test_ingest_paths_updates_changed_story(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    path = write_story(tmp_path / "a.md")
    ingest([path], db_path, clock)
    write_story(
        path,
        heat=120,
        title="Solar farm triples output",
        topics=["Energy", "Climate"],
        related=[{"title": "Related", "webUrl": "https://other.example.com/r"}],
    )

    report = ingest([path], db_path, clock)

    assert counts(report) == (1, 0, 1, 0, 0, 0)
    assert rows(db_path, "SELECT title, heat FROM stories") == [("Solar farm triples output", 120)]
    assert rows(db_path, "SELECT heat, previous_heat FROM heat_history ORDER BY id") == [(94, None), (120, 94)]
    assert rows(db_path, "SELECT name, story_count FROM topics ORDER BY name") == [
        ("AI", 0),
        ("Climate", 1),
        ("Energy", 1),
    ]
    assert rows(db_path, "SELECT url FROM related_entries") == [("https://other.example.com/r",)]
    assert rows(db_path, "SELECT count(*) FROM stories_fts WHERE stories_fts MATCH 'triples'") == [(1,)]


def test_ingest_paths_full_text_indexes_follow_every_write_of_a_batch(
    tmp_path: Path, db_path: Path, clock: ManualClock
) -> None:
    # Stories are written many rows per statement; the full-text triggers must index every row of such a
    # statement, and a later file of the same batch that replaces an earlier one must replace its words too.
    news = tmp_path / "news"
    for index in range(1_500):
        write_story(
            news / f"{index:04}.md", webUrl=f"https://news.example.com/{index}", title=f"Turbine {index} report"
        )
    # A later path wins the URL of story 7 with a newer date and a new title, within the same run.
    write_story(
        news / "zz-late.md",
        webUrl="https://news.example.com/7",
        title="Kestrel nests on turbine",
        publishedDateTime="2021-04-02T07:00:00Z",
    )

    report = ingest([news], db_path, clock, workers=2)

    assert counts(report) == (1_501, 1_500, 0, 0, 1, 0)
    with opened(db_path) as conn:
        for index in ("stories_fts", "titles_fts"):
            conn.execute(f"INSERT INTO {index} ({index}, rank) VALUES ('integrity-check', 1)")
        matches = conn.execute("SELECT count(*) FROM stories_fts WHERE stories_fts MATCH 'turbine'").fetchone()
        assert matches == (1_500,)
        assert conn.execute("SELECT count(*) FROM titles_fts WHERE titles_fts MATCH 'report'").fetchone() == (1_499,)
        kestrel = conn.execute(
            "SELECT s.url FROM titles_fts JOIN stories s ON s.id = titles_fts.rowid WHERE titles_fts MATCH 'kes*'"
        ).fetchall()
        assert kestrel == [("https://news.example.com/7",)]


def test_ingest_paths_change_without_heat_move_adds_no_history(
    tmp_path: Path, db_path: Path, clock: ManualClock
) -> None:
    path = write_story(tmp_path / "a.md")
    ingest([path], db_path, clock)
    write_story(path, excerpt="A new excerpt.")

    assert counts(ingest([path], db_path, clock)) == (1, 0, 1, 0, 0, 0)
    assert rows(db_path, "SELECT count(*) FROM heat_history") == [(1,)]


def test_ingest_paths_same_url_twice_is_one_story_newest_wins(
    tmp_path: Path, db_path: Path, clock: ManualClock
) -> None:
    news = tmp_path / "news"
    write_story(news / "a-newer.md", title="Newer copy", publishedDateTime="2021-04-01T00:00:00Z")
    write_story(news / "b-older.md", title="Older copy", publishedDateTime="2021-03-01T00:00:00Z")

    report = ingest([news], db_path, clock)

    assert counts(report) == (2, 1, 0, 0, 1, 0)
    assert rows(db_path, "SELECT title, source_path FROM stories") == [("Newer copy", str(news / "a-newer.md"))]


def test_ingest_paths_same_date_later_path_wins(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    write_story(news / "a.md", title="First path")
    write_story(news / "b.md", title="Later path")

    report = ingest([news], db_path, clock)

    assert counts(report) == (2, 1, 0, 0, 1, 0)
    assert rows(db_path, "SELECT title FROM stories") == [("Later path",)]
    assert rows(db_path, "SELECT count(*) FROM heat_history") == [(1,)]


def test_ingest_paths_duplicate_across_runs(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    first = write_story(tmp_path / "a.md", title="Original", publishedDateTime="2021-04-01T00:00:00Z")
    ingest([first], db_path, clock)
    older = write_story(tmp_path / "b.md", title="Stale copy", publishedDateTime="2021-03-01T00:00:00Z")
    newer = write_story(tmp_path / "c.md", title="Fresh copy", publishedDateTime="2021-05-01T00:00:00Z")

    assert counts(ingest([older], db_path, clock)) == (1, 0, 0, 0, 1, 0)
    assert rows(db_path, "SELECT title FROM stories") == [("Original",)]
    assert counts(ingest([newer], db_path, clock)) == (1, 0, 0, 0, 1, 0)
    assert rows(db_path, "SELECT title FROM stories") == [("Fresh copy",)]
    assert rows(db_path, "SELECT count(DISTINCT story_id) FROM source_files") == [(1,)]


def test_ingest_paths_own_source_update_always_applies(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    path = write_story(tmp_path / "a.md", publishedDateTime="2021-04-01T00:00:00Z")
    ingest([path], db_path, clock)
    write_story(path, publishedDateTime="2020-01-01T00:00:00Z", heat=50)

    assert counts(ingest([path], db_path, clock)) == (1, 0, 1, 0, 0, 0)
    assert rows(db_path, "SELECT heat, published_at FROM stories") == [(50, "2020-01-01T00:00:00.000000+00:00")]


def test_ingest_paths_path_reused_for_another_url(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    path = write_story(tmp_path / "a.md", title="Bean to bar (ibtimes)", webUrl="https://ibtimes.example.com/bean")
    ingest([path], db_path, clock)
    write_story(path, title="Bean to bar (voanews)", webUrl="https://voanews.example.com/bean")

    report = ingest([path], db_path, clock)

    assert counts(report) == (1, 1, 0, 0, 0, 0)
    # The earlier story stays (it may already have been announced); the file now feeds the new one.
    assert rows(db_path, "SELECT url FROM stories ORDER BY id") == [
        ("https://ibtimes.example.com/bean",),
        ("https://voanews.example.com/bean",),
    ]
    assert rows(db_path, "SELECT s.url FROM source_files f JOIN stories s ON s.id = f.story_id") == [
        ("https://voanews.example.com/bean",)
    ]


def test_ingest_paths_rejects_bad_files_and_keeps_good_ones(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    write_story(news / "good.md")
    write_story(news / "no-title.md", title=DROP, webUrl="https://news.example.com/x")
    write_raw(news / "binary.md", b"\x00\x01\x02")
    write_raw(news / "huge.md", b"---\n" + b"#" * (MAX + 1) + b"\n---\n")

    report = ingest([news], db_path, clock)

    assert counts(report) == (4, 1, 0, 0, 0, 3)
    assert report.rejected == (
        Rejection(str(news / "binary.md"), "not a text file (it contains NUL bytes)"),
        Rejection(str(news / "huge.md"), "file is 1.0 MiB, over the 1.0 MiB size limit"),
        Rejection(str(news / "no-title.md"), "missing title"),
    )
    assert rows(db_path, "SELECT count(*) FROM source_files WHERE rejected_reason IS NOT NULL") == [(3,)]


def test_ingest_paths_rejected_unchanged_file_is_reported_again(
    tmp_path: Path, db_path: Path, clock: ManualClock
) -> None:
    bad = write_story(tmp_path / "bad.md", heat="very")
    first = ingest([bad], db_path, clock)
    info = bad.stat()
    # Same size and mtime but another mistake: the report proves the file was not read again.
    bad.write_bytes(bad.read_bytes().replace(b"heat: very", b"heat: vary"))
    os.utime(bad, ns=(info.st_atime_ns, info.st_mtime_ns))

    second = ingest([bad], db_path, clock)

    assert first.rejected == second.rejected == (Rejection(str(bad), "heat must be a whole number, got text ('very')"),)
    assert counts(second) == (1, 0, 0, 0, 0, 1)


def test_ingest_paths_fixed_file_is_accepted(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    path = write_story(tmp_path / "a.md", heat="very")
    ingest([path], db_path, clock)
    write_story(path)

    assert counts(ingest([path], db_path, clock)) == (1, 1, 0, 0, 0, 0)
    assert rows(db_path, "SELECT rejected_reason FROM source_files") == [(None,)]


def test_ingest_paths_unchanged_file_is_not_read(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    path = write_story(tmp_path / "a.md")
    ingest([path], db_path, clock)
    info = path.stat()
    # Same size and mtime, different bytes: only a read could notice, and an unchanged file is not read.
    path.write_bytes(path.read_bytes().replace(b"Solar", b"Lunar"))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))

    assert counts(ingest([path], db_path, clock)) == (1, 0, 0, 1, 0, 0)
    assert rows(db_path, "SELECT title FROM stories") == [("Solar farm doubles output with AI-guided panels",)]


def test_ingest_paths_modified_file_is_read_again(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    path = write_story(tmp_path / "a.md")
    ingest([path], db_path, clock)
    path.write_bytes(path.read_bytes().replace(b"Solar", b"Lunar"))
    set_age(path, 60)  # same size, new mtime

    assert counts(ingest([path], db_path, clock)) == (1, 0, 1, 0, 0, 0)
    assert rows(db_path, "SELECT title FROM stories") == [("Lunar farm doubles output with AI-guided panels",)]


def test_ingest_paths_just_written_file_is_read_again(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    path = write_story(tmp_path / "a.md", age=False)
    ingest([path], db_path, clock)
    info = path.stat()
    # Rewritten within the filesystem's timestamp granularity: same size, same mtime, new content.
    path.write_bytes(path.read_bytes().replace(b"Solar", b"Lunar"))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))

    assert counts(ingest([path], db_path, clock)) == (1, 0, 1, 0, 0, 0)


def test_ingest_paths_missing_path_is_usage_error(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    with pytest.raises(InvalidArgument) as caught:
        ingest([tmp_path / "nowhere"], db_path, clock)
    assert caught.value.user_message == f"no such file or folder: {tmp_path / 'nowhere'}"
    assert not db_path.exists()


def test_ingest_paths_unwritable_database_is_fatal(tmp_path: Path, clock: ManualClock) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    path = write_story(tmp_path / "a.md")
    with pytest.raises(DatabaseError):
        ingest([path], blocker / "heatwave.db", clock)


def test_ingest_paths_parallel_workers_match_single_process(tmp_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    for index in range(600):
        write_story(
            news / f"{index:04}.md",
            webUrl=f"https://news.example.com/{index % 550}",
            heat=index,
            topics=[f"T{index % 7}"],
        )
    write_raw(news / "0300-bad.md", b"no front matter")

    one = ingest([news], tmp_path / "one.db", clock, workers=1)
    two = ingest([news], tmp_path / "two.db", clock, workers=2)

    assert counts(one) == counts(two) == (601, 550, 0, 0, 50, 1)
    query = "SELECT url, title, heat, source_path FROM stories ORDER BY url"
    assert rows(tmp_path / "one.db", query) == rows(tmp_path / "two.db", query)


def test_ingest_paths_reports_progress(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    for index in range(300):
        write_story(tmp_path / f"{index}.md", webUrl=f"https://news.example.com/{index}")
    seen: list[tuple[int, int]] = []

    ingest([tmp_path], db_path, clock, progress=lambda done, total: seen.append((done, total)))

    assert seen[0] == (0, 300)
    assert seen[-1] == (300, 300)


def test_ingest_paths_while_reader_holds_a_transaction(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    path = write_story(tmp_path / "a.md")
    ingest([path], db_path, clock)
    write_story(path, heat=150)
    with opened(db_path) as reader:
        reader.execute("BEGIN")
        assert reader.execute("SELECT heat FROM stories").fetchall() == [(94,)]

        report = ingest([path], db_path, clock)

        # WAL: the reader keeps its snapshot, the writer is not blocked.
        assert reader.execute("SELECT heat FROM stories").fetchall() == [(94,)]
        reader.execute("COMMIT")
    assert counts(report) == (1, 0, 1, 0, 0, 0)
    assert rows(db_path, "SELECT heat FROM stories") == [(150,)]


def test_ingest_paths_waits_for_another_writer(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    import subprocess
    import sys

    path = write_story(tmp_path / "a.md")
    ingest([path], db_path, clock)
    write_story(path, heat=150)
    # Another process (the bot, say) holds the write lock for a moment; the ingest waits instead of failing.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sqlite3, sys, time\n"
                f"c = sqlite3.connect({str(db_path)!r}, isolation_level=None)\n"
                "c.execute('BEGIN IMMEDIATE'); c.execute(\"INSERT INTO app_state VALUES ('k', 'v')\")\n"
                "print('locked', flush=True); time.sleep(0.7); c.execute('COMMIT')\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        report = ingest([path], db_path, clock)
    finally:
        holder.wait(timeout=10)
    assert holder.returncode == 0
    assert counts(report) == (1, 0, 1, 0, 0, 0)
    assert rows(db_path, "SELECT value FROM app_state WHERE key = 'k'") == [("v",)]


def _corpus_current_folders() -> list[Path]:
    return sorted(p for p in CORPUS_DIR.iterdir() if p.is_dir() and p.name != "_history")


@pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"shared corpus not found at {CORPUS_DIR}")
def test_ingest_paths_corpus_has_no_rejections(db_path: Path, clock: ManualClock) -> None:
    folders = _corpus_current_folders()
    expected_files = sum(1 for folder in folders for _ in folder.rglob("*.md"))

    report = ingest(folders, db_path, clock)

    assert report.rejected == ()
    assert report.scanned == expected_files >= 250
    assert report.added + report.duplicates == report.scanned
    assert rows(db_path, "SELECT count(*) FROM stories") == [(report.added,)]


def _history_story_with_stable_url() -> list[Path]:
    """The versions of a history story whose URL never changed but whose heat did (the shortest such story)."""
    root = CORPUS_DIR / "_history" / "microsoft-power-apps" / "_news"
    candidates: list[list[Path]] = []
    for folder in sorted(root.iterdir()):
        versions = sorted(folder.glob("*.md"))
        metas = [frontmatter.load(str(version)).metadata for version in versions]
        urls = {normalize_url(str(meta.get("webUrl") or meta.get("originalUrl"))) for meta in metas}
        if len(urls) == 1 and len({meta["heat"] for meta in metas}) > 1:
            candidates.append(versions)
    assert candidates, "no history story with a stable URL and a heat change"
    return min(candidates, key=len)


@pytest.mark.skipif(not (CORPUS_DIR / "_history").is_dir(), reason=f"shared corpus history not found in {CORPUS_DIR}")
def test_ingest_paths_history_versions_build_heat_history(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    versions = _history_story_with_stable_url()
    target = tmp_path / "news" / "story.md"
    target.parent.mkdir()
    expected: list[tuple[object, object]] = []
    previous: object = None
    for index, version in enumerate(versions):
        # The same file in the news folder, rewritten version after version.
        shutil.copyfile(version, target)
        set_age(target, 10_000 - index)
        report = ingest([target.parent], db_path, clock)
        assert report.rejected == ()
        heat = frontmatter.load(str(version)).metadata["heat"]
        if index == 0 or heat != previous:
            expected.append((heat, None if index == 0 else previous))
        previous = heat

    assert rows(db_path, "SELECT count(*) FROM stories") == [(1,)]
    assert rows(db_path, "SELECT heat, previous_heat FROM heat_history ORDER BY id") == expected
    assert rows(db_path, "SELECT heat FROM stories") == [(previous,)]


def test_ingest_paths_from_a_thread_parses_in_process(
    tmp_path: Path, db_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bot runs ingest in a worker thread; forking a threaded process is unsafe, so no pool is started.
    import threading

    import bot.ingest.pipeline as pipeline

    for index in range(300):
        write_story(tmp_path / f"{index}.md", webUrl=f"https://news.example.com/{index}")
    reports: list[IngestReport] = []
    pools_started: list[int] = []
    original = pipeline._start_pool

    def spy(count: int) -> Pool:
        pools_started.append(count)
        return original(count)

    monkeypatch.setattr(pipeline, "_start_pool", spy)
    thread = threading.Thread(target=lambda: reports.append(ingest([tmp_path], db_path, clock, workers=2)))
    thread.start()
    thread.join(timeout=60)

    assert counts(reports[0]) == (300, 300, 0, 0, 0, 0)
    assert pools_started == []


def test_ingest_paths_two_processes_at_once(tmp_path: Path, db_path: Path) -> None:
    import subprocess
    import sys

    # Schema first: two processes migrating one brand-new file at the same instant is db/migrate.py's concern.
    open_ingest_store(parse_location(db_path)).close()
    for half in ("a", "b"):
        for index in range(400):
            write_story(tmp_path / half / f"{index}.md", webUrl=f"https://news.example.com/{half}/{index}")
    code = (
        "import sys; from pathlib import Path; from bot.clock import SystemClock; "
        "from bot.ingest.pipeline import ingest_paths; from db import parse_location; "
        "r = ingest_paths([Path(sys.argv[1])], parse_location(sys.argv[2]), clock=SystemClock(), "
        "max_file_bytes=1 << 20, workers=1); print(r.added)"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / half), str(db_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for half in ("a", "b")
    ]
    results = [run.communicate(timeout=60) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], results
    assert [out.strip() for out, _ in results] == ["400", "400"]
    assert rows(db_path, "SELECT count(*) FROM stories") == [(800,)]


def test_ingest_paths_forgets_deleted_files_keeps_stories(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    good = write_story(news / "good.md")
    bad = write_story(news / "bad.md", title=DROP, webUrl="https://news.example.com/bad")
    ingest([news], db_path, clock)
    good.unlink()
    bad.unlink()

    report = ingest([news], db_path, clock)

    assert counts(report) == (0, 0, 0, 0, 0, 0)
    assert rows(db_path, "SELECT count(*) FROM source_files") == [(0,)]
    assert rows(db_path, "SELECT count(*) FROM stories") == [(1,)]


def test_ingest_paths_explicit_file_elsewhere_is_not_forgotten(
    tmp_path: Path, db_path: Path, clock: ManualClock
) -> None:
    outside = write_story(tmp_path / "outside.md")
    news = tmp_path / "news"
    write_story(news / "a.md", webUrl="https://news.example.com/a")
    ingest([outside], db_path, clock)

    ingest([news], db_path, clock)

    assert rows(db_path, "SELECT count(*) FROM source_files") == [(2,)]


def test_ingest_paths_rejects_undecodable_file_name(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    write_story(news / "good.md")
    raw_name = os.path.join(os.fsencode(news), b"caf\xe9.md")
    with open(raw_name, "wb") as handle:
        handle.write(b"---\ntitle: x\n---\n")

    report = ingest([news], db_path, clock)

    assert counts(report) == (2, 1, 0, 0, 0, 1)
    assert report.rejected == (
        Rejection(str(news / "caf\ufffd.md"), "the file name is not valid UTF-8; rename the file"),
    )


def test_ingest_paths_rescan_of_a_folder_skips_unchanged_and_reports_rejected_again(
    tmp_path: Path, db_path: Path, clock: ManualClock
) -> None:
    news = tmp_path / "news"
    good = write_story(news / "sub" / "good.md")
    bad = write_story(news / "bad.md", heat="very", webUrl="https://news.example.com/bad")
    first = ingest([news], db_path, clock)
    # Same size and mtime, different bytes: only a read could notice, and an unchanged file is not read.
    for path, old, new in ((good, b"Solar", b"Lunar"), (bad, b"heat: very", b"heat: vary")):
        info = path.stat()
        path.write_bytes(path.read_bytes().replace(old, new))
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))

    second = ingest([news], db_path, clock)

    assert counts(second) == (2, 0, 0, 1, 0, 1)
    assert second.rejected == first.rejected == (Rejection(str(bad), "heat must be a whole number, got text ('very')"),)
    assert rows(db_path, "SELECT title FROM stories") == [("Solar farm doubles output with AI-guided panels",)]


def test_ingest_paths_just_written_file_in_a_folder_is_read_again(
    tmp_path: Path, db_path: Path, clock: ManualClock
) -> None:
    news = tmp_path / "news"
    path = write_story(news / "a.md", age=False)
    write_story(news / "old.md", webUrl="https://news.example.com/old")
    ingest([news], db_path, clock)
    info = path.stat()
    path.write_bytes(path.read_bytes().replace(b"Solar", b"Lunar"))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))

    assert counts(ingest([news], db_path, clock)) == (2, 0, 1, 1, 0, 0)
    assert rows(db_path, "SELECT mtime_ns FROM source_files WHERE path = ?", str(path)) == [(-1,)]


def test_ingest_paths_skips_hidden_files_and_folders(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    write_story(news / "a.md")
    write_story(news / ".draft.md", webUrl="https://news.example.com/draft")
    write_story(news / ".git" / "b.md", webUrl="https://news.example.com/git")

    assert counts(ingest([news], db_path, clock)) == (1, 1, 0, 0, 0, 0)


def test_ingest_paths_finds_md_files_whatever_the_case(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    write_story(news / "A.MD", webUrl="https://news.example.com/a")
    write_story(news / "b.Md", webUrl="https://news.example.com/b")
    write_story(news / "folder.md" / "c.md", webUrl="https://news.example.com/c")
    write_story(news / "d.markdown", webUrl="https://news.example.com/d")

    assert counts(ingest([news], db_path, clock)) == (3, 3, 0, 0, 0, 0)


def test_ingest_paths_overlapping_paths_count_each_file_once(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    a = write_story(news / "a.md", webUrl="https://news.example.com/a")
    write_story(news / "sub" / "b.md", webUrl="https://news.example.com/b")
    given = [news / "sub", news, a, news]

    assert counts(ingest(given, db_path, clock)) == (2, 2, 0, 0, 0, 0)
    assert counts(ingest(given, db_path, clock)) == (2, 0, 0, 2, 0, 0)
    assert rows(db_path, "SELECT count(*) FROM source_files") == [(2,)]


def test_ingest_paths_rejects_files_under_an_undecodable_folder_name(
    tmp_path: Path, db_path: Path, clock: ManualClock
) -> None:
    news = tmp_path / "news"
    write_story(news / "good.md")
    folder = os.path.join(os.fsencode(news), b"caf\xe9")
    os.mkdir(folder)
    with open(os.path.join(folder, b"story.md"), "wb") as handle:
        handle.write(b"---\ntitle: x\n---\n")

    report = ingest([news], db_path, clock)

    assert counts(report) == (2, 1, 0, 0, 0, 1)
    assert report.rejected == (
        Rejection(str(news / "caf\ufffd" / "story.md"), "the file name is not valid UTF-8; rename the file"),
    )


def test_ingest_paths_rejects_a_symlink_loop_and_keeps_going(tmp_path: Path, db_path: Path, clock: ManualClock) -> None:
    news = tmp_path / "news"
    write_story(news / "good.md")
    os.symlink("loop.md", news / "loop.md")

    report = ingest([news], db_path, clock)

    assert counts(report) == (2, 1, 0, 0, 0, 1)
    assert report.rejected[0].path == str(news / "loop.md")
    assert report.rejected[0].reason.startswith("cannot read the file: ")


def test_ingest_paths_unreadable_given_folder_is_reported_once_and_forgotten_once_readable(
    tmp_path: Path, db_path: Path, clock: ManualClock
) -> None:
    news = tmp_path / "news"
    write_story(news / "a.md")

    # The same folder given twice: one folder, one rejection.
    with locked(news), permissions_enforced():
        report = ingest([news, news], db_path, clock)

    assert counts(report) == (1, 0, 0, 0, 0, 1)
    assert report.rejected == (Rejection(str(news), "cannot list the folder: Permission denied"),)

    report = ingest([news], db_path, clock)

    assert counts(report) == (1, 1, 0, 0, 0, 0)
    assert rows(db_path, "SELECT path, rejected_reason FROM source_files") == [(str(news / "a.md"), None)]
