"""Full text on PostgreSQL: a tsquery text that user input can never turn into syntax, and how common words are.

The `search` column indexes our own words (`db.text.index_words`: letters and digits, casefolded, diacritics
folded), `title_search` those of the title alone (`db.postgres.vectors`). A query is built the same way, only
from `db.text` words, each quoted as one lexeme ('word'), so quotes, `*`, `NEAR(`, `&|!():` in what someone
typed are either dropped by `db.text` or end up inside a quoted word, never operators. The text is then bound
as a parameter of `to_tsquery('simple', %s)`.

How common a word is decides how the newest matches are found (`db.postgres.matches`). ANALYZE keeps, for the
`search` and `title_search` columns, the most common lexemes and the share of rows holding each
(`pg_stats.most_common_elems`); every other word is rarer than the least common of those. Those statistics are
read once and cached for a few minutes: they steer plans and weigh rare words against common ones in rankings,
so a slightly stale copy costs time or reorders near-ties, never finds a wrong story.
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from db.postgres.database import PgDatabase
from db.text import fold_diacritics, words

_LEXEME = re.compile(r"[^\W_]+")
# Title words alone (migrations 0003 and 0005), with a GIN index of their own.
TITLE_VECTOR = "title_search"
# Statistics older than this are read again (autovacuum refreshes them after about a tenth of the rows change).
STATS_TTL_S = 300.0
# Titles hold about a quarter of a story's words, so a word is in about a quarter as many titles as stories.
TITLE_SHARE = 0.25
# Prefixes shorter than this are taken to be common; longer ones are assumed to be shared by this many words
# that the statistics do not list.
SHORT_PREFIX = 3
UNLISTED_PER_PREFIX = 3


def lexemes(terms: Sequence[str]) -> list[str]:
    """The index's form of `terms` (from `db.text`): each word diacritic-folded, repeats dropped.

    Terms are split into `db.text` words again, so even a caller passing raw text gets only letters and digits.
    """
    found: list[str] = []
    for term in terms:
        for word in words(term):
            folded = fold_diacritics(word)
            if _LEXEME.fullmatch(folded) and folded not in found:
                found.append(folded)
    return found


@dataclass(frozen=True, slots=True)
class TsMatch:
    """One full-text condition: its lexemes and how they combine."""

    words: tuple[str, ...]
    any_term: bool = False  # OR instead of AND
    prefix_last: bool = False  # the last word is unfinished (autocomplete)
    titles_only: bool = False
    # Also count, for each match, the topics it shares with this story (similar stories rank by them).
    shared_topics_with: int | None = None

    def _lexeme(self, n: int) -> str:
        # Only letters and digits reach here (`lexemes`), so the quotes cannot be closed early.
        return f"'{self.words[n]}'" + (":*" if self.prefix_last and n == len(self.words) - 1 else "")

    @property
    def vector(self) -> str:
        """The column the match looks in: `title_search` for titles-only matches, else `search`."""
        return TITLE_VECTOR if self.titles_only else "search"

    def query(self) -> str:
        """The tsquery text for `to_tsquery('simple', %s)` (on `vector`)."""
        operator = " | " if self.any_term else " & "
        return operator.join(self._lexeme(n) for n in range(len(self.words)))

    def index_words(self, *, with_prefix: bool) -> tuple[int, ...]:
        """Which words the GIN index should look up. An unfinished last word may be left to the table rows: a
        prefix match reads the postings of every word it covers into a bitmap before any AND can narrow them."""
        last = len(self.words) - 1
        if not self.prefix_last or with_prefix or self.any_term or last == 0:
            return tuple(range(len(self.words)))
        return tuple(range(last))

    def index_query(self, *, with_prefix: bool) -> str:
        """The condition for the GIN index: `index_words` (exact in the index, no recheck)."""
        operator = " | " if self.any_term else " & "
        return operator.join(self._lexeme(n) for n in self.index_words(with_prefix=with_prefix))

    def term_queries(self) -> list[str]:
        """One tsquery per word, to tell which words a match holds (in its title: asked of `title_search`)."""
        return [self._lexeme(n) for n in range(len(self.words))]


@dataclass(slots=True)
class TermStats:
    """How many stories hold a word, from the planner's statistics (exact for the commonest words only)."""

    rows: float = 0.0
    frequencies: dict[str, float] = field(default_factory=dict)
    floor: float = 0.0  # every word not listed is in fewer than this share of rows (0: no statistics yet)
    titles: TermStats | None = None  # the same for title words alone (`title_search`), when analysed
    # How closely the table's physical order follows ids (pg_stats.correlation): stories are appended in id
    # order, and rows moved by updates blur it; id windows through the BRIN index need it close to 1.
    id_order: float = 1.0
    counted: dict[str, float] = field(default_factory=dict)  # exact numbers of stories, counted for a lookup
    _sorted: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        rows: float,
        common: Sequence[str],
        shares: Sequence[float],
        titles: TermStats | None = None,
        id_order: float = 1.0,
    ) -> TermStats:
        frequencies = dict(zip(common, shares, strict=False))
        floor = min(frequencies.values(), default=0.0)
        return cls(max(rows, 0.0), frequencies, floor, titles, id_order, {}, sorted(frequencies))

    def in_titles(self) -> TermStats:
        """Statistics of title words: `title_search`'s own, else these scaled by TITLE_SHARE."""
        if self.titles is not None:
            return self.titles
        shares = [share * TITLE_SHARE for share in self.frequencies.values()]
        scaled = TermStats.of(self.rows, list(self.frequencies), shares, id_order=self.id_order)
        scaled.floor = self.floor * TITLE_SHARE
        return scaled

    def with_counts(self, counted: dict[str, float]) -> TermStats:
        """These statistics, knowing exactly how many stories hold some words."""
        return replace(self, counted={**self.counted, **counted})

    def documents(self, word: str) -> float:
        """About how many stories hold `word` (a word not listed: half the floor, as the planner assumes)."""
        if word in self.counted:
            return self.counted[word]
        share = self.frequencies.get(word)
        return (self.floor / 2 if share is None else share) * self.rows

    def at_most(self, word: str) -> float:
        """An upper bound of how many stories hold `word`."""
        if word in self.counted:
            return self.counted[word]
        share = self.frequencies.get(word)
        return (self.floor if share is None else share) * self.rows

    def prefix_postings(self, prefix: str) -> float:
        """About how many postings the words starting with `prefix` have together (what a GIN prefix match reads
        into its bitmap; a sum over words, so it may exceed the number of stories)."""
        if len(prefix) < SHORT_PREFIX:
            # Hundreds of words start with one or two letters, most of them too rare to be listed.
            return max(self.rows, 1.0) * 2
        start = bisect.bisect_left(self._sorted, prefix)
        total = 0.0
        for word in self._sorted[start:]:
            if not word.startswith(prefix):
                break
            total += self.frequencies[word]
        # A few unlisted words, each rarer than the floor, start with it too.
        return (total + self.floor * UNLISTED_PER_PREFIX) * self.rows


