"""The lookup commands as a user sees them, over a real SQLite store: ordering, paging, "did you mean",
autocompletes, related linking, hostile search text and trending windows."""

from __future__ import annotations

from datetime import timedelta

import pytest

import db.sqlite.lookups as lookups_module
from bot.clock import ManualClock
from bot.errors import InvalidArgument, NotFound
from bot.services.lookups import LookupService, StorySort
from db.interfaces import Store
from db.text import autocomplete_terms
from tests.support.storydb import NOW, Related, Story, add_stories, add_story


@pytest.fixture
def service(store: Store, clock: ManualClock) -> LookupService:
    return LookupService(store.lookups, clock)


def titles(stories: object) -> list[str]:
    return [s.title for s in stories]  # type: ignore[attr-defined]


# ----- /topic ---------------------------------------------------------------------------------------------


async def test_topic_hot_lists_hottest_first_with_suppressed_and_unknown_last(
    service: LookupService, store: Store
) -> None:
    await add_stories(
        store,
        [
            Story("warm", heat=72),
            Story("unknown", heat=None),
            Story("blazing", heat=189),
            Story("suppressed", heat=-1),
            Story("hot", heat=104),
        ],
    )
    result = await service.topic("AI")
    assert titles(result.page.items) == ["blazing", "hot", "warm", "suppressed", "unknown"]
    assert result.sort is StorySort.HOT


async def test_topic_new_lists_newest_published_first(service: LookupService, store: Store) -> None:
    await add_stories(
        store,
        [
            Story("old", published_at=NOW - timedelta(days=3), heat=150),
            Story("newest", published_at=NOW - timedelta(hours=1), heat=10),
            Story("middle", published_at=NOW - timedelta(days=1), heat=90),
        ],
    )
    result = await service.topic("AI", sort="new")
    assert titles(result.page.items) == ["newest", "middle", "old"]


async def test_topic_name_is_case_insensitive(service: LookupService, store: Store) -> None:
    await add_story(store, Story("one", topics=("Power Apps",)))
    result = await service.topic("  power   APPS ")
    assert result.topic.name == "Power Apps"


async def test_topic_pages_through_every_story_in_pages_of_five(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story(f"s{i:02d}", heat=100 - i) for i in range(12)])
    pages = [await service.topic("AI", page=n) for n in range(3)]
    assert [len(p.page.items) for p in pages] == [5, 5, 2]
    assert [p.page.label for p in pages] == ["page 1/3", "page 2/3", "page 3/3"]
    assert titles(i for p in pages for i in p.page.items) == [f"s{i:02d}" for i in range(12)]
    assert (pages[0].page.has_previous, pages[0].page.has_next) == (False, True)
    assert (pages[2].page.has_previous, pages[2].page.has_next) == (True, False)


async def test_topic_page_past_the_end_shows_the_last_page(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story(f"s{i}") for i in range(7)])
    result = await service.topic("AI", page=9)
    assert result.page.label == "page 2/2"
    assert len(result.page.items) == 2


async def test_topic_pages_of_big_and_small_topics_are_in_heat_order(
    service: LookupService, store: Store
) -> None:
    await add_stories(
        store,
        [Story(f"ai{i}", heat=(i * 37) % 101, topics=("AI", "Rare") if i % 20 == 0 else ("AI",)) for i in range(60)],
    )
    big = [s for n in range(12) for s in (await service.topic("AI", page=n)).page.items]
    heats = [s.heat or 0 for s in big]
    assert heats == sorted(heats, reverse=True)
    assert len(big) == 60
    rare = (await service.topic("Rare")).page.items
    assert [s.title for s in rare] == [s.title for s in big if s.title in {"ai0", "ai20", "ai40"}]


async def test_topic_unknown_suggests_close_names(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story("a", topics=("Machine Learning",)), Story("b", topics=("Power BI",))])
    with pytest.raises(NotFound) as error:
        await service.topic("machne lerning")
    assert "There is no topic “machne lerning”" in error.value.user_message
    assert "Did you mean “Machine Learning”?" in error.value.user_message


