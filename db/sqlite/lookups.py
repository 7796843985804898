"""Read-only queries behind the lookup commands (/topic, /topics, /related, /search, /trending, autocompletes).

Every query here must answer in a few milliseconds with a million stories, so each one is shaped around an
index (migrations 0001 and 0003) and its plan is checked in tests/db/test_query_plans.py. Where the best
plan depends on the data (a 24-hour window holds 20k stories, a 1-hour one 700), the repository picks it from
cheap bounded counts, and names the index it means (INDEXED BY) so the planner cannot swap in a full scan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.models import (
    RelatedStories,
    SearchHits,
    StoryChoice,
    StorySort,
    StoryView,
    TopicInfo,
)
from db.records import related_stories
from db.similar import NEAR_PER_SIDE, SUPPRESSED, rank_similar, similar_topic_sources
from db.sqlite.database import SqliteDatabase
from db.sqlite.story_rows import fetch_stories
from db.sqlite.timefmt import from_db, to_db
from db.text import autocomplete_terms, distinctive_terms, query_terms, topic_key

log = logging.getLogger(__name__)

# Full-text ranking only ever looks at the newest matches: FTS5 walks a doclist in rowid order and stops at a
# LIMIT, while ranking every match of a word found in half the store means scoring 500k rows (~0.5 s). For a
# news reader the best of the newest 500 matches is the right answer anyway.
SEARCH_CANDIDATES = 500
# When the words are too common for bm25 (below), fewer candidates (just over the 100 results a search shows).
COMMON_CANDIDATES = 120
SIMILAR_CANDIDATES = 150
AUTOCOMPLETE_CANDIDATES = 200
# FTS5's bm25() first counts, for every query term, how many rows contain it: a full pass over each term's
# doclist (~25 ns per row). When the terms' document frequencies add up to more than this, bm25 alone would
# cost more than ~1.5 ms, so the query is ranked by a cheaper rule instead (see `_rank_common`).
BM25_DOCUMENT_BUDGET = 60_000
# How many of a term's newest matches are read to estimate its document frequency.
_DF_PROBE = 200

# Trending: when the window holds at most this many stories, read them all through the
# (first_seen_at, heat) index and sort; beyond that, walk a heat index from the top and stop after a page.
_WINDOW_SCAN_LIMIT = 5_000
# A seek into story_topics costs about as much as this many steps along a covering index (measured at 1M
# stories: ~4 us against ~0.1 us).
_SEEK_COST = 40


def fts_query(terms: list[str], *, prefix_last: bool = False, any_term: bool = False) -> str:
    """An FTS5 MATCH expression built only from quoted words, so user text can never be read as syntax.

    Words (`db.text`) hold only letters and digits; quoted, NEAR, AND, OR, NOT are plain words too.
    """
    if not terms:
        raise ValueError("fts_query needs at least one term")
    quoted = [f'"{t}"' for t in terms]
    if prefix_last:
        quoted[-1] += "*"
    return (" OR " if any_term else " ").join(quoted)


class SqliteLookups:
    """Lookups over the story store; returns `StoryView`s and small frozen dataclasses."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database
        self._all = database.all
        self._one = database.one

    async def stories(self, story_ids: Sequence[int]) -> list[StoryView]:
        """The stories with these ids, in the order given (missing ids are skipped)."""
        return await fetch_stories(self._db.conn, story_ids)

    # ----- topics -----------------------------------------------------------------------------------------

    async def topic_by_name(self, name: str) -> TopicInfo | None:
        """The topic with this name, compared case-insensitively."""
        row = await self._one("SELECT id, key, name, story_count FROM topics WHERE key = ?", (topic_key(name),))
        return None if row is None else TopicInfo(row[0], row[1], row[2], row[3])

    async def topics_page(self, *, offset: int, limit: int) -> tuple[list[TopicInfo], int]:
        """Topics that have stories, most stories first, and how many such topics exist."""
        rows = await self._all(
            "SELECT id, key, name, story_count FROM topics WHERE story_count > 0 "
            "ORDER BY story_count DESC, key LIMIT ? OFFSET ?",
            (limit, offset),
        )
        total = await self._one("SELECT count(*) FROM topics WHERE story_count > 0")
        return [TopicInfo(r[0], r[1], r[2], r[3]) for r in rows], int(total[0])

    async def topic_names(self, *, limit: int = 5_000) -> list[str]:
        """Display names of topics that have stories, most-used first (for "did you mean")."""
        rows = await self._all(
            "SELECT name FROM topics WHERE story_count > 0 ORDER BY story_count DESC LIMIT ?", (limit,)
        )
        return [r[0] for r in rows]

    async def topic_choices(self, text: str, *, limit: int) -> list[TopicInfo]:
        """Topics whose name starts with `text` (first), then contain it; most-used first within each group."""
        needle = topic_key(text)
        # instr() instead of LIKE: user text may contain % and _, and the topics table is small (hundreds of
        # rows), so scanning it is cheaper than any index trickery.
        rows = await self._all(
            "SELECT id, key, name, story_count FROM topics "
            "WHERE story_count > 0 AND instr(key, ?) > 0 "
            "ORDER BY instr(key, ?) != 1, story_count DESC, key LIMIT ?",
            (needle, needle, limit),
        )
        return [TopicInfo(r[0], r[1], r[2], r[3]) for r in rows]

    async def topic_stories(self, topic: TopicInfo, *, sort: StorySort, offset: int, limit: int) -> list[StoryView]:
        """One page of a topic's stories, hottest (unknown and suppressed heat last) or newest first."""
        # story_topics carries each story's sort keys (migration 0003), so a page is one short walk down a
        # covering index, however many stories the topic has.
        if sort is StorySort.HOT:
            sql = (
                "SELECT story_id FROM story_topics INDEXED BY story_topics_hot WHERE topic_id = ? "
                "ORDER BY heat DESC, story_id LIMIT ? OFFSET ?"
            )
        else:
            sql = (
                "SELECT story_id FROM story_topics INDEXED BY story_topics_new WHERE topic_id = ? "
                "ORDER BY published_at DESC, story_id DESC LIMIT ? OFFSET ?"
            )
        rows = await self._all(sql, (topic.id, limit, offset))
        return await self.stories([r[0] for r in rows])

    # ----- single stories ---------------------------------------------------------------------------------

    async def story_by_id(self, story_id: int) -> StoryView | None:
        """The story with this id, if it exists."""
        found = await self.stories([story_id])
        return found[0] if found else None

    async def story_by_url(self, normalized_url: str) -> StoryView | None:
        """The story whose identity (normalised URL) is this."""
        row = await self._one("SELECT id FROM stories WHERE url = ?", (normalized_url,))
        return None if row is None else await self.story_by_id(row[0])

    async def best_title_match(self, text: str) -> StoryView | None:
        """The story whose title best matches free text (all words, else any word), hottest on a tie."""
        terms = query_terms(text)
        if not terms:
            return None
        for any_term in (False, True):
            ids, _matches = await self._ranked(_TITLES, terms, any_term=any_term, offset=0, limit=1)
            if ids:
                return await self.story_by_id(ids[0])
        return None

    async def story_choices(self, text: str, *, limit: int) -> list[StoryChoice]:
        """Stories for the autocomplete: titles matching what is typed so far (the last word as a prefix),
        titles starting with the text first, then hottest; the newest hot stories when nothing is typed."""
        terms, prefix = autocomplete_terms(text)
        if not terms:
            return await self._recent_hot_choices(limit)
        # Only the newest matches are ranked: a prefix such as "a" matches most titles, and the story someone
        # is looking for is almost always a recent one.
        rows = await self._all(
            "SELECT s.id, s.title, s.heat FROM ("
            "  SELECT rowid AS id FROM titles_fts WHERE titles_fts MATCH ? ORDER BY rowid DESC LIMIT ?"
            ") c JOIN stories s ON s.id = c.id",
            (fts_query(terms, prefix_last=prefix), AUTOCOMPLETE_CANDIDATES),
        )
        typed = " ".join(text.split()).casefold()
        rows.sort(key=lambda r: (not r[1].casefold().startswith(typed), -_heat_key(r[2]), -r[0]))
        return [StoryChoice(r[0], r[1]) for r in rows[:limit]]

    async def _recent_hot_choices(self, limit: int) -> list[StoryChoice]:
        # The newest 200 stories (one short walk down the first-seen index), hottest of those first.
        rows = await self._all(
            "SELECT id, title FROM (SELECT id, title, heat FROM stories ORDER BY first_seen_at DESC LIMIT 200) "
            "ORDER BY heat IS NULL OR heat < 0, heat DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [StoryChoice(r[0], r[1]) for r in rows]

    # ----- related and similar ----------------------------------------------------------------------------

    async def related(self, story: StoryView, *, linking_limit: int, similar_limit: int) -> RelatedStories:
        """The story's own related list (each entry with our copy when we have its URL), stories whose lists
        name this one, and similar stories not already among those. Stories are read in one batch at the end:
        each round trip to the database thread costs as much as a small query."""
        # One round trip: the story's own entries (kind 0), the stories whose lists name it (kind 1), and its
        # topics with their story counts (kind 2, with the highest story id: the store's size).
        listed = await self._all(
            "SELECT 0 AS kind, r.position, r.url, r.link_url, r.title, r.excerpt, r.published_at, r.provider_name, "
            "r.provider_domain, r.quality, r.image_url, s.id AS ours, NULL AS topic_id, NULL AS story_count, "
            "NULL AS size FROM related_entries r LEFT JOIN stories s ON s.url = r.url WHERE r.story_id = :id "
            "UNION ALL SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, l.story_id, NULL, NULL, "
            "NULL "
            "FROM (SELECT DISTINCT story_id FROM related_entries WHERE url = :url AND story_id != :id "
            "ORDER BY story_id LIMIT :limit) l "
            "UNION ALL SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, st.topic_id, "
            "t.story_count, (SELECT max(id) FROM stories) "
            "FROM story_topics st JOIN topics t ON t.id = st.topic_id WHERE st.story_id = :id "
            "ORDER BY kind, position, ours",
            {"id": story.id, "url": story.url, "limit": linking_limit},
        )
        rows = [r for r in listed if r["kind"] == 0]
        linking_ids = [r["ours"] for r in listed if r["kind"] == 1]
        topics = [r for r in listed if r["kind"] == 2]
        ours_ids = [r["ours"] for r in rows if r["ours"] is not None and r["ours"] != story.id]
        shown = frozenset({story.id, *ours_ids, *linking_ids})
        similar_ids = await self._similar_ids(
            story,
            {r["topic_id"]: r["story_count"] for r in topics},
            topics[0]["size"] if topics else 0,
            limit=similar_limit,
            exclude=shown,
        )
        views = {s.id: s for s in await self.stories([*ours_ids, *linking_ids, *similar_ids])}
        return related_stories(story.id, rows, linking_ids, similar_ids, views, from_db)

    async def _similar_ids(
        self, story: StoryView, topic_counts: dict[int, int], stories: int, *, limit: int, exclude: frozenset[int]
    ) -> list[int]:
        """Stories like this one (never a suppressed one): those sharing its rarest title/excerpt words, ranked
        by bm25, and those sharing its topics (`topic_counts`: its topics' story counts), near it in time,
        ranked by how rare the shared topics are (`db.similar`, with `stories` the store's size)."""
        terms = await self._rarest(_STORIES, distinctive_terms(story.title, story.excerpt))
        sources = similar_topic_sources(topic_counts, stories)
        if not sources and not terms:
            return []
        # One statement gathers every candidate: the stories near this one in time on each source topic (a short
        # walk down the (topic_id, published_at, story_id) index each) and the newest stories holding its rarest
        # words with their bm25 scores; then each candidate's topic links (story_topics is clustered by story,
        # and every link carries its story's heat), so no candidate is read from `stories` unless it has no
        # topic at all. Heat only rules out suppressed stories; the topics shared with this one score.
        published = to_db(story.published_at)
        parts = [part for _ in sources for part in (_NEAR_BEFORE, _NEAR_AFTER)]
        params: list[Any] = [v for topic in sources for v in (topic, published, NEAR_PER_SIDE) * 2]
        if terms:
            parts.append(_TEXT_MATCHES.format(weights=_STORIES.weights))
            params.extend((fts_query(terms, any_term=True), SIMILAR_CANDIDATES))
        rows = await self._all(
            f"WITH pool(id, score) AS ({' UNION ALL '.join(parts)}), "
            "candidates(id, score) AS (SELECT id, max(score) FROM pool GROUP BY id) "
            "SELECT c.id, c.score, st.topic_id, coalesce(st.heat, (SELECT heat FROM stories WHERE id = c.id)) "
            "FROM candidates c LEFT JOIN story_topics st ON st.story_id = c.id",
            tuple(params),
        )
        shared: dict[int, list[int]] = {}
        text: dict[int, float] = {}
        for story_id, score, topic_id, heat in rows:
            if heat == SUPPRESSED or story_id in exclude:
                continue
            found = shared.setdefault(story_id, [])
            if score is not None:
                text[story_id] = score
            if topic_id in topic_counts:
                found.append(topic_id)
        return rank_similar(shared, text, topic_counts, stories, limit=limit)

    # ----- full-text ranking ------------------------------------------------------------------------------

    async def _frequencies(self, index: _Index, terms: list[str]) -> list[float]:
        """How many rows contain each term: exact when rare, else extrapolated from its newest matches.

        One statement for all terms: each round trip to the database thread costs more than a probe.
        """
        probe = (
            f"SELECT {{n}}, count(*), min(rowid), (SELECT max(id) FROM stories) FROM (SELECT rowid FROM {index.table} "
            f"WHERE {index.table} MATCH ? ORDER BY rowid DESC LIMIT {_DF_PROBE})"
        )
        rows = await self._all(
            " UNION ALL ".join(probe.format(n=n) for n in range(len(terms))), tuple(fts_query([t]) for t in terms)
        )
        found = [0.0] * len(terms)
        for n, count, lowest, size in rows:
            if count < _DF_PROBE or lowest is None:
                found[n] = float(count)
            else:
                # Stories arrive over time, so the share of the newest rows holding a term estimates its share
                # of all rows.
                found[n] = count * size / max(size - lowest + 1, 1)
        return found

    async def _rarest(self, index: _Index, terms: list[str]) -> list[str]:
        """The rarest of a story's `terms` that other stories share too (up to 5), within the bm25 budget."""
        if not terms:
            return []
        chosen: list[str] = []
        spent = 0.0
        for frequency, term in sorted(zip(await self._frequencies(index, terms), terms, strict=True)):
            # A word only this story uses (frequency 1) can find nothing similar.
            if frequency < 2 or spent + frequency > BM25_DOCUMENT_BUDGET:
                continue
            chosen.append(term)
            spent += frequency
        return chosen[:5]

    async def _bm25_affordable(self, index: _Index, terms: list[str]) -> bool:
        return sum(await self._frequencies(index, terms)) <= BM25_DOCUMENT_BUDGET

    async def _heats(self, ids: list[int]) -> dict[int, int | None]:
        marks = ",".join("?" * len(ids))
        rows = await self._all(f"SELECT id, heat FROM stories WHERE id IN ({marks})", tuple(ids))
        return {r[0]: r[1] for r in rows}

    async def _ranked(
        self, index: _Index, terms: list[str], *, offset: int, limit: int, any_term: bool = False
    ) -> tuple[list[int], int]:
        """Ids of one page of matches, and how many matches were ranked: bm25 (heat breaks near-ties) over the
        newest SEARCH_CANDIDATES matches, or `_rank_common` when the words are too common for bm25."""
        query = fts_query(terms, any_term=any_term)
        if not await self._bm25_affordable(index, terms):
            return await self._rank_common(index, query, offset=offset, limit=limit)
        # bm25 is rounded so that near-equal matches fall back to the hotter story.
        rows = await self._all(
            f"SELECT rowid, round(bm25({index.table}{index.weights_arg}), 1) FROM {index.table} "
            f"WHERE {index.table} MATCH ? ORDER BY rowid DESC LIMIT ?",
            (query, SEARCH_CANDIDATES),
        )
        scored = sorted(((r[0], float(r[1])) for r in rows), key=lambda r: (r[1], -r[0]))
        end = min(offset + limit, len(scored))
        if offset >= end:
            return [], len(scored)
        # Heat only matters among equal scores, so it is read just for the rows whose scores the page spans
        # (a table read per row is the expensive part of ranking).
        low, high = scored[offset][1], scored[end - 1][1]
        first = next(i for i, r in enumerate(scored) if r[1] == low)
        tied = [r for r in scored[first:] if r[1] <= high]
        heats = await self._heats([r[0] for r in tied])
        tied.sort(key=lambda r: (r[1], -_heat_key(heats.get(r[0])), -r[0]))
        return [r[0] for r in tied[offset - first : offset - first + limit]], len(scored)

    async def _rank_common(self, index: _Index, query: str, *, offset: int, limit: int) -> tuple[list[int], int]:
        # Words this common barely discriminate (bm25's IDF for them is near zero), so rank the newest matches
        # by what a reader would: the words in the title first, then the hottest. Few candidates: when common
        # words rarely meet, collecting matches means walking long doclists, and every one costs a heat read.
        rows = await self._all(
            f"SELECT rowid FROM {index.table} WHERE {index.table} MATCH ? ORDER BY rowid DESC LIMIT ?",
            (query, max(COMMON_CANDIDATES, offset + limit)),
        )
        ids = [r[0] for r in rows]
        if not ids:
            return [], 0
        in_title: set[int] = set()
        if index is _STORIES:
            title_rows = await self._all(
                "SELECT rowid FROM titles_fts WHERE titles_fts MATCH ? AND rowid >= ?", (query, min(ids))
            )
            in_title = {r[0] for r in title_rows}
        heats = await self._heats(ids)
        ids.sort(key=lambda i: (i not in in_title, -_heat_key(heats.get(i)), -i))
        return ids[offset : offset + limit], len(ids)

    # ----- search -----------------------------------------------------------------------------------------

    async def search(self, terms: list[str], *, offset: int, limit: int, count_up_to: int) -> SearchHits:
        """Stories matching every term (else any term), most relevant first, and how many match, counted up
        to `count_up_to` (at most the number of matches that are ranked)."""
        for any_term in (False, True) if len(terms) > 1 else (False,):
            ids, ranked = await self._ranked(_STORIES, terms, any_term=any_term, offset=offset, limit=limit)
            if ranked:
                total = min(ranked, count_up_to)
                return SearchHits(tuple(await self.stories(ids)), total, matched_all=not any_term)
        return SearchHits((), 0, matched_all=True)

    # ----- trending ---------------------------------------------------------------------------------------

    async def trending(
        self, *, since: datetime, topic: TopicInfo | None, offset: int, limit: int, count_up_to: int
    ) -> tuple[list[StoryView], int]:
        """Stories first seen at or after `since` (optionally on a topic), hottest first, leaving out suppressed
        (-1) and unknown heat; plus how many qualify, counted up to `count_up_to`."""
        cutoff = to_db(since)
        row = await self._one(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM stories INDEXED BY stories_first_seen "
            "WHERE first_seen_at >= ? LIMIT ?)), (SELECT coalesce(max(id), 0) FROM stories)",
            (cutoff, _WINDOW_SCAN_LIMIT + 1),
        )
        window, size = int(row[0]), int(row[1])
        narrow = window <= _WINDOW_SCAN_LIMIT
        if topic is not None and narrow:
            # Walking the topic's heat index meets a story of the window every size/window entries; reading the
            # window and checking each story's topic costs about one seek per story. Take the cheaper one.
            walk = min(topic.story_count, (offset + count_up_to) * size / max(window, 1))
            narrow = window * _SEEK_COST < walk
        if topic is None and narrow:
            # A narrow window: read all of it through the (first_seen_at, heat) index, then sort.
            source = "stories s INDEXED BY stories_first_seen WHERE s.first_seen_at >= ? AND s.heat >= 0"
            params: tuple[Any, ...] = (cutoff,)
            key, order = "s.id", "s.heat DESC, s.id"
        elif topic is None:
            # A wide window: walk down from the hottest story; the index holds first_seen_at, so no table reads.
            source = "stories s INDEXED BY stories_hot_seen WHERE s.heat >= 0 AND s.first_seen_at >= ?"
            params = (cutoff,)
            key, order = "s.id", "s.heat DESC, s.id"
        elif narrow:
            source = (
                f"stories s INDEXED BY stories_first_seen WHERE s.first_seen_at >= ? AND s.heat >= 0 AND {_ON_TOPIC}"
            )
            params = (cutoff, topic.id)
            key, order = "s.id", "s.heat DESC, s.id"
        else:
            source = (
                "story_topics st INDEXED BY story_topics_hot "
                "WHERE st.topic_id = ? AND st.heat >= 0 AND st.first_seen_at >= ?"
            )
            params = (topic.id, cutoff)
            key, order = "st.story_id", "st.heat DESC, st.story_id"
        rows = await self._all(
            f"SELECT {key} FROM {source} ORDER BY {order} LIMIT ? OFFSET ?", (*params, limit, offset)
        )
        total = await self._one(f"SELECT count(*) FROM (SELECT 1 FROM {source} LIMIT ?)", (*params, count_up_to))
        return await self.stories([r[0] for r in rows]), int(total[0])


# A topic's stories published at or before (then after) a moment, nearest first: similar-story candidates (with
# no text score).
_NEAR_BEFORE = (
    "SELECT story_id, NULL FROM (SELECT story_id FROM story_topics INDEXED BY story_topics_new "
    "WHERE topic_id = ? AND published_at <= ? ORDER BY published_at DESC, story_id DESC LIMIT ?)"
)
_NEAR_AFTER = (
    "SELECT story_id, NULL FROM (SELECT story_id FROM story_topics INDEXED BY story_topics_new "
    "WHERE topic_id = ? AND published_at > ? ORDER BY published_at, story_id LIMIT ?)"
)
# The newest stories holding any of the words, with their bm25 scores (FTS5's are negated: more negative is
# better, so higher is better here).
_TEXT_MATCHES = (
    "SELECT id, score FROM (SELECT rowid AS id, -bm25(stories_fts, {weights}) AS score FROM stories_fts "
    "WHERE stories_fts MATCH ? ORDER BY rowid DESC LIMIT ?)"
)
_ON_TOPIC = "EXISTS (SELECT 1 FROM story_topics st WHERE st.story_id = s.id AND st.topic_id = ?)"


@dataclass(frozen=True, slots=True)
class _Index:
    table: str
    weights: str  # bm25 column weights: titles count three times as much as excerpts

    @property
    def weights_arg(self) -> str:
        return f", {self.weights}" if self.weights else ""


_STORIES = _Index("stories_fts", "3.0, 1.0")
_TITLES = _Index("titles_fts", "")


def _heat_key(heat: int | None) -> int:
    # Unknown (NULL) and suppressed (-1) heat sort below every real heat.
    return -2 if heat is None else heat