class TermStatsCache:
    """The statistics of `stories.search` and `stories.title_search`, read at most every STATS_TTL_S seconds."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database
        self._stats: TermStats | None = None
        self._read_at = 0.0

    async def get(self) -> TermStats:
        now = time.monotonic()
        if self._stats is None or now - self._read_at > STATS_TTL_S:
            self._stats = await self._read()
            self._read_at = now
        return self._stats

    async def _read(self) -> TermStats:
        # ANALYZE keeps the most common lexemes of a tsvector column. most_common_elem_freqs ends with the
        # minimum and maximum frequency: only the first len(most_common_elems) entries belong to the words.
        rows = await self._db.all(
            "SELECT s.attname, s.most_common_elems::text::text[] AS common, s.most_common_elem_freqs AS shares, "
            "s.correlation FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname "
            "WHERE c.oid = 'stories'::regclass AND s.attname IN ('search', 'title_search', 'id')"
        )
        found = {r["attname"]: r for r in rows}
        size = await self._db.one("SELECT reltuples FROM pg_class WHERE oid = 'stories'::regclass")
        total = 0.0 if size is None else float(size["reltuples"])
        id_order = float(found["id"]["correlation"] or 0.0) if "id" in found else 1.0

        def of(name: str) -> TermStats | None:
            row = found.get(name)
            if row is None or row["common"] is None:
                return None
            common: list[str] = row["common"]
            return TermStats.of(total, common, row["shares"][: len(common)])

        whole = of("search") or TermStats.of(total, [], [])
        titles = of("title_search")
        if titles is not None:
            titles.id_order = id_order
        whole.titles, whole.id_order = titles, id_order
        return whole