async def test_topic_unknown_prefix_suggests_matching_topics(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story("a", topics=("AI Ethics",)), Story("b", topics=("AI in Autos",))])
    with pytest.raises(NotFound) as error:
        await service.topic("AI")
    assert "“AI Ethics”" in error.value.user_message
    assert "“AI in Autos”" in error.value.user_message


async def test_topic_unknown_with_nothing_close_points_to_topics(service: LookupService, store: Store) -> None:
    await add_story(store, Story("a", topics=("Azure",)))
    with pytest.raises(NotFound) as error:
        await service.topic("zzzz")
    assert "`/topics` lists every topic" in error.value.user_message


async def test_topic_rejects_unknown_sort_and_empty_name(service: LookupService, store: Store) -> None:
    await add_story(store, Story("a"))
    with pytest.raises(InvalidArgument, match="hot"):
        await service.topic("AI", sort="coldest")
    with pytest.raises(InvalidArgument, match="topic name"):
        await service.topic("   ")


# ----- /topics --------------------------------------------------------------------------------------------


async def test_topics_lists_most_stories_first_with_counts(service: LookupService, store: Store) -> None:
    await add_stories(
        store,
        [Story("a", topics=("AI", "Ethics")), Story("b", topics=("AI",)), Story("c", topics=("Azure",))],
    )
    result = await service.topics()
    assert [(t.name, t.story_count) for t in result.page.items] == [("AI", 2), ("Azure", 1), ("Ethics", 1)]
    assert result.page.label == "page 1/1"


async def test_topics_pages_twenty_at_a_time(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story(f"s{i}", topics=(f"Topic {i:02d}",)) for i in range(45)])
    last = await service.topics(page=2)
    assert last.page.label == "page 3/3"
    assert len(last.page.items) == 5
    assert (await service.topics(page=99)).page.label == "page 3/3"


async def test_topics_with_an_empty_store_says_so(service: LookupService) -> None:
    with pytest.raises(NotFound, match="No topics yet"):
        await service.topics()


# ----- topic autocomplete ---------------------------------------------------------------------------------


async def test_topic_choices_prefix_first_then_substring_most_used_first(
    service: LookupService, store: Store
) -> None:
    await add_stories(
        store,
        [
            Story("1", topics=("Facebook AI",)),
            Story("2", topics=("Facebook AI",)),
            Story("3", topics=("AI Ethics",)),
            Story("4", topics=("AI",)),
            Story("5", topics=("AI",)),
            Story("6", topics=("AI",)),
            Story("7", topics=("Azure",)),
        ],
    )
    choices = await service.topic_choices("ai")
    assert [c.value for c in choices] == ["AI", "AI Ethics", "Facebook AI"]
    assert choices[0].name == "AI (3)"


async def test_topic_choices_empty_text_lists_most_used_and_caps_at_25(
    service: LookupService, store: Store
) -> None:
    await add_stories(store, [Story(f"s{i}", topics=(f"Topic {i:02d}",)) for i in range(30)])
    await add_story(store, Story("extra", topics=("Topic 29",)))
    choices = await service.topic_choices("")
    assert len(choices) == 25
    assert choices[0].value == "Topic 29"


async def test_topic_choices_treat_wildcards_literally(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story("a", topics=("100% Cloud",)), Story("b", topics=("Cloud",))])
    assert [c.value for c in await service.topic_choices("%")] == ["100% Cloud"]
    assert await service.topic_choices("_") == []


async def test_topic_choices_fit_discord_choice_limits(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story("a", topics=("T" * 99,)), Story("b", topics=("U" * 150,))])
    choices = await service.topic_choices("")
    assert [c.value for c in choices] == ["T" * 99]
    assert all(len(c.name) <= 100 and len(c.value) <= 100 for c in choices)


