"""PostgreSQL's search vectors are made by Heatwave (db/postgres/vectors.py), not by generated columns.

They must hold the lexemes `to_tsvector('simple', …)` makes from the same words — `search` those of the title and
the excerpt, `title_search` the title's — in both spellings (text for ingest, binary for copy-store), and stay
within tsvector's limits.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from db import StoreLocation, open_store, parse_location
from db.postgres.vectors import MAX_LEXEME_BYTES, TsVectorBinaryDumper, search_binary, search_text
from db.text import index_words
from tests.support.alerts import LIVING_TABLES
from tests.support.pg import private_schema
from tests.support.seed import Seeder, SeedStory

TEXTS = [
    ("Solar farm opens", "The solar farm in Spain opens today; storage follows in 2027."),
    ("AI & the café", "Über-fast GPUs: naïve benchmarks, 3x faster (again) — says O'Brien."),
    ("Repeat repeat REPEAT", "repeat words repeat in the excerpt too"),
    ("", "Only an excerpt here"),
    ("Only a title", ""),
    ("数据中心 news", "東京 data centres and 인공지능 models"),
]


@pytest.fixture
def conn() -> Iterator[psycopg.Connection]:
    with private_schema() as url, psycopg.connect(url, autocommit=True) as connection:
        connection.adapters.register_dumper(None, TsVectorBinaryDumper)
        connection.execute("CREATE TABLE v (n int, search tsvector, title_search tsvector)")
        yield connection


@pytest.mark.parametrize(("title", "excerpt"), TEXTS)
def test_the_text_form_holds_the_lexemes_to_tsvector_made_from_the_same_words(
    conn: psycopg.Connection, title: str, excerpt: str
) -> None:
    title_words, excerpt_words = index_words(title), index_words(excerpt)
    search, title_search = search_text(title_words, excerpt_words)

    row = conn.execute(
        "SELECT tsvector_to_array(to_tsvector('simple', %(t)s) || to_tsvector('simple', %(e)s)), "
        "tsvector_to_array(to_tsvector('simple', %(t)s)), "
        "tsvector_to_array(%(search)s::tsvector), tsvector_to_array(%(titles)s::tsvector), "
        "%(search)s::tsvector = strip(%(search)s::tsvector)",
        {"t": title_words, "e": excerpt_words, "search": search, "titles": title_search},
    ).fetchone()

    assert row is not None
    server_search, server_titles, ours, our_titles, without_positions = row
    assert sorted(ours) == sorted(server_search)
    assert sorted(our_titles) == sorted(server_titles)
    assert without_positions


@pytest.mark.parametrize(("title", "excerpt"), TEXTS)
def test_binary_copy_and_text_give_the_same_vectors(conn: psycopg.Connection, title: str, excerpt: str) -> None:
    title_words, excerpt_words = index_words(title), index_words(excerpt)
    with conn.cursor().copy("COPY v (n, search, title_search) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "tsvector", "tsvector"])
        copy.write_row((1, *search_binary(title_words, excerpt_words)))

    text_search, text_titles = search_text(title_words, excerpt_words)
    row = conn.execute(
        "SELECT search = %s::tsvector, title_search = %s::tsvector, search::text FROM v", (text_search, text_titles)
    ).fetchone()
    assert row is not None
    assert row[0], row[2]
    assert row[1], row[2]


def test_a_word_too_long_for_a_tsvector_is_left_out_and_the_rest_is_kept(conn: psycopg.Connection) -> None:
    huge = "x" * (MAX_LEXEME_BYTES + 1)
    search, title_search = search_text(f"solar {huge}", "storage")

    row = conn.execute(
        "SELECT %s::tsvector @@ 'solar & storage'::tsquery, %s::tsvector @@ 'solar'::tsquery, "
        "length(%s::tsvector)",
        (search, title_search, search),
    ).fetchone()

    assert row == (True, True, 2)


@pytest.fixture
def location() -> Iterator[StoreLocation]:
    with private_schema() as url:
        yield parse_location(url)


async def test_a_story_with_an_unindexable_word_is_stored_and_found_by_its_other_words(
    location: StoreLocation,
) -> None:
    story = SeedStory(title="Reactor " + "z" * 3000, excerpt="A fusion milestone", url="https://news.example/r")
    with Seeder(location) as seeder:
        seeder.add_many([story])

    store = await open_store(location)
    try:
        by_title = await store.lookups.search(["reactor"], offset=0, limit=5, count_up_to=10)
        by_excerpt = await store.lookups.search(["fusion", "milestone"], offset=0, limit=5, count_up_to=10)
    finally:
        await store.close()
    assert [hit.title for hit in by_title.stories] == [story.title]
    assert [hit.title for hit in by_excerpt.stories] == [story.title]


async def test_a_store_from_before_migration_5_keeps_its_vectors_and_takes_new_stories(
    location: StoreLocation,
) -> None:
    with Seeder(location) as seeder:
        seeder.add_many([SeedStory(title="Old solar story", excerpt="kept", url="https://news.example/old")])
    assert location.url is not None
    with psycopg.connect(location.url, autocommit=True) as pg:
        # Back to the generated columns of migrations 1 and 3 (the index and values made by the server).
        pg.execute("ALTER TABLE stories DROP COLUMN search, DROP COLUMN title_search")
        pg.execute(
            "ALTER TABLE stories ADD COLUMN search tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', title_words), 'A') || setweight(to_tsvector('simple', excerpt_words), 'B')"
            ") STORED, ADD COLUMN title_search tsvector GENERATED ALWAYS AS (to_tsvector('simple', title_words)) STORED"
        )
        # ...and without the tables of the migrations after 5, which the upgrade creates again.
        pg.execute("DROP TABLE alert_log_notices, alert_log_channels")
        for table in LIVING_TABLES:  # later migrations' tables
            pg.execute(f"DROP TABLE IF EXISTS {table}")
        pg.execute("UPDATE schema_version SET version = 4")

    with Seeder(location) as seeder:  # opening the store upgrades it
        seeder.add_many([SeedStory(title="New solar story", excerpt="added", url="https://news.example/new")])

    store = await open_store(location)
    try:
        found = await store.lookups.search(["solar"], offset=0, limit=5, count_up_to=10)
    finally:
        await store.close()
    assert sorted(hit.title for hit in found.stories) == ["New solar story", "Old solar story"]
    with psycopg.connect(location.url, autocommit=True) as pg:
        generated = pg.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'stories'::regclass"
            " AND attname IN ('search', 'title_search') AND attgenerated <> ''"
        ).fetchone()
    assert generated == (0,)
