"""`heatwave copy-store`: a store moved between engines answers every lookup the same and posts nothing twice.

The source is real: the project's seeds/ ingested by the real pipeline, then alert state made through the
real AlertService (subscriptions, a paused channel, a paused guild, stories sent, a backlog still queued, an
announcement crosspost) and an app_state value.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot.cli import main
from bot.clock import ManualClock
from bot.errors import HeatwaveError
from bot.ingest.pipeline import ingest_paths
from bot.services.alerts import AlertService
from bot.services.lookups import LookupService
from bot.settings import DEFAULT_MAX_FILE_BYTES
from db import DatabaseError, StoreLocation, open_ingest_store, open_store, parse_location
from db.copy_store import TABLES, copy_store
from db.postgres.dump import PgDumpWriter, _Restorer
from db.sqlite.dump import SqliteDumpWriter
from tests.conftest import SEEDS_DIR
from tests.support.alerts import FakePoster
from tests.support.pg import private_schema
from tests.support.seed import Seeder, SeedStory

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FEED, AI_NEWS, PAUSED = 101, 102, 103  # channels of guild 1
FORUM = 201  # the only channel of guild 2, which is paused
FEED_BACKFILL, POSTS_PER_TICK = 8, 3


@dataclass(frozen=True)
class Source:
    location: StoreLocation
    sent: frozenset[tuple[int, int]]  # (channel, story) posted before the move
    stories: int


async def _make_alert_state(location: StoreLocation) -> frozenset[tuple[int, int]]:
    store = await open_store(location)
    try:
        service = AlertService(store, ManualClock(NOW), max_posts_per_tick=POSTS_PER_TICK, rng=random.Random(7))
        await store.app_state.set("command_tree_hash", "abc123")
        await service.add_subscription(
            guild_id=1, channel_id=FEED, channel_kind="text", min_heat=70, backfill=FEED_BACKFILL
        )
        await service.add_subscription(
            guild_id=1, channel_id=AI_NEWS, channel_kind="announcement", topic="ai", min_heat=70, backfill=2
        )
        await service.add_subscription(
            guild_id=1, channel_id=PAUSED, channel_kind="text", topic="Power  Apps", min_heat=0, backfill=2
        )
        await service.pause(1, PAUSED)
        await service.add_subscription(guild_id=2, channel_id=FORUM, channel_kind="forum", min_heat=100, backfill=1)
        await service.pause(2)
        poster = FakePoster()
        await service.tick(poster)
        assert poster.published  # the announcement channel crossposted: alert_crossposts has a row
        return frozenset((s.channel_id, s.story_id) for s in poster.sent)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    """Written once per module: every copy reads it and none writes to it."""
    location = parse_location(tmp_path_factory.mktemp("source") / "source.db")
    report = ingest_paths([SEEDS_DIR], location, clock=ManualClock(NOW), max_file_bytes=DEFAULT_MAX_FILE_BYTES)
    sent = asyncio.run(_make_alert_state(location))
    assert len(sent) == POSTS_PER_TICK + 2
    return Source(location, sent, report.added)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with private_schema() as url:
        yield url


async def _ask(call: Awaitable[object]) -> object:
    """What a user sees: the result, or the error message they would get."""
    try:
        return await call
    except HeatwaveError as exc:
        return f"{type(exc).__name__}: {exc}"


async def _answers(location: StoreLocation) -> dict[str, object]:
    """Every lookup and /alerts list, as the services answer them."""
    store = await open_store(location)
    try:
        lookups = LookupService(store.lookups, ManualClock(NOW))
        alerts = AlertService(store, ManualClock(NOW), max_posts_per_tick=POSTS_PER_TICK)
        out: dict[str, object] = {"topics": await _ask(lookups.topics())}
        topics, _total = await store.lookups.topics_page(offset=0, limit=100)
        for topic in topics:
            for sort in ("hot", "new"):
                out[f"topic {topic.name} {sort}"] = await _ask(lookups.topic(topic.name, sort=sort))
        for query in ("power apps", "AI", "heatwave grid", "customer portal", "zzzqqq", "café"):
            out[f"search {query}"] = await _ask(lookups.search(query))
        out["trending"] = await _ask(lookups.trending(hours=720))
        out["trending AI"] = await _ask(lookups.trending(hours=720, topic="AI"))
        for story_id in range(1, 12):
            out[f"related {story_id}"] = await _ask(lookups.related(str(story_id)))
        for typed in ("", "pow", "Power A", "chat"):
            out[f"story choices {typed}"] = await _ask(lookups.story_choices(typed))
            out[f"topic choices {typed}"] = await _ask(lookups.topic_choices(typed))
        for guild in (1, 2):
            out[f"alerts list {guild}"] = await alerts.list_subscriptions(guild)
        out["preview"] = await _ask(alerts.preview(guild_id=1, channel_id=FEED))
        return out
    finally:
        await store.close()


async def _tick(location: StoreLocation, at: datetime) -> set[tuple[int, int]]:
    store = await open_store(location)
    try:
        poster = FakePoster()
        await AlertService(store, ManualClock(at), max_posts_per_tick=10).tick(poster)
        return {(s.channel_id, s.story_id) for s in poster.sent}
    finally:
        await store.close()


async def _check_moved_alerts_and_ids(location: StoreLocation, source: Source) -> None:
    # The backlog queued before the move goes out; nothing sent before the move goes out again; paused stays quiet.
    after = await _tick(location, NOW + timedelta(hours=1))
    assert after.isdisjoint(source.sent)
    assert after == {(FEED, story) for _, story in after}
    assert len(after) == FEED_BACKFILL - POSTS_PER_TICK
    # New stories get fresh ids, and their heat history lands above every cursor: the engine sees them.
    with Seeder(location) as seeder:
        fresh = seeder.add(
            SeedStory(title="Fresh after the move", topics=("AI",), heat=180), at=NOW + timedelta(hours=2)
        )
    assert fresh == source.stories + 1
    store = await open_store(location)
    try:
        found = await LookupService(store.lookups, ManualClock(NOW)).search("fresh after the move")
        assert [story.id for story in found.page.items][:1] == [fresh]  # the full-text index follows new stories
    finally:
        await store.close()
    assert await _tick(location, NOW + timedelta(hours=3)) == {(FEED, fresh), (AI_NEWS, fresh)}


@dataclass(frozen=True)
class RoundTrip:
    postgres: StoreLocation
    back: StoreLocation  # SQLite -> PostgreSQL -> this SQLite file
    answers: dict[str, dict[str, object]]  # taken before any test changes a copy


@pytest.fixture(scope="module")
def round_trip(source: Source, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoundTrip]:
    with private_schema() as url:
        back = parse_location(tmp_path_factory.mktemp("back") / "back.db")
        assert main(["copy-store", str(source.location), url]) == 0
        assert main(["copy-store", url, str(back)]) == 0
        pg = parse_location(url)
        answers = {
            name: asyncio.run(_answers(location))
            for name, location in (("source", source.location), ("postgres", pg), ("back", back))
        }
        yield RoundTrip(pg, back, answers)


def test_round_trip_back_to_sqlite_answers_exactly_the_same(round_trip: RoundTrip) -> None:
    expected = round_trip.answers["source"]
    assert expected["search power apps"] != expected["search zzzqqq"]  # real answers, not all errors
    assert round_trip.answers["back"] == expected


def test_postgres_copy_answers_every_lookup_the_same(round_trip: RoundTrip) -> None:
    expected, found = round_trip.answers["source"], round_trip.answers["postgres"]
    assert {key for key in expected if found[key] != expected[key]} == set()


async def test_round_trip_copies_post_nothing_twice_and_take_new_stories(source: Source, round_trip: RoundTrip) -> None:
    await _check_moved_alerts_and_ids(round_trip.postgres, source)
    await _check_moved_alerts_and_ids(round_trip.back, source)


async def test_sqlite_copy_posts_nothing_twice_and_takes_new_stories(source: Source, tmp_path: Path) -> None:
    target = parse_location(tmp_path / "copy.db")
    report = copy_store(source.location, target)
    assert report.ok
    assert await _answers(target) == await _answers(source.location)
    await _check_moved_alerts_and_ids(target, source)


async def test_a_copy_in_many_small_batches_answers_every_lookup_the_same(source: Source, pg_url: str) -> None:
    # Batches of a few rows: every table, and each story's full-text words and vectors, go over many batches.
    target = parse_location(pg_url)
    report = copy_store(source.location, target, batch_rows=7)
    assert report.ok
    assert report.stories > 7 * 3
    assert await _answers(target) == await _answers(source.location)


def _table_lines(out: str) -> dict[str, tuple[int, int]]:
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in {t.name for t in TABLES}:
            rows[parts[0]] = (int(parts[1].replace(",", "")), int(parts[2].replace(",", "")))
    return rows


def _count(location: StoreLocation, table: str) -> int:
    conn = sqlite3.connect(str(location))
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_cli_prints_counts_per_table_and_refuses_a_target_with_data(
    source: Source, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(tmp_path / "copy.db")
    assert main(["copy-store", str(source.location), target]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar off a terminal
    rows = _table_lines(captured.out)
    assert set(rows) == {t.name for t in TABLES}
    for table in ("stories", "heat_history", "alert_deliveries", "alert_subscriptions", "alert_crossposts"):
        assert rows[table] == (_count(source.location, table),) * 2
        assert rows[table][0] > 0
    assert "Verified" in captured.out

    assert main(["copy-store", str(source.location), target]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"heatwave: the target {target} already holds data (stories, topics")
    assert "--force" in err

    assert main(["copy-store", str(source.location), target, "--force", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is True
    assert report["tables"]["stories"] == {"source": source.stories, "target": source.stories}


@pytest.mark.parametrize("target_engine", ["sqlite", "postgres"])
async def test_a_store_nothing_was_ingested_into_copies_and_then_posts_its_first_story(
    tmp_path: Path, target_engine: str
) -> None:
    # No heat history yet and the alert engine's cursor at 0: the copy must still start every id at 1.
    empty = parse_location(tmp_path / "empty.db")
    SqliteDumpWriter.open(empty).close()
    with private_schema() if target_engine == "postgres" else _nothing() as url:
        target = url or str(tmp_path / "copy.db")
        assert main(["copy-store", str(empty), target]) == 0
        location = parse_location(target)
        store = await open_store(location)
        try:
            await AlertService(store, ManualClock(NOW), max_posts_per_tick=POSTS_PER_TICK).add_subscription(
                guild_id=1, channel_id=FEED, channel_kind="text", min_heat=70
            )
        finally:
            await store.close()
        with Seeder(location) as seeder:
            first = seeder.add(SeedStory(title="First story after the move", heat=120), at=NOW)
        assert first == 1
        assert await _tick(location, NOW + timedelta(minutes=1)) == {(FEED, first)}


@pytest.mark.parametrize("target_engine", ["sqlite", "postgres"])
async def test_an_interrupted_copy_refuses_to_open_until_copied_again(
    source: Source,
    tmp_path: Path,
    target_engine: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with private_schema() if target_engine == "postgres" else _nothing() as url:
        target = parse_location(url or tmp_path / "copy.db")

        def interrupt(done: int, total: int) -> None:
            if done > 40:  # mid-way through story_topics
                raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            # PostgreSQL rebuilds a loaded table's indexes in the background: here the crash comes before any
            # of them ran, so the next copy finds the stories table without its indexes and keys.
            patch.setattr(_Restorer, "submit", lambda self, jobs: None)
            with pytest.raises(KeyboardInterrupt):
                copy_store(source.location, target, progress=interrupt, batch_rows=10)

        message = f"is an incomplete copy made by `heatwave copy-store` from {source.location}; run the copy again"
        with pytest.raises(DatabaseError, match="incomplete copy") as refused:
            open_ingest_store(target)
        assert message in str(refused.value)
        if target_engine == "sqlite" or _pg_store_exists():
            with pytest.raises(DatabaseError, match="incomplete copy"):
                await open_store(target)

        assert main(["copy-store", str(source.location), url or str(target)]) == 2
        assert message in capsys.readouterr().err
        assert main(["copy-store", str(source.location), url or str(target), "--force"]) == 0
        open_ingest_store(target).close()
        # The interrupted load had set indexes, keys or triggers aside to rebuild them later: all are back.
        if url is not None:
            with private_schema() as fresh:
                open_ingest_store(parse_location(fresh)).close()
                assert _pg_schema_objects(url) == _pg_schema_objects(fresh)
        else:
            fresh_file = tmp_path / "fresh.db"
            open_ingest_store(parse_location(fresh_file)).close()
            assert _sqlite_schema(tmp_path / "copy.db") == _sqlite_schema(fresh_file)


def test_a_copy_cut_short_with_its_foreign_keys_not_yet_validated_is_copied_again_whole(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    # finish() puts the foreign keys back NOT VALID, then validates them on other connections: cut in between.
    unvalidated = PgDumpWriter._add_foreign_keys_unvalidated

    def then_interrupt(self: PgDumpWriter) -> None:
        unvalidated(self)
        raise KeyboardInterrupt

    with private_schema() as url:
        with monkeypatch.context() as patch:
            patch.setattr(PgDumpWriter, "_add_foreign_keys_unvalidated", then_interrupt)
            with pytest.raises(KeyboardInterrupt):
                copy_store(source.location, parse_location(url))
        assert any(definition.endswith("NOT VALID") for definition in _pg_schema_objects(url))
        with pytest.raises(DatabaseError, match="incomplete copy"):
            open_ingest_store(parse_location(url))

        assert main(["copy-store", str(source.location), url, "--force"]) == 0
        with private_schema() as fresh:
            open_ingest_store(parse_location(fresh)).close()
            assert _pg_schema_objects(url) == _pg_schema_objects(fresh)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def _sqlite_schema(path: Path) -> set[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        return set(conn.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master"))
    finally:
        conn.close()


def _pg_schema_objects(url: str) -> set[str]:
    """Every index, key and foreign key of the schema first on the URL's search path (schema name left out)."""
    with psycopg.connect(url) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
        rows = conn.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid::regclass::text NOT LIKE 'pg_%%' "
            "AND indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace) "
            "UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = current_schema()::regnamespace"
        ).fetchall()
    return {str(row[0]).replace(f"{schema}.", "") for row in rows}