# ----- story autocomplete and resolving -------------------------------------------------------------------


async def test_story_choices_match_title_prefix_as_typed(service: LookupService, store: Store) -> None:
    ids = await add_stories(
        store,
        [Story("Self-Driving Cars Boost Vacation Homes"), Story("Driving tests go digital"), Story("Other news")],
    )
    choices = await service.story_choices("self dri")
    assert [c.value for c in choices] == [str(ids[0])]
    assert choices[0].name == "Self-Driving Cars Boost Vacation Homes"
    assert {c.value for c in await service.story_choices("DRIV")} == {str(ids[0]), str(ids[1])}


async def test_story_choices_empty_text_offers_recent_hot_stories(service: LookupService, store: Store) -> None:
    await add_stories(
        store,
        [Story("cold", heat=10), Story("hot", heat=150), Story("suppressed", heat=-1), Story("warm", heat=80)],
    )
    choices = await service.story_choices("")
    assert [c.name for c in choices] == ["hot", "warm", "cold", "suppressed"]


async def test_story_choices_cap_at_25_and_100_characters(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story(f"Quantum chips {i} " + "x" * 150) for i in range(30)])
    choices = await service.story_choices("quantum")
    assert len(choices) == 25
    assert all(len(c.name) <= 100 and len(c.value) <= 100 for c in choices)


@pytest.mark.parametrize("text", ['"', "*", "(", "NEAR(", "a OR", '") OR title:*', "^x", "-", "🔥", "\x00"])
async def test_story_choices_survive_hostile_text(service: LookupService, store: Store, text: str) -> None:
    await add_story(store, Story("Anything"))
    assert isinstance(await service.story_choices(text), list)


async def test_story_choices_accept_an_id_or_a_link(service: LookupService, store: Store) -> None:
    story_id = await add_story(store, Story("Linked story", url="https://www.site.example/a/?utm_source=x"))
    assert [c.value for c in await service.story_choices(str(story_id))] == [str(story_id)]
    assert [c.value for c in await service.story_choices("http://site.example/a")] == [str(story_id)]


async def test_resolve_story_by_id_url_or_title(service: LookupService, store: Store) -> None:
    ids = await add_stories(
        store,
        [
            Story("Delhi Airport evaluating computer vision", url="https://www.news.example/delhi/"),
            Story("Power Apps release wave"),
        ],
    )
    assert (await service.resolve_story(str(ids[1]))).id == ids[1]
    assert (await service.resolve_story(f"#{ids[1]}")).id == ids[1]
    assert (await service.resolve_story("https://news.example/delhi?utm_campaign=z")).id == ids[0]
    assert (await service.resolve_story("delhi airport vision")).id == ids[0]
    assert (await service.resolve_story("airport banana")).id == ids[0]  # any word when all words fail


async def test_resolve_story_unknown_link_or_title_says_what_to_try(service: LookupService, store: Store) -> None:
    await add_story(store, Story("Something"))
    with pytest.raises(NotFound, match="link"):
        await service.resolve_story("https://unknown.example/x")
    with pytest.raises(NotFound, match="/search"):
        await service.resolve_story("zebra crossing")
    with pytest.raises(InvalidArgument):
        await service.resolve_story("   ")


# ----- /related -------------------------------------------------------------------------------------------


async def test_related_links_entries_to_our_copy_when_listed_story_arrives_later(
    service: LookupService, store: Store
) -> None:
    first = await add_story(
        store,
        Story("Delhi airport tracks passengers", related=(Related("https://b.example/story", "B title"),
                                                          Related("https://gone.example/x", "Gone"))),
    )
    second = await add_story(store, Story("Airport tech to track passengers", url="https://www.b.example/story/"))
    result = await service.related(str(first))
    assert [e.title for e in result.entries] == ["B title", "Gone"]
    assert result.entries[0].story is not None
    assert result.entries[0].story.id == second
    assert result.entries[1].story is None


