"""The newest stories matching a full-text condition, found by whichever plan is cheapest for it.

Rankings only ever look at the newest matches (as on SQLite: the best of the newest few hundred is the right
answer for a news reader, and ranking every match of a common word costs far too much). What finding them costs
on PostgreSQL depends on how many stories match, and no single plan is fast across the range:
- *index*: the GIN index yields every match, each then read from the table (several us a match: rows are
  ~1 KB, scattered, often outside shared_buffers): right for a few hundred matches, about a second for "the";
- *walk*: test stories from the newest id down, stopping as soon as enough matched (~1 us a story): right for
  common words, a walk through the whole table for a rare one;
- *window*: the GIN index's bitmap ANDed with the page ranges of the newest ids (a BRIN index, migration
  0003); every match still goes into the bitmap (~0.3 us), but only the matches in the window are read from
  the table: right in between. It needs the table in about id order (stories are appended; rows moved by
  updates blur it), so it is only used while pg_stats says so.
Plans are picked from how common the words are (`fulltext.TermStats`, assuming words occur independently) and
re-picked from what each step found. Words that go together more often than their frequencies say ("power
apps") show up in a short probe of the newest stories, and are walked; words that meet less often make a step
find too little, and the next step is sized by what it did find. Every step is bounded, and so is their number:
when the matches are so many and so spread out that no plan is cheap, the newest that were found are the answer
(a ranking then leaves out some older matches; a command is never slow).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from db.postgres.database import PgDatabase
from db.postgres.fulltext import TITLE_VECTOR, TermStats, TsMatch

# Costs in microseconds, measured at 1M stories (bench/commands.py, a 2-core machine under load): one story
# tested during a walk, one posting decoded from a GIN posting list, one story put into a bitmap, one match read
# from the table, and a window's BRIN index (fixed, and per id of the window).
WALK_US = 1.0
DECODE_US = 0.03
BITMAP_US = 0.3
READ_US = 8.0
WINDOW_US = 300.0
RANGE_US = 0.004
# What one step may cost to be taken on its own merit (the index plan at once, when even the most matches the
# words could have cost no more), and when to stop stepping and answer with what was found.
BUDGET_US = 2_500.0
SPEND_LIMIT_US = 3_500.0
# Walks and windows are sized to hold this many times the matches still wanted at the expected density (a
# window generously: a second one pays for the whole GIN bitmap again); a walk is at most WALK_LIMIT stories.
WALK_SLACK = 1.5
WINDOW_SLACK = 2.0
WALK_LIMIT = 4_000
PROBE = 300
MAX_STEPS = 4
# Windows are used only when the table's order follows ids this closely (pg_stats correlation): otherwise the
# BRIN ranges of a window span most of the table, and the planner (rightly) reads every match instead.
ORDERED = 0.9
TOP_TTL_S = 30.0


@dataclass(frozen=True, slots=True)
class Match:
    """A matching story, which of the query's words it holds in its title or anywhere, and its indexed words
    (`db.text.index_words` of its title and excerpt, for bm25)."""

    id: int
    heat: int | None
    title: str
    in_title: tuple[bool, ...]
    anywhere: tuple[bool, ...]
    title_words: str
    excerpt_words: str
    shared_topics: tuple[int, ...] = ()  # ids of the topics it shares with `TsMatch.shared_topics_with`


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a GIN lookup of a condition costs and yields, and how many stories match the whole condition.

    `expected`/`highest`: stories the index yields (expected assuming words occur independently, and at most);
    `decoded`: postings it decodes; `bitmapped`: postings a prefix match puts into a bitmap first; `density`:
    the expected share of stories matching the whole condition (lower than the yield when an unfinished word is
    left to the table rows: then the index does not check everything, and `exact` is False)."""

    expected: float
    highest: float
    decoded: float
    bitmapped: float
    density: float
    with_prefix: bool
    exact: bool  # the index checks the whole condition (it yields just the matches)


# A prefix is looked up in the index (rather than checked on the rows the other words yield) only when its
# words have at most this many postings together.
PREFIX_POSTINGS_LIMIT = 2_000
# GIN skips through the longer posting lists of an AND guided by the shortest ("fast scan"), so a longer list
# costs at most about this many times the shortest.
FAST_SCAN = 20.0