def _pg_store_exists() -> bool:
    try:
        import db.postgres.store  # noqa: F401
    except ImportError:
        return False
    return True


def test_a_copy_that_does_not_verify_exits_1_and_stays_marked(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_table = SqliteDumpWriter.write_table

    def lossy(self: SqliteDumpWriter, table: object, batches: object) -> None:
        if getattr(table, "name", "") == "related_entries":
            batches = (batch[:-1] for batch in batches)  # type: ignore[attr-defined]
        write_table(self, table, batches)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteDumpWriter, "write_table", lossy)
    target = tmp_path / "copy.db"
    assert main(["copy-store", str(source.location), str(target)]) == 1
    captured = capsys.readouterr()
    related = _count(source.location, "related_entries")
    assert _table_lines(captured.out)["related_entries"] == (related, related - 1)
    assert "<- differs" in captured.out
    assert f"related_entries: {related} rows in the source, {related - 1} in the target" in captured.err
    with pytest.raises(DatabaseError, match="incomplete copy"):
        open_ingest_store(parse_location(target))


def test_source_and_target_must_differ(source: Source, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alias = tmp_path / "alias.db"
    alias.symlink_to(source.location.path)  # type: ignore[arg-type]
    target = tmp_path / "copy.db"
    assert main(["copy-store", str(source.location), str(target)]) == 0
    link = tmp_path / "link.db"
    link.symlink_to(target)
    assert main(["copy-store", str(target), str(link), "--force"]) == 2
    assert "SOURCE and TARGET are the same store" in capsys.readouterr().err
    open_ingest_store(parse_location(target)).close()  # the check left no marker behind


def test_postgres_source_and_target_named_differently_are_the_same_store(
    source: Source, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["copy-store", str(source.location), pg_url]) == 0
    capsys.readouterr()
    alias = f"{pg_url}&application_name=alias"
    assert main(["copy-store", pg_url, alias, "--force"]) == 2
    assert "SOURCE and TARGET are the same store" in capsys.readouterr().err
    with open_ingest_store(parse_location(pg_url)) as opened:
        assert opened.read_stats().stories == source.stories


def test_usage_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.db"
    assert main(["copy-store", str(missing), str(tmp_path / "t.db")]) == 2
    assert capsys.readouterr().err == f"heatwave: no database at {missing}\n"
    assert not missing.exists()

    assert main(["copy-store", str(missing), "postgresql://user:secret@localhost:1/"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("heatwave: TARGET a PostgreSQL URL needs a database name")
    assert "secret" not in err
    assert err.count("\n") == 1


def test_an_unknown_column_or_an_old_schema_is_refused(
    source: Source, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = tmp_path / "changed.db"
    assert main(["copy-store", str(source.location), str(changed)]) == 0
    conn = sqlite3.connect(changed)
    conn.execute("ALTER TABLE stories ADD COLUMN mood TEXT")
    conn.close()
    capsys.readouterr()
    assert main(["copy-store", str(changed), str(tmp_path / "t.db")]) == 2
    assert "columns `copy-store` does not know (stories.mood)" in capsys.readouterr().err

    conn = sqlite3.connect(changed)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    assert main(["copy-store", str(changed), str(tmp_path / "t.db")]) == 2
    assert "has schema version 2, older than this Heatwave's" in capsys.readouterr().err


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_every_table_and_column_of_the_schema_is_copied(engine: str, tmp_path: Path) -> None:
    """A migration that adds a table or column must teach copy-store about it (else copies would lose it)."""
    from db.copy_store import open_writer

    with private_schema() if engine == "postgres" else _nothing() as url:
        writer = open_writer(parse_location(url or tmp_path / "fresh.db"))
        try:
            found = {name: set(columns) for name, columns in writer.table_columns().items()}
        finally:
            writer.close()
    assert found == {t.name: {*t.columns, *t.counted} for t in TABLES}