async def test_related_links_entries_to_our_copy_when_listed_story_came_first(
    service: LookupService, store: Store
) -> None:
    earlier = await add_story(store, Story("Earlier", url="https://b.example/story"))
    later = await add_story(store, Story("Later", related=(Related("http://www.b.example/story?utm_source=x"),)))
    result = await service.related(str(later))
    assert result.entries[0].story is not None
    assert result.entries[0].story.id == earlier


async def test_related_shows_stories_whose_list_names_this_one(service: LookupService, store: Store) -> None:
    target = await add_story(store, Story("Target", url="https://t.example/1"))
    lister = await add_story(store, Story("Lister", related=(Related("https://t.example/1"),)))
    result = await service.related(str(target))
    assert [s.id for s in result.linking] == [lister]


async def test_related_similar_stories_share_words_and_topics_not_itself(
    service: LookupService, store: Store
) -> None:
    ids = await add_stories(
        store,
        [
            Story("Quantum computing breakthrough at university lab", "Qubits held for longer.", ("Quantum",)),
            Story("University lab reports quantum computing record", "Qubits again.", ("Quantum",)),
            Story("Quantum computing stocks rally", "Investors cheer.", ("Finance",)),
            Story("Bakery opens downtown", "Fresh bread daily.", ("Food",)),
        ],
    )
    result = await service.related(str(ids[0]))
    similar = [s.id for s in result.similar]
    assert similar[:2] == [ids[1], ids[2]]
    assert ids[0] not in similar
    assert ids[3] not in similar


async def test_related_similar_lists_the_story_on_the_same_topics_and_never_a_suppressed_one(
    service: LookupService, store: Store
) -> None:
    # A site's store: its own topic ("AI") on every story, sub-topics on a few.
    await add_stories(store, [Story(f"Filler {n}", f"Nothing {n}.", ("AI",)) for n in range(6)])
    ids = await add_stories(
        store,
        [
            Story("Factory cameras spot defects early", "Assembly lines.", ("Computer Vision", "AI")),
            Story("Retail shelves watched by smart lenses", "Stock counts.", ("Computer Vision", "AI")),
            Story("Factory cameras spot defects: sponsored", "Paid post.", ("Computer Vision", "AI"), heat=-1),
            Story("Rover cameras spot dust devils", "Mars.", ("Space", "Robotics")),
        ],
    )
    result = await service.related(str(ids[0]))
    assert titles(result.similar) == ["Retail shelves watched by smart lenses", "Rover cameras spot dust devils"]


async def test_related_does_not_repeat_linked_stories_as_similar(service: LookupService, store: Store) -> None:
    other = await add_story(store, Story("Quantum lab record", url="https://q.example/1"))
    main = await add_story(store, Story("Quantum lab news", related=(Related("https://q.example/1"),)))
    result = await service.related(str(main))
    assert other not in [s.id for s in result.similar]


# ----- /search --------------------------------------------------------------------------------------------


async def test_search_ranks_title_matches_above_excerpt_matches(service: LookupService, store: Store) -> None:
    await add_stories(
        store,
        [
            Story("Markets today", excerpt="Analysts discussed quantum computing briefly."),
            Story("Quantum computing leaps ahead", excerpt="A new chip."),
        ],
    )
    result = await service.search("quantum computing")
    assert titles(result.page.items) == ["Quantum computing leaps ahead", "Markets today"]


async def test_search_equal_relevance_falls_back_to_heat(service: LookupService, store: Store) -> None:
    await add_stories(
        store,
        [Story("Robots at work", heat=70), Story("Robots at play", heat=150), Story("Robots at sea", heat=None)],
    )
    result = await service.search("robots")
    assert titles(result.page.items) == ["Robots at play", "Robots at work", "Robots at sea"]