def estimate(match: TsMatch, stats: TermStats) -> Estimate:
    """`stats` are those of the column the match looks up (`TermStats.in_titles()` for titles-only matches)."""
    if stats.rows <= 0:
        return Estimate(0.0, 0.0, 0.0, 0.0, 0.0, with_prefix=True, exact=True)
    documents: list[float] = []
    at_most: list[float] = []
    prefix = 0.0
    for n, word in enumerate(match.words):
        if match.prefix_last and n == len(match.words) - 1:
            prefix = stats.prefix_postings(word)
            documents.append(min(stats.rows, prefix))
            at_most.append(documents[-1])
        else:
            documents.append(stats.documents(word))
            at_most.append(stats.at_most(word))
    with_prefix = prefix <= PREFIX_POSTINGS_LIMIT
    looked_up = match.index_words(with_prefix=with_prefix)
    bitmapped = prefix if match.prefix_last and len(looked_up) == len(match.words) else 0.0
    plain = [documents[n] for n in looked_up if not (match.prefix_last and n == len(match.words) - 1)]
    if match.any_term:
        matching = min(stats.rows, sum(documents))
        highest = min(stats.rows, sum(at_most))
        return Estimate(matching, highest, sum(plain), bitmapped, matching / stats.rows, True, exact=True)
    shortest = min(plain, default=0.0)
    decoded = sum(min(d, FAST_SCAN * max(shortest, 1.0)) for d in plain)
    yielded = density = 1.0
    for n, d in enumerate(documents):
        density *= d / stats.rows
        if n in looked_up:
            yielded *= d / stats.rows
    highest = min(at_most[n] for n in looked_up)
    exact = len(looked_up) == len(match.words)
    return Estimate(yielded * stats.rows, highest, decoded, bitmapped, density, with_prefix, exact)


# What every plan reads of a matching story.
_COLUMNS = "id, heat, title, title_words, excerpt_words, search, title_search"

Step = Literal["index", "walk", "window"]


@dataclass(slots=True)
class Plan:
    """Where the search stands: ids at or below `high` are still unseen; matches are expected at `density`
    (a share of stories), and the index yields `yielded` stories per story (>= density)."""

    guess: Estimate
    high: int
    top: int
    density: float
    yielded: float
    windows: bool  # the table is in id order, so a window's BRIN ranges are narrow
    spent: float = 0.0

    def lookup_cost(self) -> float:
        """The GIN lookup, scaled to what the index turned out to yield."""
        g = self.guess
        return DECODE_US * g.decoded + BITMAP_US * (g.bitmapped + self.yielded * self.top)

    def index_cost(self) -> float:
        return self.lookup_cost() + READ_US * self.yielded * self.high

    def remaining(self) -> float:
        return SPEND_LIMIT_US - self.spent

    def walk_span(self, still: int) -> int:
        wanted = WALK_SLACK * still / max(self.density, 1e-9)
        return max(0, int(min(WALK_LIMIT, self.high, wanted, self.remaining() / WALK_US)))

    def window_span(self, still: int) -> int:
        """Ids a window should cover to hold `still` matches, as far as the rest of the budget stretches."""
        wanted = WINDOW_SLACK * still / max(self.density, 1e-9)
        affordable = (self.remaining() - WINDOW_US - self.lookup_cost()) / (READ_US * self.yielded + RANGE_US)
        return max(0, int(min(self.high, wanted, affordable)))

    def walk_cost(self, still: int) -> float:
        """What the next walk step costs."""
        return WALK_US * self.walk_span(still)

    def window_cost(self, still: int) -> float:
        span = self.window_span(still)
        return WINDOW_US + RANGE_US * span + self.lookup_cost() + READ_US * self.yielded * span

    def choose(self, still: int) -> Step:
        """The next step towards `still` more matches: the plan that would find them all for least, except that
        the index (which reads every match at once) is only taken within the budget. A walk is compared by what
        walking all the way would cost, though each step is bounded (WALK_LIMIT)."""
        walk = WALK_US * WALK_SLACK * still / max(self.density, 1e-9)
        window = self.window_cost(still) if self.windows else float("inf")
        index = self.index_cost()
        if index <= BUDGET_US and index <= 1.2 * min(walk, window):
            return "index"
        return "walk" if walk <= window else "window"

    def observe(self, found: int, span: int) -> None:
        """A step tested `span` stories and found `found` matches: believe that density from now on. Finding
        none only says the density is below about 1/span, which tells nothing about words rarer than that.
        What the index yields follows only when it checks the whole condition (else the words it looks up are
        as common as the statistics say, whatever the rest of the condition turned out to be)."""
        self.density = found / span if found else min(self.density, 0.5 / max(span, 1))
        if self.guess.exact:
            self.yielded = self.density


