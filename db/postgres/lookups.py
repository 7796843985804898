"""Read-only queries behind the lookup commands on PostgreSQL: the same answers as `db/sqlite/lookups.py`.

Every lookup must answer within a few milliseconds at a million stories. On PostgreSQL a story read from the
table costs microseconds (rows are ~1 KB, and the table is larger than a default shared_buffers), so each query
reads as few rows as it can: topic pages and trending walk covering indexes (index-only scans), and full-text
lookups rank only the newest matches, found by the plan that suits how common the words are
(`db.postgres.matches`). Those candidates are ranked here in Python by SQLite's rules, with bm25 computed as
FTS5 computes it (`db.postgres.ranking`), so a small store answers exactly as it does on SQLite.

Where this differs from SQLite, and why (all of it only shows on large stores):
- Unless the GIN index yields few matches, fewer candidates are ranked: 120 for a search (SQLite: 500 while
  its words are in at most 60k stories), 40 for similar stories (150), 100 for autocomplete (200).
- Similar stories come from the rarest words within a smaller budget, and beyond EXACT_COUNT_LIMIT stories a
  word's count is the planner's statistic (SQLite counts; here counting costs as much as searching).
- When words are so common and so rarely together that no plan finds enough matches cheaply, a ranking covers
  the newest matches found within the budget (a search then reports that many, not "100+").
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
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
from db.postgres.database import PgDatabase
from db.postgres.fulltext import TermStats, TermStatsCache, TsMatch, lexemes
from db.postgres.matches import Match, NewestMatches
from db.postgres.ranking import Corpus, CorpusCache, bm25, idf, round_like_sqlite
from db.postgres.story_rows import fetch_stories, fetch_story_where
from db.records import as_is, related_stories
from db.similar import NEAR_PER_SIDE, SUPPRESSED, rank_similar, similar_topic_sources
from db.text import autocomplete_terms, distinctive_terms, query_terms, topic_key

# How many of the newest matches are ranked (see db/sqlite/lookups.py for why only the newest): SQLite's numbers
# when the GIN index yields few matches, else fewer (each candidate is a table read here): just over the 100
# results a search shows, and enough for the handful of similar stories and autocomplete choices shown.
SEARCH_CANDIDATES = 500
COMMON_CANDIDATES = 120
SIMILAR_CANDIDATES = 150
FEW_SIMILAR_CANDIDATES = 40
AUTOCOMPLETE_CANDIDATES = 200
FEW_AUTOCOMPLETE_CANDIDATES = 100
# SQLite's rule: words in more stories than this together are ranked by title and heat (bm25 is not worth its
# cost for them, and tells little).
BM25_DOCUMENTS = 60_000
# Similar stories come from the rarest few of a story's words that other stories share, in at most this many
# stories together (SQLite allows BM25_DOCUMENTS: FTS5 merges long lists cheaply; here every match is a bitmap
# entry, so the words must be rarer).
SIMILAR_TERMS = 5
SIMILAR_DOCUMENTS = 2_500
# Words in at most this many stories (by the statistics, or every word when there are none yet) are counted
# exactly through the GIN index, as FTS5 counts them for bm25; others are taken from the statistics.
EXACT_COUNT_LIMIT = 300

# Trending: a window of at most this many stories is read whole through a first-seen index and sorted (~0.1 us
# a story, index-only); a wider one is found by walking a heat index from the top, which meets a story of the
# window every (stories / window) steps and stops after `count_up_to` of them.
_WINDOW_SCAN_LIMIT = 5_000
# OFFSET 0 keeps a window read a range scan of the window (the planner would rather walk the heat index).
_RECENT_WINDOW = (
    "SELECT w.id FROM (SELECT id, heat FROM stories WHERE first_seen_at >= %s AND heat >= 0 OFFSET 0) w "
    "ORDER BY w.heat DESC, w.id LIMIT %s"
)
_RECENT_WALK = (
    "SELECT id FROM stories WHERE heat >= 0 AND first_seen_at >= %s ORDER BY heat DESC NULLS LAST, id LIMIT %s"
)
_TOPIC_WINDOW = (
    "SELECT w.story_id AS id FROM (SELECT story_id, heat FROM story_topics WHERE topic_id = %s "
    "AND first_seen_at >= %s AND heat >= 0 OFFSET 0) w ORDER BY w.heat DESC, w.story_id LIMIT %s"
)
_TOPIC_WALK = (
    "SELECT story_id AS id FROM story_topics WHERE topic_id = %s AND heat >= 0 AND first_seen_at >= %s "
    "ORDER BY heat DESC NULLS LAST, story_id LIMIT %s"
)


def _topic(row: Any) -> TopicInfo:
    return TopicInfo(row["id"], row["key"], row["name"], row["story_count"])


def _heat_key(heat: int | None) -> int:
    # Unknown (NULL) and suppressed (-1) heat sort below every real heat.
    return -2 if heat is None else heat


def _like_pattern(text: str) -> str:
    """`%text%` for LIKE ... ESCAPE '\\', with the text's own %, _ and \\ matching themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class PgLookups:
    """Implements `db.interfaces.LookupStore` over PostgreSQL."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database
        self._stats = TermStatsCache(database)
        self._corpus = CorpusCache(database)
        self._matches = NewestMatches(database)

    async def stories(self, story_ids: Sequence[int]) -> list[StoryView]:
        """The stories with these ids, in the order given (missing ids are skipped)."""
        return await fetch_stories(self._db, story_ids)

    # ----- topics -----------------------------------------------------------------------------------------

    async def topic_by_name(self, name: str) -> TopicInfo | None:
        """The topic whose key (`db.text.topic_key`) equals this name's."""
        row = await self._db.one("SELECT id, key, name, story_count FROM topics WHERE key = %s", (topic_key(name),))
        return None if row is None else _topic(row)

    async def topics_page(self, *, offset: int, limit: int) -> tuple[list[TopicInfo], int]:
        """Topics that have stories, most stories first (then by key), and how many such topics exist."""
        rows = await self._db.all(
            "SELECT id, key, name, story_count, count(*) OVER () AS total FROM topics WHERE story_count > 0 "
            "ORDER BY story_count DESC, key LIMIT %s OFFSET %s",
            (limit, offset),
        )
        if rows:
            return [_topic(r) for r in rows], int(rows[0]["total"])
        total = await self._db.one("SELECT count(*) AS total FROM topics WHERE story_count > 0")
        return [], 0 if total is None else int(total["total"])

    async def topic_names(self, *, limit: int = 5_000) -> list[str]:
        """Display names of topics that have stories, most-used first (for "did you mean")."""
        rows = await self._db.all(
            "SELECT name FROM topics WHERE story_count > 0 ORDER BY story_count DESC, key LIMIT %s", (limit,)
        )
        return [r["name"] for r in rows]

    async def topic_choices(self, text: str, *, limit: int) -> list[TopicInfo]:
        """Topics whose key starts with `text`'s key (first), then contains it; most-used first in each group."""
        needle = topic_key(text)
        # LIKE with the user's % and _ escaped: the trigram index on topics.key serves it once there are enough
        # topics to make that worth it (for a few hundred the planner rightly scans them).
        rows = await self._db.all(
            "SELECT id, key, name, story_count FROM topics "
            "WHERE story_count > 0 AND key LIKE %s ESCAPE '\\' "
            "ORDER BY NOT starts_with(key, %s), story_count DESC, key LIMIT %s",
            (_like_pattern(needle), needle, limit),
        )
        return [_topic(r) for r in rows]

    async def topic_stories(self, topic: TopicInfo, *, sort: StorySort, offset: int, limit: int) -> list[StoryView]:
        """One page of a topic's stories, hottest (unknown and suppressed heat last) or newest first."""
        # story_topics carries each story's sort keys, so a page is one short walk down an index, however many
        # stories the topic has. NULLS LAST puts unknown heat after -1, as SQLite sorts it.
        if sort is StorySort.HOT:
            sql = (
                "SELECT story_id FROM story_topics WHERE topic_id = %s "
                "ORDER BY heat DESC NULLS LAST, story_id LIMIT %s OFFSET %s"
            )
        else:
            sql = (
                "SELECT story_id FROM story_topics WHERE topic_id = %s "
                "ORDER BY published_at DESC, story_id DESC LIMIT %s OFFSET %s"
            )
        rows = await self._db.all(sql, (topic.id, limit, offset))
        return await self.stories([r["story_id"] for r in rows])

    # ----- single stories ---------------------------------------------------------------------------------

    async def story_by_id(self, story_id: int) -> StoryView | None:
        """The story with this id, if it exists."""
        return await fetch_story_where(self._db, "s.id = %s", (story_id,))

    async def story_by_url(self, normalized_url: str) -> StoryView | None:
        """The story whose identity (normalised URL) is this."""
        return await fetch_story_where(self._db, "s.url = %s", (normalized_url,))

    async def best_title_match(self, text: str) -> StoryView | None:
        """The story whose title best matches free text (all words, else any word), hottest on a tie."""
        words = lexemes(query_terms(text))
        if not words:
            return None
        stats = await self._stats.get()
        for any_term in (False, True) if len(words) > 1 else (False,):
            match = TsMatch(tuple(words), any_term=any_term, titles_only=True)
            ranked, _count = await self._ranked(match, stats, offset=0, limit=1)
            if ranked:
                return await self.story_by_id(ranked[0])
        return None

    async def story_choices(self, text: str, *, limit: int) -> list[StoryChoice]:
        """Autocomplete: titles matching what is typed so far (the last word a prefix), titles starting with the
        text first, then hottest; the newest hot stories when nothing is typed."""
        terms, prefix = autocomplete_terms(text)
        words = lexemes(terms)
        if not words:
            return await self._recent_hot_choices(limit)
        # A prefix only stays the last word if folding kept the word count (it always does for db.text words).
        match = TsMatch(tuple(words), prefix_last=prefix and len(words) == len(terms), titles_only=True)
        stats = (await self._stats.get()).in_titles()
        few = self._matches.yields_few(match, stats)
        found = await self._matches.find(
            match, stats, want=AUTOCOMPLETE_CANDIDATES if few else FEW_AUTOCOMPLETE_CANDIDATES
        )
        typed = " ".join(text.split()).casefold()
        found.sort(key=lambda m: (not m.title.casefold().startswith(typed), -_heat_key(m.heat), -m.id))
        return [StoryChoice(m.id, m.title) for m in found[:limit]]

    async def _recent_hot_choices(self, limit: int) -> list[StoryChoice]:
        # The newest 200 stories (one short walk down the first-seen index), hottest of those first.
        rows = await self._db.all(
            "SELECT id, title FROM (SELECT id, title, heat FROM stories ORDER BY first_seen_at DESC LIMIT 200) c "
            "ORDER BY heat IS NULL OR heat < 0, heat DESC NULLS LAST, id DESC LIMIT %s",
            (limit,),
        )
        return [StoryChoice(r["id"], r["title"]) for r in rows]

    # ----- related and similar ----------------------------------------------------------------------------

    async def related(self, story: StoryView, *, linking_limit: int, similar_limit: int) -> RelatedStories:
        """The story's own related list (each entry with our copy when we have its URL), stories whose lists
        name this one, and similar stories not already among those. Linked by URL at read time, so the link
        appears whichever of the two stories arrived first."""
        # Round trips, not the queries, are most of the time here (each ~0.1 ms on an idle machine, a few ms on
        # a busy one): the text candidates need nothing but the story, so they are found on a second pooled
        # connection while the lists, the story's topics and then its topic neighbours are read on the first.
        corpus = await self._corpus.get()
        async with asyncio.TaskGroup() as group:
            text_task = group.create_task(self._text_matches(story, corpus))
            listed, topic_counts, near = await self._listed_and_near(story, linking_limit, round(corpus.rows))
        rows = [r for r in listed if r["kind"] == 0]
        linking_ids = [r["ours"] for r in listed if r["kind"] == 1]
        ours_ids = [r["ours"] for r in rows if r["ours"] is not None and r["ours"] != story.id]
        exclude = frozenset({story.id, *ours_ids, *linking_ids})
        # Stories like this one, never a suppressed one: those sharing its rarest words and those near it in
        # time on its rarer topics, ranked by `db.similar` (SQLite's rule).
        shared: dict[int, list[int]] = {}
        text: dict[int, float] = {}
        for found, score in text_task.result():
            if found.heat != SUPPRESSED and found.id not in exclude:
                shared[found.id] = list(found.shared_topics)
                text[found.id] = score
        for r in near:
            if r["heat"] != SUPPRESSED and r["story_id"] not in exclude and r["story_id"] not in shared:
                shared[r["story_id"]] = list(r["shared"])
        similar_ids = rank_similar(shared, text, topic_counts, round(corpus.rows), limit=similar_limit)
        views = {s.id: s for s in await self.stories([*ours_ids, *linking_ids, *similar_ids])}
        return related_stories(story.id, rows, linking_ids, similar_ids, views, as_is)

    async def _listed_and_near(
        self, story: StoryView, linking_limit: int, stories: int
    ) -> tuple[list[Any], dict[int, int], list[Any]]:
        """The story's own entries (kind 0), the stories whose lists name it (kind 1) and its topics with their
        story counts (kind 2), in one round trip; then its topic neighbours."""
        listed = await self._db.all(
            "SELECT 0 AS kind, r.position, r.url, r.link_url, r.title, r.excerpt, r.published_at, r.provider_name, "
            "r.provider_domain, r.quality, r.image_url, s.id AS ours, NULL::bigint AS topic_id, "
            "NULL::int AS story_count FROM related_entries r LEFT JOIN stories s ON s.url = r.url "
            "WHERE r.story_id = %(id)s "
            "UNION ALL SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, l.story_id, NULL, NULL "
            "FROM (SELECT story_id FROM related_entries WHERE url = %(url)s AND story_id <> %(id)s "
            "GROUP BY story_id ORDER BY story_id LIMIT %(limit)s) l "
            "UNION ALL SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, st.topic_id, "
            "t.story_count FROM story_topics st JOIN topics t ON t.id = st.topic_id WHERE st.story_id = %(id)s "
            "ORDER BY kind, position, ours",
            {"id": story.id, "url": story.url, "limit": linking_limit},
        )
        topic_counts = {r["topic_id"]: r["story_count"] for r in listed if r["kind"] == 2}
        sources = similar_topic_sources(topic_counts, stories)
        if not sources:
            return listed, topic_counts, []
        # The stories near this one in time on each source topic, with their heat: a short walk down the
        # covering (topic_id, published_at, story_id) INCLUDE (heat) index each (migration 0013), then the
        # topics each shares with this story from the primary key. Every read is index-only.
        near = " UNION ALL ".join(
            f"(SELECT story_id, heat FROM story_topics WHERE topic_id = %(t{n})s AND published_at <= %(at)s "
            f"ORDER BY published_at DESC, story_id DESC LIMIT %(near)s) UNION ALL "
            f"(SELECT story_id, heat FROM story_topics WHERE topic_id = %(t{n})s AND published_at > %(at)s "
            f"ORDER BY published_at, story_id LIMIT %(near)s)"
            for n in range(len(sources))
        )
        params: dict[str, Any] = {f"t{n}": topic for n, topic in enumerate(sources)}
        params.update(at=story.published_at, near=NEAR_PER_SIDE, mine=list(topic_counts))
        rows = await self._db.all(
            "SELECT n.story_id, n.heat, ARRAY(SELECT st.topic_id FROM story_topics st "
            "WHERE st.story_id = n.story_id AND st.topic_id = ANY(%(mine)s)) AS shared "
            f"FROM (SELECT story_id, max(heat) AS heat FROM ({near}) u GROUP BY story_id) n",
            params,
        )
        return listed, topic_counts, rows

    async def _text_matches(self, story: StoryView, corpus: Corpus) -> list[tuple[Match, float]]:
        """The newest stories sharing this one's rarest words (with the topics they share with it), each with
        its bm25 score as FTS5 computes it."""
        own = lexemes(distinctive_terms(story.title, story.excerpt))
        stats = await self._counted(await self._stats.get(), own, titles=False)
        words = self._rarest(stats, own)
        if not words:
            return []
        match = TsMatch(tuple(words), any_term=True, shared_topics_with=story.id)
        few = self._matches.yields_few(match, stats)
        found = await self._matches.find(match, stats, want=SIMILAR_CANDIDATES if few else FEW_SIMILAR_CANDIDATES)
        idfs = [idf(corpus.rows, stats.documents(w)) for w in words]
        return [(m, bm25(m, words, idfs, corpus, titles_only=False)) for m in found]

    def _rarest(self, stats: TermStats, words: list[str]) -> list[str]:
        """The rarest of a story's words that other stories share too (up to SIMILAR_TERMS, in at most
        SIMILAR_DOCUMENTS stories together; SQLite's rule with a smaller budget). When even the rarest is over
        the budget, that one alone (SQLite would take several; here one keeps the lookup quick)."""
        chosen: list[str] = []
        spent = 0.0
        for documents, word in sorted((stats.documents(w), w) for w in words):
            # A word only this story uses (in one story) can find nothing similar.
            if documents < 2 or spent + documents > SIMILAR_DOCUMENTS:
                continue
            chosen.append(word)
            spent += documents
        if not chosen:
            chosen = [w for documents, w in sorted((stats.documents(w), w) for w in words) if documents >= 2][:1]
        return chosen[:SIMILAR_TERMS]

    async def _counted(self, stats: TermStats, words: Sequence[str], *, titles: bool) -> TermStats:
        """`stats` (of `search`, or of titles), with exact counts of the words in at most EXACT_COUNT_LIMIT
        stories: their GIN posting lists are short, and bm25 (like FTS5) wants exact numbers. One statement."""
        rare = [w for w in dict.fromkeys(words) if w not in stats.counted and stats.at_most(w) <= EXACT_COUNT_LIMIT]
        if not rare:
            return stats
        probes = [TsMatch((word,), titles_only=titles) for word in rare]
        probe = (
            "SELECT %s::int AS n, (SELECT count(*) FROM (SELECT 1 FROM stories "
            f"WHERE {probes[0].vector} @@ to_tsquery('simple', %s) LIMIT %s) c) AS found"
        )
        params: list[Any] = []
        for n, match in enumerate(probes):
            params.extend((n, match.query(), EXACT_COUNT_LIMIT + 1))
        counted: dict[str, float] = {}
        for row in await self._db.all(" UNION ALL ".join([probe] * len(rare)), params):
            if row["found"] <= EXACT_COUNT_LIMIT:
                counted[rare[row["n"]]] = float(row["found"])
        return stats.with_counts(counted)

    # ----- search -----------------------------------------------------------------------------------------

    async def search(self, terms: list[str], *, offset: int, limit: int, count_up_to: int) -> SearchHits:
        """Stories matching every term (else any term), most relevant first: title matches before excerpt-only
        matches, then heat; and how many match, counted up to `count_up_to` (at most the number ranked)."""
        words = lexemes(terms)
        if not words:
            return SearchHits((), 0, matched_all=True)
        stats = await self._stats.get()
        for any_term in (False, True) if len(words) > 1 else (False,):
            match = TsMatch(tuple(words), any_term=any_term)
            ids, ranked = await self._ranked(match, stats, offset=offset, limit=limit)
            if ranked:
                return SearchHits(tuple(await self.stories(ids)), min(ranked, count_up_to), matched_all=not any_term)
        return SearchHits((), 0, matched_all=True)

    async def _ranked(self, match: TsMatch, stats: TermStats, *, offset: int, limit: int) -> tuple[list[int], int]:
        """Ids of one page of the newest matches ranked, and how many were ranked (SQLite's rules).

        Words in at most BM25_DOCUMENTS stories together: bm25 (rounded to 0.1, so that near-equal matches fall
        back to the hotter story), then heat. Commoner words: stories holding them in the title first (for
        stories; titles-only matches are all in titles), then heat."""
        stats = await self._counted(
            stats.in_titles() if match.titles_only else stats, match.words, titles=match.titles_only
        )
        documents = [stats.documents(w) for w in match.words]
        affordable = sum(documents) <= BM25_DOCUMENTS
        few = affordable and self._matches.yields_few(match, stats)
        want = max(SEARCH_CANDIDATES if few else COMMON_CANDIDATES, offset + limit)
        found = await self._matches.find(match, stats, want=want)
        if affordable:
            corpus = await self._corpus.get()
            idfs = [idf(corpus.rows, d) for d in documents]

            def key(m: Match) -> tuple[float, int, int]:
                score = round_like_sqlite(bm25(m, match.words, idfs, corpus, titles_only=match.titles_only))
                return -score, -_heat_key(m.heat), -m.id

            found.sort(key=key)
        else:
            whole = any if match.any_term else all
            found.sort(key=lambda m: (not whole(m.in_title), -_heat_key(m.heat), -m.id))
        return [m.id for m in found[offset : offset + limit]], len(found)

    # ----- trending ---------------------------------------------------------------------------------------

    async def trending(
        self, *, since: datetime, topic: TopicInfo | None, offset: int, limit: int, count_up_to: int
    ) -> tuple[list[StoryView], int]:
        """Stories first seen at or after `since` (optionally on a topic), hottest first, leaving out suppressed
        (-1) and unknown heat; plus how many qualify, counted up to `count_up_to`.

        One statement reads the ranking up to `count_up_to` (the page and the count both come from it): either
        the whole window from a first-seen index, sorted, when it holds at most _WINDOW_SCAN_LIMIT stories, or
        a walk down a heat index (with first_seen_at in it) that stops once enough of the window was met. Every
        index read is index-only."""
        if topic is None:
            window_sql = "SELECT 1 FROM stories WHERE first_seen_at >= %s LIMIT %s"
            params: tuple[Any, ...] = (since, _WINDOW_SCAN_LIMIT + 1)
        else:
            window_sql = "SELECT 1 FROM story_topics WHERE topic_id = %s AND first_seen_at >= %s LIMIT %s"
            params = (topic.id, since, _WINDOW_SCAN_LIMIT + 1)
        window = await self._db.one(f"SELECT count(*) AS n FROM ({window_sql}) w", params)
        narrow = window is not None and window["n"] <= _WINDOW_SCAN_LIMIT
        wanted = max(count_up_to, offset + limit)
        if topic is None:
            sql, params = (_RECENT_WINDOW if narrow else _RECENT_WALK), (since, wanted)
        else:
            sql, params = (_TOPIC_WINDOW if narrow else _TOPIC_WALK), (topic.id, since, wanted)
        ranked = [r["id"] for r in await self._db.all(sql, params)]
        return await self.stories(ranked[offset : offset + limit]), min(len(ranked), count_up_to)