@pytest.mark.parametrize(
    "query",
    [
        '"quantum',
        "quantum*",
        "quantum NEAR computing",
        "NEAR(quantum computing)",
        "quantum AND computing",
        "quantum OR",
        "NOT quantum",
        "((quantum",
        "quantum)",
        "title:quantum",
        "-quantum +computing",
        "^quantum",
        "quantum's computing!",
        "QUANTUM computing",
        "quantum\x00computing",
    ],
)
async def test_search_hostile_syntax_still_finds_the_story(
    service: LookupService, store: Store, query: str
) -> None:
    await add_stories(store, [Story("Quantum computing leaps ahead"), Story("Unrelated")])
    result = await service.search(query)
    assert titles(result.page.items)[0] == "Quantum computing leaps ahead"


@pytest.mark.parametrize("query", ["", "   ", '""', "*", "()", "?!", "__"])
async def test_search_without_words_explains_what_is_needed(service: LookupService, query: str) -> None:
    with pytest.raises(InvalidArgument):
        await service.search(query)


async def test_search_nothing_found_says_so(service: LookupService, store: Store) -> None:
    await add_story(store, Story("Quantum"))
    with pytest.raises(NotFound, match="No stories match “zebra”"):
        await service.search("zebra")


async def test_search_only_stopwords_still_searches(service: LookupService, store: Store) -> None:
    await add_story(store, Story("The Who and the what"))
    assert titles((await service.search("the who")).page.items) == ["The Who and the what"]


async def test_search_caps_ranked_results_at_one_hundred(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story(f"Robots {i}") for i in range(105)])
    result = await service.search("robots")
    assert result.page.label == "page 1/20+"
    last = await service.search("robots", page=50)
    assert last.page.label == "page 20/20+"
    assert len(last.page.items) == 5


# ----- /trending ------------------------------------------------------------------------------------------


async def test_trending_lists_hottest_first_seen_in_window(service: LookupService, store: Store) -> None:
    await add_stories(
        store,
        [
            Story("in warm", heat=75, first_seen_at=NOW - timedelta(hours=2)),
            Story("in hot", heat=140, first_seen_at=NOW - timedelta(hours=23)),
            Story("too old", heat=189, first_seen_at=NOW - timedelta(hours=25)),
            Story("suppressed", heat=-1, first_seen_at=NOW - timedelta(hours=1)),
            Story("unknown", heat=None, first_seen_at=NOW - timedelta(hours=1)),
        ],
    )
    result = await service.trending()
    assert titles(result.page.items) == ["in hot", "in warm"]
    assert result.hours == 24


async def test_trending_window_edge_is_inclusive(
    service: LookupService, store: Store, clock: ManualClock
) -> None:
    await add_stories(
        store,
        [
            Story("exactly 3h", first_seen_at=NOW - timedelta(hours=3)),
            Story("just older", first_seen_at=NOW - timedelta(hours=3, microseconds=1)),
        ],
    )
    assert titles((await service.trending(hours=3)).page.items) == ["exactly 3h"]
    clock.advance(timedelta(microseconds=1))
    with pytest.raises(NotFound, match="last 3 hours"):
        await service.trending(hours=3)


async def test_trending_window_follows_the_clock(
    service: LookupService, store: Store, clock: ManualClock
) -> None:
    await add_story(store, Story("fresh", first_seen_at=NOW - timedelta(minutes=30)))
    assert titles((await service.trending(hours=1)).page.items) == ["fresh"]
    clock.advance(timedelta(minutes=31))
    with pytest.raises(NotFound, match="Try a longer window"):
        await service.trending(hours=1)


async def test_trending_filters_by_topic(service: LookupService, store: Store) -> None:
    await add_stories(
        store,
        [Story("ai story", topics=("AI",), heat=80), Story("azure story", topics=("Azure",), heat=150)],
    )
    result = await service.trending(topic="ai")
    assert titles(result.page.items) == ["ai story"]
    assert result.topic is not None
    assert result.topic.name == "AI"