def reads_few(guess: Estimate) -> bool:
    """Whether reading every match through the index costs at most the budget, however many there are."""
    return DECODE_US * guess.decoded + BITMAP_US * guess.bitmapped + (BITMAP_US + READ_US) * guess.highest <= BUDGET_US


class NewestMatches:
    """Finds the newest `want` matches of a `TsMatch`, with the flags the rankings need. Every method takes the
    statistics of the column the match looks up: `TermStats.in_titles()` for titles-only matches."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database
        self._top: tuple[float, int] | None = None

    def yields_few(self, match: TsMatch, stats: TermStats) -> bool:
        """Whether every match can be read through the index within the budget (so ranking more is cheap)."""
        return reads_few(estimate(match, stats))

    async def find(self, match: TsMatch, stats: TermStats, *, want: int) -> list[Match]:
        if not match.words or want <= 0:
            return []
        guess = estimate(match, stats)
        if reads_few(guess):
            return await self._index(match, want, guess, high=None)
        top = await self._top_id()
        if top is None:
            return []
        yielded = max(guess.expected / max(stats.rows, 1), guess.density)
        plan = Plan(guess, top, top, max(guess.density, 1e-9), yielded, windows=stats.id_order >= ORDERED)
        found: list[Match] = []
        # The first step has no upper bound: stories added since `top` was read are the newest of all.
        ceiling: int | None = None
        if len(match.words) > 1 and not match.any_term and plan.choose(want) != "walk":
            # Several words expected to meet rarely: see whether they meet in the newest stories after all.
            low = max(0, top - PROBE)
            found = await self._walk(match, want, low=low, high=ceiling)
            if len(found) > 1:
                plan.observe(len(found), top - low)
            plan.high, plan.spent, ceiling = low, WALK_US * PROBE, low
        for _ in range(MAX_STEPS):
            still = want - len(found)
            if still <= 0 or plan.high <= 0 or plan.remaining() <= 0:
                break
            step = plan.choose(still)
            if step == "index":
                found.extend(await self._index(match, still, guess, high=ceiling))
                break
            if step == "walk":
                span, cost = plan.walk_span(still), plan.walk_cost(still)
            else:
                span, cost = plan.window_span(still), plan.window_cost(still)
            if span <= 0:
                break
            low = max(0, plan.high - span)
            if step == "walk":
                batch = await self._walk(match, still, low=low, high=ceiling)
            else:
                batch = await self._window(match, still, guess, low=low, high=ceiling)
            found.extend(batch)
            plan.observe(len(batch), plan.high - low)
            plan.high, plan.spent, ceiling = low, plan.spent + cost, low
        return found

    async def _top_id(self) -> int | None:
        """The highest story id, read at most every TOP_TTL_S seconds (it only steers the plans)."""
        now = time.monotonic()
        if self._top is None or now - self._top[0] > TOP_TTL_S:
            row = await self._db.one("SELECT max(id) AS top FROM stories")
            top = None if row is None or row["top"] is None else int(row["top"])
            if top is None:
                return None
            self._top = (now, top)
        return self._top[1]

    def _flags(self, match: TsMatch, params: dict[str, Any]) -> str:
        """Select-list arrays telling, per word, whether a match holds it in its title and anywhere."""
        titles = []
        for n, query in enumerate(match.term_queries()):
            params[f"t{n}"] = query
            titles.append(f"c.{TITLE_VECTOR} @@ to_tsquery('simple', %(t{n})s)")
        if match.any_term and not match.titles_only:
            # The same words (%(tN)s), anywhere in the story.
            anywhere = [f"c.search @@ to_tsquery('simple', %(t{n})s)" for n in range(len(match.words))]
        else:
            # Every word of an all-words match is somewhere in the story; titles-only matches need no more.
            anywhere = ["true"] * len(match.words)
        return f"ARRAY[{', '.join(titles)}] AS in_title, ARRAY[{', '.join(anywhere)}] AS anywhere"

    async def _select(self, match: TsMatch, inner: str, params: dict[str, Any]) -> list[Match]:
        params["query"] = match.query()
        flags = self._flags(match, params)
        shared = "ARRAY[]::bigint[]"
        if match.shared_topics_with is not None:
            params["story"] = match.shared_topics_with
            shared = (
                "ARRAY(SELECT st.topic_id FROM story_topics st WHERE st.story_id = c.id "
                "AND st.topic_id IN (SELECT topic_id FROM story_topics WHERE story_id = %(story)s))"
            )
        rows = await self._db.all(
            f"SELECT c.id, c.heat, c.title, c.title_words, c.excerpt_words, {flags}, {shared} AS shared "
            f"FROM {inner} ORDER BY c.id DESC",
            params,
        )
        return [
            Match(
                r["id"],
                r["heat"],
                r["title"],
                tuple(r["in_title"]),
                tuple(r["anywhere"]),
                r["title_words"],
                r["excerpt_words"],
                tuple(r["shared"]),
            )
            for r in rows
        ]

    def _lookup(self, match: TsMatch, guess: Estimate, params: dict[str, Any]) -> str:
        """The GIN condition (on the titles' index for titles-only matches), and the whole condition when the
        index cannot check all of it. `IS TRUE` keeps the planner from looking that one up in an index too."""
        params["lookup"] = match.index_query(with_prefix=guess.with_prefix)
        condition = f"{match.vector} @@ to_tsquery('simple', %(lookup)s)"
        if len(match.index_words(with_prefix=guess.with_prefix)) < len(match.words):
            condition += f" AND ({match.vector} @@ to_tsquery('simple', %(query)s)) IS TRUE"
        return condition

    async def _index(self, match: TsMatch, want: int, guess: Estimate, *, high: int | None) -> list[Match]:
        """Every match (at or below `high`) from the GIN index, newest first. `id + 0` keeps the primary key out
        of the plan: neither a walk down it nor a bitmap of its range would be cheaper for few matches."""
        params: dict[str, Any] = {"high": high, "want": want}
        bound = "" if high is None else " AND id + 0 <= %(high)s"
        inner = (
            f"(SELECT {_COLUMNS} FROM stories WHERE {self._lookup(match, guess, params)}{bound} "
            "ORDER BY id + 0 DESC LIMIT %(want)s) c"
        )
        return await self._select(match, inner, params)

    async def _window(self, match: TsMatch, want: int, guess: Estimate, *, low: int, high: int | None) -> list[Match]:
        """Matches with low < id (<= high), newest first: the GIN index in a bitmap AND with the BRIN index's
        page ranges (ordering by `id + 0` keeps the planner from walking down the primary key instead)."""
        params: dict[str, Any] = {"low": low, "high": high, "want": want}
        bound = "" if high is None else " AND id <= %(high)s"
        inner = (
            f"(SELECT {_COLUMNS} FROM stories WHERE {self._lookup(match, guess, params)} "
            f"AND id > %(low)s{bound} ORDER BY id + 0 DESC LIMIT %(want)s) c"
        )
        return await self._select(match, inner, params)

    async def _walk(self, match: TsMatch, want: int, *, low: int, high: int | None) -> list[Match]:
        """Test stories from `high` down to `low`, stopping at `want` matches. OFFSET 0 keeps the planner from
        turning the walk into a GIN scan of every match (it cannot push the condition into the subquery)."""
        bound = "" if high is None else " AND id <= %(high)s"
        inner = (
            f"(SELECT w.* FROM (SELECT {_COLUMNS} FROM stories WHERE id > %(low)s"
            f"{bound} ORDER BY id DESC OFFSET 0) w WHERE w.{match.vector} @@ to_tsquery('simple', %(query)s) "
            "LIMIT %(want)s) c"
        )
        return await self._select(match, inner, {"low": low, "high": high, "want": want})
