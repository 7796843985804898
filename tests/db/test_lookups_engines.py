"""The lookup queries on both storage engines: one small corpus, written by the ingester's store, and the same
answers expected from SQLite and PostgreSQL for everything a user can ask.

The corpus is written once per engine (lookups only read); each test opens the store afresh. Stories that are
not about trending are first seen long ago, so only the trending stories fall into its windows.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

import db.postgres.lookups as pg_lookups
import db.sqlite.lookups as sqlite_lookups
from bot.urls import normalize_url
from db import StoreLocation, open_store, parse_location
from db.interfaces import LookupStore, Store
from db.models import StorySort, StoryView
from db.text import query_terms
from tests.support.pg import private_schema
from tests.support.seed import NOW, Seeder, SeedRelated, SeedStory

LONG_AGO = NOW - timedelta(days=400)


@dataclass
class Corpus:
    """Story ids by a short name."""

    ids: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> int:
        return self.ids[name]


def _story(title: str, *, excerpt: str | None = None, **fields: object) -> SeedStory:
    # A unique excerpt word by default, so no two stories share words unless a test means them to.
    unique = "".join(chr(ord("a") + int(d)) for d in str(zlib.crc32(title.encode())))
    return SeedStory(title=title, excerpt=excerpt if excerpt is not None else f"zq{unique}", **fields)  # type: ignore[arg-type]


def _seed(location: StoreLocation) -> Corpus:
    corpus = Corpus()
    with Seeder(location) as seeder:

        def add(name: str, story: SeedStory, at: datetime = LONG_AGO) -> None:
            corpus.ids[name] = seeder.add(story, at=at)

        # Topics: spacing and case in names, and % and _ that LIKE would read as wildcards.
        add("apps1", _story("Canvas apps tips", topics=("Power  Apps",), heat=5))
        add("apps2", _story("Model driven tips", topics=("Power  Apps", "Data_Science"), heat=6))
        add("cloud1", _story("Hybrid setups", topics=("100% Cloud",), heat=7))
        add("cloudy", _story("Rain again", topics=("Cloudy",), heat=8))
        add("cloudy2", _story("Rain again and again", topics=("Cloudy",), heat=9))
        add("datasci", _story("Notebook habits", topics=("DataXScience",), heat=10))
        # Heat and date ordering within one topic.
        for name, heat, days in (("h90", 90, 3), ("h50", 50, 1), ("hnone", None, 0), ("hsup", -1, 4), ("h0", 0, 2)):
            add(
                name,
                _story(
                    f"Heatsort {name}", topics=("Heatsort",), heat=heat, published_at=LONG_AGO - timedelta(days=days)
                ),
            )
        # Search: title matches before excerpt-only ones, then heat; diacritics; hostile text.
        add("fusion_cold", _story("Fusion reactor milestone", heat=10))
        add("fusion_hot", _story("Fusion reactor record", heat=300))
        add("fusion_excerpt", _story("Energy roundup", excerpt="Scientists discuss fusion power", heat=500))
        add("zebra", _story("Zebra crossing redesign", heat=900))
        add("cafe", _story("Café culture returns", heat=20))
        add("quantum", _story("Quantum chips arrive", heat=30))
        # Autocomplete: word prefixes, and titles starting with what is typed first.
        add("power_outage", _story("Power outage hits city", heat=40))
        add("ms_power", _story("Microsoft Power Automate update", heat=400))
        add("empower", _story("Empowering small teams", heat=800))
        # Related: A's own list names B (which arrives after A) and an outside URL; C's list names A; D shares
        # A's rare words; E names F, which arrived before E.
        add(
            "a",
            _story(
                "Glacier melt accelerates in Greenland",
                url="https://news.example/a",
                heat=60,
                related=(
                    SeedRelated("https://news.example/b", title="B as A's file saw it"),
                    SeedRelated("https://elsewhere.example/x", title="Outside story"),
                ),
            ),
        )
        add("b", _story("Ice shelf report", url="https://news.example/b", heat=61))
        add("c", _story("Polar roundup", heat=62, related=(SeedRelated("https://news.example/a"),)))
        add("d", _story("Greenland glacier survey", heat=63))
        add("f", _story("Coral survey begins", url="https://news.example/f", heat=64))
        add("e", _story("Reef roundup", heat=65, related=(SeedRelated("https://news.example/f"),)))
        # Trending: first seen at different times, one suppressed and one of unknown heat.
        for name, heat, hours, topics in (
            ("t_30m", 50, 0.5, ("Trend",)),
            ("t_3h", 80, 3, ("Other",)),
            ("t_2d", 100, 48, ("Trend",)),
            ("t_sup", -1, 0.2, ("Trend",)),
            ("t_none", None, 0.3, ("Trend",)),
        ):
            add(name, _story(f"Trending {name}", topics=topics, heat=heat), at=NOW - timedelta(hours=hours))
    return corpus


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StoreLocation, Corpus]]:
    if request.param == "sqlite":
        location = parse_location(tmp_path_factory.mktemp("lookups") / "x.db")
        yield location, _seed(location)
        return
    with private_schema() as url:
        location = parse_location(url)
        yield location, _seed(location)


@pytest.fixture
def corpus(seeded: tuple[StoreLocation, Corpus]) -> Corpus:
    return seeded[1]


@pytest.fixture
async def store(seeded: tuple[StoreLocation, Corpus]) -> AsyncIterator[Store]:
    opened = await open_store(seeded[0])
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def lookups(store: Store) -> LookupStore:
    return store.lookups


def ids(stories: object) -> list[int]:
    return [s.id for s in stories]  # type: ignore[attr-defined]


# ----- topics ------------------------------------------------------------------------------------------------


async def test_topic_lookup_ignores_case_and_spacing(lookups: LookupStore, corpus: Corpus) -> None:
    for typed in ("Power Apps", "  power   APPS ", "POWER  apps"):
        topic = await lookups.topic_by_name(typed)
        assert topic is not None
        assert (topic.key, topic.name, topic.story_count) == ("power apps", "Power  Apps", 2)
    assert await lookups.topic_by_name("Power") is None


async def test_topics_page_most_stories_first_with_total(lookups: LookupStore) -> None:
    first, total = await lookups.topics_page(offset=0, limit=3)
    assert [t.name for t in first] == ["AI", "Heatsort", "Trend"]
    everything, same_total = await lookups.topics_page(offset=0, limit=100)
    assert total == same_total == len(everything) == 9
    # Equal counts are ordered by key.
    twos = [t.key for t in everything if t.story_count == 2]
    assert twos == sorted(twos)
    assert await lookups.topics_page(offset=100, limit=3) == ([], 9)
    assert (await lookups.topic_names(limit=2)) == ["AI", "Heatsort"]


async def test_topic_choices_prefix_first_and_wildcards_are_literal(lookups: LookupStore) -> None:
    assert [t.name for t in await lookups.topic_choices("clo", limit=10)] == ["Cloudy", "100% Cloud"]
    assert [t.name for t in await lookups.topic_choices("%", limit=10)] == ["100% Cloud"]
    assert [t.name for t in await lookups.topic_choices("_", limit=10)] == ["Data_Science"]
    assert [t.name for t in await lookups.topic_choices("DATA_s", limit=10)] == ["Data_Science"]
    assert await lookups.topic_choices("0%_", limit=10) == []
    assert await lookups.topic_choices("\\", limit=10) == []
    assert len(await lookups.topic_choices("", limit=4)) == 4


async def test_topic_stories_hot_puts_suppressed_then_unknown_last(lookups: LookupStore, corpus: Corpus) -> None:
    topic = await lookups.topic_by_name("heatsort")
    assert topic is not None
    hot = await lookups.topic_stories(topic, sort=StorySort.HOT, offset=0, limit=10)
    assert ids(hot) == [corpus[n] for n in ("h90", "h50", "h0", "hsup", "hnone")]
    page = await lookups.topic_stories(topic, sort=StorySort.HOT, offset=3, limit=1)
    assert ids(page) == [corpus["hsup"]]
    new = await lookups.topic_stories(topic, sort=StorySort.NEW, offset=0, limit=10)
    assert ids(new) == [corpus[n] for n in ("hnone", "h50", "h0", "h90", "hsup")]


# ----- stories -----------------------------------------------------------------------------------------------


async def test_stories_in_the_order_asked_with_topics_in_file_order(lookups: LookupStore, corpus: Corpus) -> None:
    wanted = [corpus["apps2"], 999_999, corpus["apps1"]]
    found = await lookups.stories(wanted)
    assert ids(found) == [corpus["apps2"], corpus["apps1"]]
    assert found[0].topics == ("Power  Apps", "Data_Science")
    by_url = await lookups.story_by_url(normalize_url("https://news.example/a"))
    assert by_url is not None
    assert by_url.id == corpus["a"]
    assert by_url.first_seen_at == LONG_AGO
    assert await lookups.story_by_id(corpus["a"]) == by_url
    assert await lookups.story_by_id(999_999) is None


async def test_best_title_match_all_words_then_any_hottest_on_a_tie(lookups: LookupStore, corpus: Corpus) -> None:
    found = await lookups.best_title_match("fusion reactor")
    assert found is not None
    assert found.id == corpus["fusion_hot"]
    any_word = await lookups.best_title_match("milestone zzzunknown")
    assert any_word is not None
    assert any_word.id == corpus["fusion_cold"]
    # Excerpt words do not count for titles.
    assert await lookups.best_title_match("scientists") is None


async def test_story_choices_match_word_prefixes_title_start_first(lookups: LookupStore, corpus: Corpus) -> None:
    choices = await lookups.story_choices("pow", limit=10)
    assert [c.id for c in choices] == [corpus["power_outage"], corpus["ms_power"]]
    narrowed = await lookups.story_choices("microsoft  POW", limit=10)
    assert [c.id for c in narrowed] == [corpus["ms_power"]]
    assert [c.id for c in await lookups.story_choices("caf", limit=10)] == [corpus["cafe"]]
    assert await lookups.story_choices("zzzz", limit=10) == []
    # Nothing typed: the newest stories (here all of them), hottest first.
    recent = await lookups.story_choices("", limit=3)
    assert [c.id for c in recent] == [corpus[n] for n in ("zebra", "empower", "fusion_excerpt")]


# ----- search ------------------------------------------------------------------------------------------------


async def search(lookups: LookupStore, text: str, *, limit: int = 10) -> tuple[list[int], int, bool]:
    hits = await lookups.search(query_terms(text), offset=0, limit=limit, count_up_to=101)
    return ids(hits.stories), hits.total, hits.matched_all


async def test_search_ranks_title_matches_first_then_heat(lookups: LookupStore, corpus: Corpus) -> None:
    found, total, matched_all = await search(lookups, "fusion")
    assert found == [corpus["fusion_hot"], corpus["fusion_cold"], corpus["fusion_excerpt"]]
    assert (total, matched_all) == (3, True)
    page = await lookups.search(["fusion"], offset=1, limit=1, count_up_to=2)
    assert (ids(page.stories), page.total) == ([corpus["fusion_cold"]], 2)


async def test_search_falls_back_to_any_word(lookups: LookupStore, corpus: Corpus) -> None:
    found, total, matched_all = await search(lookups, "zebra fusion")
    assert not matched_all
    assert total == 4
    assert found == [corpus[n] for n in ("zebra", "fusion_hot", "fusion_cold", "fusion_excerpt")]
    assert await search(lookups, "zebra unicorn") == ([corpus["zebra"]], 1, False)
    assert await search(lookups, "unicorn") == ([], 0, True)


async def test_search_folds_diacritics_both_ways(lookups: LookupStore, corpus: Corpus) -> None:
    for typed in ("cafe", "CAFÉ", "café culture"):
        assert (await search(lookups, typed))[0] == [corpus["cafe"]]


@pytest.mark.parametrize(
    "typed",
    ['"quantum', "quantum*", "NEAR(quantum chips)", "quantum & chips | !c ():", "'quantum':* & !", "quantum\\"],
)
async def test_search_reads_hostile_text_as_words(lookups: LookupStore, corpus: Corpus, typed: str) -> None:
    found, _total, _all = await search(lookups, typed)
    assert found == [corpus["quantum"]]


async def test_search_of_operator_words_finds_nothing_instead_of_failing(lookups: LookupStore) -> None:
    for typed in ("a & b | !c ():", "AND OR NOT", "* ( ) :"):
        terms = query_terms(typed)
        hits = await lookups.search(terms, offset=0, limit=5, count_up_to=101) if terms else None
        assert hits is None or hits.total == 0


# ----- trending ----------------------------------------------------------------------------------------------


@pytest.fixture(params=["narrow", "wide"])
def trending_plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of reading a window: the whole window sorted, or a heat index walked from the top."""
    if request.param == "wide":
        monkeypatch.setattr(sqlite_lookups, "_WINDOW_SCAN_LIMIT", 0)
        monkeypatch.setattr(pg_lookups, "_WINDOW_SCAN_LIMIT", 0)
    return str(request.param)