@pytest.mark.parametrize("hours", [0, -5, 721, 10_000])
async def test_trending_rejects_hours_outside_1_to_720(service: LookupService, hours: int) -> None:
    with pytest.raises(InvalidArgument, match="between 1 and 720"):
        await service.trending(hours=hours)


async def test_trending_accepts_both_ends_of_the_range(service: LookupService, store: Store) -> None:
    await add_story(store, Story("now", first_seen_at=NOW))
    assert titles((await service.trending(hours=1)).page.items) == ["now"]
    assert titles((await service.trending(hours=720)).page.items) == ["now"]


async def test_trending_unknown_topic_suggests(service: LookupService, store: Store) -> None:
    await add_story(store, Story("x", topics=("Azure",)))
    with pytest.raises(NotFound, match="Did you mean “Azure”"):
        await service.trending(topic="azur")


@pytest.mark.parametrize(("window_limit", "seek_cost"), [(0, 5), (3, 5), (20_000, 0), (20_000, 10**9)])
async def test_trending_every_query_plan_gives_the_same_answer(
    service: LookupService, store: Store, monkeypatch: pytest.MonkeyPatch, window_limit: int, seek_cost: int
) -> None:
    # The repository picks a plan from the window's size and the topic's; force each one and compare.
    monkeypatch.setattr(lookups_module, "_WINDOW_SCAN_LIMIT", window_limit)
    monkeypatch.setattr(lookups_module, "_SEEK_COST", seek_cost)
    await add_stories(
        store,
        [
            Story(f"s{i}", heat=(i * 53) % 120, topics=("AI", "Rare") if i % 4 == 0 else ("AI",),
                  first_seen_at=NOW - timedelta(hours=i))
            for i in range(40)
        ],
    )
    everything = [s.title for n in range(4) for s in (await service.trending(hours=24, page=n)).page.items]
    # s0..s24 are in the 24-hour window (s24 exactly on its edge); heats are distinct, hottest first.
    expected = [f"s{i}" for i in sorted(range(25), key=lambda i: (-((i * 53) % 120), i))]
    assert everything == expected[:20]
    rare = [s.title for s in (await service.trending(hours=24, topic="Rare")).page.items]
    assert rare == [t for t in expected if int(t[1:]) % 4 == 0][:5]


async def test_search_without_a_story_having_every_word_shows_closest_matches(
    service: LookupService, store: Store
) -> None:
    await add_stories(store, [Story("Quantum computing leaps"), Story("Zebra crossing")])
    result = await service.search("quantum zebra giraffe")
    assert result.matched_all is False
    assert set(titles(result.page.items)) == {"Quantum computing leaps", "Zebra crossing"}


async def test_story_choices_put_titles_starting_with_the_text_first(
    service: LookupService, store: Store
) -> None:
    await add_stories(
        store, [Story("Why cloud costs rise", heat=150), Story("Cloud costs explained", heat=20)]
    )
    choices = await service.story_choices("cloud co")
    assert [c.name for c in choices] == ["Cloud costs explained", "Why cloud costs rise"]


@pytest.mark.parametrize(
    ("typed", "terms", "prefix"),
    [
        ("self dri", ["self", "dri"], True),
        ("the new a", ["new"], False),  # one letter after real words narrows nothing
        ("a", ["a"], True),
        ("AI AI", ["ai"], True),
        ("", [], False),
    ],
)
def test_autocomplete_terms_treat_the_last_word_as_unfinished(typed: str, terms: list[str], prefix: bool) -> None:
    assert autocomplete_terms(typed) == (terms, prefix)


async def test_related_similar_ignores_words_only_this_story_uses(service: LookupService, store: Store) -> None:
    ids = await add_stories(
        store,
        [
            Story("Zyxwv quantum chips", "Unique words qwertz.", ("AI",)),
            Story("Quantum chips get cheaper", "Prices fall.", ("AI",)),
        ],
    )
    result = await service.related(str(ids[0]))
    assert [s.id for s in result.similar] == [ids[1]]
