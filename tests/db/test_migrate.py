from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from db import DatabaseError, open_store, parse_location
from db.sqlite.connection import connect_sync
from db.sqlite.migrate import available_migrations, latest_version, migrate
from db.sqlite.store import SqliteStore


def test_migrate_empty_database_reaches_latest_version(db_path: Path) -> None:
    conn = connect_sync(db_path)
    assert migrate(conn) == latest_version() == len(available_migrations())
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"stories", "topics", "story_topics", "related_entries", "heat_history", "source_files"} <= tables


def test_migrate_is_idempotent(db_path: Path) -> None:
    conn = connect_sync(db_path)
    first = migrate(conn)
    assert migrate(conn) == first


def test_migrate_refuses_a_newer_database(db_path: Path) -> None:
    conn = connect_sync(db_path)
    conn.execute(f"PRAGMA user_version = {latest_version() + 5}")
    with pytest.raises(DatabaseError, match="newer than this Heatwave"):
        migrate(conn)


async def test_database_open_uses_wal_and_foreign_keys(db_path: Path) -> None:
    store = await open_store(parse_location(db_path))
    try:
        assert isinstance(store, SqliteStore)
        conn = store._database.conn
        async with conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with conn.execute("PRAGMA foreign_keys") as cur:
            assert (await cur.fetchone())[0] == 1
    finally:
        await store.close()


def test_database_open_in_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatabaseError, match="cannot"):
        connect_sync(blocker / "sub" / "heatwave.db")


def test_fts_follows_story_updates(db_path: Path) -> None:
    conn = connect_sync(db_path)
    migrate(conn)
    now = "2026-01-01T00:00:00.000000+00:00"
    conn.execute(
        "INSERT INTO stories (url, title, excerpt, published_at, kind, link_url, content_hash, source_path,"
        " first_seen_at, updated_at) VALUES ('https://a/1', 'Quantum kittens', 'x', ?, 'article', 'https://a/1',"
        " 'h', 'p', ?, ?)",
        (now, now, now),
    )
    assert conn.execute("SELECT count(*) FROM stories_fts WHERE stories_fts MATCH 'kittens'").fetchone()[0] == 1
    conn.execute("UPDATE stories SET title = 'Quantum puppies'")
    assert conn.execute("SELECT count(*) FROM stories_fts WHERE stories_fts MATCH 'kittens'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM stories_fts WHERE stories_fts MATCH 'puppies'").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO story_topics (story_id, topic_id, position) VALUES (999, 999, 0)")


def test_migrate_two_processes_opening_a_new_file_at_once(db_path: Path) -> None:
    """The bot and `heatwave ingest` may both create the database: neither may fail or apply a migration twice."""
    code = (
        "import sys; from pathlib import Path; from db.sqlite.connection import connect_sync; "
        "from db.sqlite.migrate import migrate; print(migrate(connect_sync(Path(sys.argv[1]))))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(db_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err.decode() for _, err in results]
    assert {out.decode().strip() for out, _ in results} == {str(latest_version())}


def test_migration_failure_leaves_the_previous_version(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import db.sqlite.migrate as migrate_module

    good = available_migrations()
    broken = [*good, migrate_module.Migration(len(good) + 1, "9999_broken.sql", "CREATE TABLE x (a);\nNOT SQL;")]
    monkeypatch.setattr(migrate_module, "available_migrations", lambda: broken)
    conn = connect_sync(db_path)
    with pytest.raises(DatabaseError, match=r"9999_broken\.sql failed"):
        migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(good)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'x'").fetchone()[0] == 0