async def test_trending_windows_and_topic(lookups: LookupStore, corpus: Corpus, trending_plan: str) -> None:
    async def trending(hours: float, topic: str | None = None, offset: int = 0) -> tuple[list[int], int]:
        on = None if topic is None else await lookups.topic_by_name(topic)
        found, total = await lookups.trending(
            since=NOW - timedelta(hours=hours), topic=on, offset=offset, limit=5, count_up_to=101
        )
        return ids(found), total

    assert await trending(1) == ([corpus["t_30m"]], 1)
    assert await trending(6) == ([corpus["t_3h"], corpus["t_30m"]], 2)
    assert await trending(72) == ([corpus[n] for n in ("t_2d", "t_3h", "t_30m")], 3)
    assert await trending(72, "trend") == ([corpus["t_2d"], corpus["t_30m"]], 2)
    assert await trending(6, "trend") == ([corpus["t_30m"]], 1)
    assert await trending(72, offset=1) == ([corpus["t_3h"], corpus["t_30m"]], 3)
    assert await trending(0.1) == ([], 0)


# ----- related -----------------------------------------------------------------------------------------------


async def _story_of(lookups: LookupStore, story_id: int) -> StoryView:
    story = await lookups.story_by_id(story_id)
    assert story is not None
    return story


async def test_related_links_own_list_linking_and_similar(lookups: LookupStore, corpus: Corpus) -> None:
    found = await lookups.related(await _story_of(lookups, corpus["a"]), linking_limit=3, similar_limit=5)
    # B arrived after A's file named it: linked all the same; the outside story has no copy of ours.
    assert [(e.position, e.title) for e in found.entries] == [(0, "B as A's file saw it"), (1, "Outside story")]
    assert found.entries[0].story is not None
    assert found.entries[0].story.id == corpus["b"]
    assert found.entries[1].story is None
    assert ids(found.linking) == [corpus["c"]]
    # D shares A's words and its topic; the others only the topic. B and C are shown above, so not again.
    assert ids(found.similar)[0] == corpus["d"]
    assert all(s.topics == ("AI",) for s in found.similar)
    assert not {corpus["a"], corpus["b"], corpus["c"]} & set(ids(found.similar))


