"""The lookup commands' logic, shared by the slash commands and the console playground.

Validates what a person typed, pages results in sizes that fit one Discord message, and turns "nothing
there" into a `NotFound` that says what to try instead. Returns plain frozen dataclasses: no Discord types.
"""

from __future__ import annotations

import difflib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from bot.clock import Clock
from bot.errors import InvalidArgument, NotFound
from bot.urls import is_http_url, normalize_url
from db.interfaces import LivingPostStore, LookupStore
from db.models import RelatedEntry, SearchHits, StorySort, StoryView, TopicInfo
from db.text import query_terms

log = logging.getLogger(__name__)

__all__ = [
    "MAX_HOURS",
    "MAX_RANKED_RESULTS",
    "MIN_HOURS",
    "STORIES_PER_PAGE",
    "TOPICS_PER_PAGE",
    "Choice",
    "LookupService",
    "Page",
    "RelatedResult",
    "SearchResult",
    "StorySort",
    "TopicResult",
    "TopicsResult",
    "TrendingResult",
]

# Five story embeds keep a page readable on a phone and leave each embed ~1,190 of the 6,000 characters a
# message may hold across its embeds.
STORIES_PER_PAGE = 5
TOPICS_PER_PAGE = 20
# Search and trending are rankings: past the best hundred nobody reads on, and counting further costs time.
MAX_RANKED_RESULTS = 100
MIN_HOURS, MAX_HOURS = 1, 720
SIMILAR_LIMIT = 5
LINKING_LIMIT = 3
# Discord rejects autocomplete choices whose name or value is longer than this.
CHOICE_TEXT_LIMIT = 100
_MAX_QUERY_CHARS = 300
AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 choices
_SUGGESTIONS = 3

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a longer list: its items, where it sits, and how many there are in all."""

    items: tuple[T, ...]
    number: int  # 0-based
    size: int
    total: int
    capped: bool = False  # total stopped counting at a limit ("100+")

    @property
    def count(self) -> int:
        """How many pages there are (at least 1, so "page 1/1" is shown for an empty list)."""
        return max(1, math.ceil(self.total / self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number + 1 < self.count

    @property
    def first_position(self) -> int:
        """1-based position of the first item on this page."""
        return self.number * self.size + 1

    @property
    def label(self) -> str:
        """e.g. "page 2/7" or "page 2/20+" when the total is capped."""
        return f"page {self.number + 1}/{self.count}{'+' if self.capped else ''}"


@dataclass(frozen=True, slots=True)
class Choice:
    """An autocomplete suggestion: what the person sees and what the command receives (both <= 100 chars)."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class TopicResult:
    topic: TopicInfo
    sort: StorySort
    page: Page[StoryView]


@dataclass(frozen=True, slots=True)
class TopicsResult:
    page: Page[TopicInfo]


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    page: Page[StoryView]
    matched_all: bool = True  # False: no story has every word, so these match some of them


@dataclass(frozen=True, slots=True)
class TrendingResult:
    hours: int
    topic: TopicInfo | None
    page: Page[StoryView]


@dataclass(frozen=True, slots=True)
class RelatedResult:
    """A story, its file's own related list, stories whose lists name it, and similar stories we have."""

    story: StoryView
    entries: tuple[RelatedEntry, ...]
    linking: tuple[StoryView, ...]
    similar: tuple[StoryView, ...]
    also_covered: tuple[StoryView, ...] = ()  # the same event from other providers, as living posts grouped it