async def test_related_entry_linked_when_our_copy_came_first(lookups: LookupStore, corpus: Corpus) -> None:
    found = await lookups.related(await _story_of(lookups, corpus["e"]), linking_limit=3, similar_limit=5)
    assert [e.story.id if e.story else None for e in found.entries] == [corpus["f"]]
    backwards = await lookups.related(await _story_of(lookups, corpus["f"]), linking_limit=3, similar_limit=5)
    assert ids(backwards.linking) == [corpus["e"]]
    assert backwards.entries == ()


async def test_related_for_a_story_sharing_nothing(lookups: LookupStore, corpus: Corpus) -> None:
    # No word in common with any story, and the only story on its topic.
    found = await lookups.related(await _story_of(lookups, corpus["cloud1"]), linking_limit=3, similar_limit=5)
    assert (found.entries, found.linking, found.similar) == ((), (), ())


# Similar stories, in a store shaped like one site's: the site's own topic on every story, a few sub-topics.


def _seed_similar(location: StoreLocation) -> Corpus:
    corpus = Corpus()
    with Seeder(location) as seeder:

        def add(name: str, story: SeedStory) -> None:
            corpus.ids[name] = seeder.add(story, at=LONG_AGO)

        for n in range(6):
            add(f"filler{n}", _story(f"Filler number {n}", topics=("AI",), heat=50))
        add("cv", _story("Factory cameras spot defects early", topics=("Computer Vision", "AI"), heat=80))
        # Shares both topics and no word: the story a reader expects first.
        add("sibling", _story("Retail shelves watched by smart lenses", topics=("Computer Vision", "AI"), heat=70))
        # Shares words and topics, but suppressed (a sponsored post): never suggested.
        add("sponsored", _story("Factory cameras spot defects: sponsored", topics=("Computer Vision", "AI"), heat=-1))
        # Share words only.
        add("space", _story("Rover cameras spot dust devils", topics=("Space", "Robotics"), heat=90))
        add("storage", _story("Early defects in cold storage drives", topics=("Storage", "Azure"), heat=60))
    return corpus


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def similar_seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StoreLocation, Corpus]]:
    if request.param == "sqlite":
        location = parse_location(tmp_path_factory.mktemp("similar") / "x.db")
        yield location, _seed_similar(location)
        return
    with private_schema() as url:
        location = parse_location(url)
        yield location, _seed_similar(location)


async def _similar(seeded: tuple[StoreLocation, Corpus], name: str) -> list[int]:
    location, corpus = seeded
    store = await open_store(location)
    try:
        found = await store.lookups.related(
            await _story_of(store.lookups, corpus[name]), linking_limit=3, similar_limit=5
        )
    finally:
        await store.close()
    return ids(found.similar)


async def test_similar_puts_the_story_sharing_every_topic_first_even_without_a_shared_word(
    similar_seeded: tuple[StoreLocation, Corpus],
) -> None:
    corpus = similar_seeded[1]
    similar = await _similar(similar_seeded, "cv")
    assert similar[0] == corpus["sibling"]
    # Stories sharing only words still come, after it.
    assert set(similar[1:3]) == {corpus["space"], corpus["storage"]}
    # The site's own topic is on almost every story: sharing it alone makes nothing similar.
    assert not {corpus[f"filler{n}"] for n in range(6)} & set(similar)


async def test_similar_never_suggests_a_suppressed_story(similar_seeded: tuple[StoreLocation, Corpus]) -> None:
    corpus = similar_seeded[1]
    for name in ("cv", "sibling", "space", "storage"):
        assert corpus["sponsored"] not in await _similar(similar_seeded, name)