def _clip(text: str, limit: int = CHOICE_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _page_number(page: int, total: int, size: int) -> int:
    # A button pressed on a stale message may ask for a page that no longer exists; show the last one.
    last = max(0, math.ceil(total / size) - 1)
    return min(max(page, 0), last)


def _ranked_page_number(page: int) -> int:
    # Rankings stop at MAX_RANKED_RESULTS, even when a stale button asks for page 40.
    return min(max(page, 0), MAX_RANKED_RESULTS // STORIES_PER_PAGE - 1)


class LookupService:
    """/topic, /topics, /related, /search, /trending and their autocompletes, independent of Discord."""

    def __init__(self, repo: LookupStore, clock: Clock, *, living: LivingPostStore | None = None) -> None:
        self._repo = repo
        self._clock = clock
        self._living = living

    # ----- topics -----------------------------------------------------------------------------------------

    async def find_topic(self, name: str) -> TopicInfo:
        """The topic with this name (any case), or NotFound suggesting close names."""
        cleaned = _one_line(name)
        if not cleaned:
            raise InvalidArgument("Give a topic name, e.g. `AI`. `/topics` lists them all.")
        topic = await self._repo.topic_by_name(cleaned)
        if topic is not None and topic.story_count > 0:
            return topic
        suggestions = await self._suggest_topics(cleaned)
        hint = f" Did you mean {_or_list(suggestions)}?" if suggestions else " `/topics` lists every topic."
        raise NotFound(f"There is no topic “{_clip(cleaned, 60)}”.{hint}")

    async def _suggest_topics(self, name: str) -> list[str]:
        close = [t.name for t in await self._repo.topic_choices(name, limit=_SUGGESTIONS)]
        if len(close) < _SUGGESTIONS:
            names = await self._repo.topic_names()
            by_key = {n.casefold(): n for n in names}
            for key in difflib.get_close_matches(name.casefold(), list(by_key), n=_SUGGESTIONS, cutoff=0.6):
                if by_key[key] not in close:
                    close.append(by_key[key])
        return close[:_SUGGESTIONS]

    async def topic(self, name: str, *, sort: str | StorySort = StorySort.HOT, page: int = 0) -> TopicResult:
        """Stories on a topic, hottest (default) or newest first, one page at a time."""
        order = _parse_sort(sort)
        topic = await self.find_topic(name)
        number = _page_number(page, topic.story_count, STORIES_PER_PAGE)
        stories = await self._repo.topic_stories(
            topic, sort=order, offset=number * STORIES_PER_PAGE, limit=STORIES_PER_PAGE
        )
        return TopicResult(topic, order, Page(tuple(stories), number, STORIES_PER_PAGE, topic.story_count))

    async def topics(self, *, page: int = 0) -> TopicsResult:
        """Every topic with its number of stories, most stories first."""
        number = max(page, 0)
        items, total = await self._repo.topics_page(offset=number * TOPICS_PER_PAGE, limit=TOPICS_PER_PAGE)
        if not items and total:
            number = _page_number(number, total, TOPICS_PER_PAGE)
            items, total = await self._repo.topics_page(offset=number * TOPICS_PER_PAGE, limit=TOPICS_PER_PAGE)
        if not total:
            raise NotFound("No topics yet: no stories have been ingested.")
        return TopicsResult(Page(tuple(items), number, TOPICS_PER_PAGE, total))

    async def topic_choices(self, current: str) -> list[Choice]:
        """Autocomplete for topic names: prefix matches first, then substring, most-used first (<= 25)."""
        topics = await self._repo.topic_choices(_one_line(current)[:CHOICE_TEXT_LIMIT], limit=AUTOCOMPLETE_LIMIT)
        return [
            Choice(name=_clip(f"{t.name} ({t.story_count})"), value=_clip(t.name))
            for t in topics
            if len(t.name) <= CHOICE_TEXT_LIMIT  # a value cut short would name no topic
        ]

    # ----- stories ----------------------------------------------------------------------------------------

    async def story_choices(self, current: str) -> list[Choice]:
        """Autocomplete for stories by title (value = the story id); recent hot stories when nothing is typed."""
        text = _one_line(current)[:_MAX_QUERY_CHARS]
        if text.isdigit() or (text.startswith("#") and text[1:].isdigit()) or is_http_url(text):
            story = await self._resolve_exact(text)
            return [] if story is None else [Choice(_choice_title(story), str(story.id))]
        choices = await self._repo.story_choices(text, limit=AUTOCOMPLETE_LIMIT)
        return [Choice(_clip(_one_line(c.title)) or f"story {c.id}", str(c.id)) for c in choices]

    async def resolve_story(self, reference: str) -> StoryView:
        """A story from its id (as autocomplete sends), a pasted URL, or words from its title."""
        text = _one_line(reference)[:_MAX_QUERY_CHARS]
        if not text:
            raise InvalidArgument("Say which story: pick one from the list, paste its link, or type its title.")
        story = await self._resolve_exact(text)
        if story is not None:
            return story
        if is_http_url(text):
            raise NotFound("I don't have a story with that link. Try `/search` with words from its title.")
        if not query_terms(text):
            raise InvalidArgument("Type a story's title, its link, or pick one from the list.")
        story = await self._repo.best_title_match(text)
        if story is None:
            raise NotFound(f"No story title matches “{_clip(text, 60)}”. Try `/search` with fewer words.")
        return story

    async def _resolve_exact(self, text: str) -> StoryView | None:
        digits = text[1:] if text.startswith("#") else text
        if digits.isdigit() and len(digits) <= 18:
            return await self._repo.story_by_id(int(digits))
        if is_http_url(text):
            return await self._repo.story_by_url(normalize_url(text))
        return None

    async def related(self, reference: str) -> RelatedResult:
        """The story, its own related list (linked to our copies), stories linking to it, then similar ones."""
        story = await self.resolve_story(reference)
        found = await self._repo.related(story, linking_limit=LINKING_LIMIT, similar_limit=SIMILAR_LIMIT)
        covered: list[StoryView] = []
        if self._living is not None:
            covered = await self._repo.stories(await self._living.same_event(story.id, limit=LINKING_LIMIT))
        return RelatedResult(story, found.entries, found.linking, found.similar, tuple(covered))

    # ----- search and trending ----------------------------------------------------------------------------

    async def search(self, query: str, *, page: int = 0) -> SearchResult:
        """Full-text search over titles and excerpts, most relevant first (heat breaks ties)."""
        text = _one_line(query)[:_MAX_QUERY_CHARS]
        if not text:
            raise InvalidArgument("Type some words to search for, e.g. `/search self-driving cars`.")
        terms = query_terms(text)
        if not terms:
            raise InvalidArgument("Search needs at least one word made of letters or numbers.")
        number = _ranked_page_number(page)
        hits = await self._search_page(terms, number)
        if not hits.stories and hits.total:
            number = _page_number(number, min(hits.total, MAX_RANKED_RESULTS), STORIES_PER_PAGE)
            hits = await self._search_page(terms, number)
        if not hits.total:
            raise NotFound(f"No stories match “{_clip(text, 60)}”. Try fewer or different words.")
        shown = min(hits.total, MAX_RANKED_RESULTS)
        page_ = Page(hits.stories, number, STORIES_PER_PAGE, shown, hits.total > MAX_RANKED_RESULTS)
        return SearchResult(text, page_, hits.matched_all)

    async def _search_page(self, terms: list[str], number: int) -> SearchHits:
        return await self._repo.search(
            terms, offset=number * STORIES_PER_PAGE, limit=STORIES_PER_PAGE, count_up_to=MAX_RANKED_RESULTS + 1
        )

    async def trending(self, *, hours: int = 24, topic: str | None = None, page: int = 0) -> TrendingResult:
        """The hottest stories first seen in the last `hours` hours (1-720), optionally on one topic."""
        if not MIN_HOURS <= hours <= MAX_HOURS:
            raise InvalidArgument(f"`hours` must be between {MIN_HOURS} and {MAX_HOURS} (30 days); got {hours}.")
        found = await self.find_topic(topic) if topic is not None and topic.strip() else None
        since = self._clock.now() - timedelta(hours=hours)
        number = _ranked_page_number(page)
        stories, total = await self._trending_page(since, found, number)
        if not stories and total:
            number = _page_number(number, min(total, MAX_RANKED_RESULTS), STORIES_PER_PAGE)
            stories, total = await self._trending_page(since, found, number)
        if not total:
            where = f" on {found.name}" if found else ""
            longer = "" if hours >= MAX_HOURS else f" Try a longer window, e.g. `hours: {min(hours * 7, MAX_HOURS)}`."
            raise NotFound(f"Nothing hot{where} was first seen in the last {_hours(hours)}.{longer}")
        shown = min(total, MAX_RANKED_RESULTS)
        capped = total > MAX_RANKED_RESULTS
        return TrendingResult(hours, found, Page(tuple(stories), number, STORIES_PER_PAGE, shown, capped))

    async def _trending_page(
        self, since: datetime, topic: TopicInfo | None, number: int
    ) -> tuple[list[StoryView], int]:
        return await self._repo.trending(
            since=since,
            topic=topic,
            offset=number * STORIES_PER_PAGE,
            limit=STORIES_PER_PAGE,
            count_up_to=MAX_RANKED_RESULTS + 1,
        )


def _parse_sort(sort: str | StorySort) -> StorySort:
    if isinstance(sort, StorySort):
        return sort
    try:
        return StorySort(sort.strip().casefold())
    except ValueError:
        raise InvalidArgument("`sort` is either `hot` (hottest first) or `new` (newest first).") from None


def _or_list(names: list[str]) -> str:
    quoted = [f"“{n}”" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _hours(hours: int) -> str:
    if hours % 24 == 0:
        days = hours // 24
        return "24 hours" if days == 1 else f"{days} days"
    return "hour" if hours == 1 else f"{hours} hours"


def _choice_title(story: StoryView) -> str:
    return _clip(_one_line(story.title)) or f"story {story.id}"

