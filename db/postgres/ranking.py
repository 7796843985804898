"""bm25 as SQLite's FTS5 computes it, so PostgreSQL ranks matches in the same order as the SQLite store.

FTS5 (fts5_aux.c) scores a row for phrases p (here: single words) as
    sum over p of idf(p) * f(p) * (k1 + 1) / (f(p) + k1 * (1 - b + b * D / avgdl)),  k1 = 1.2, b = 0.75
where f(p) is the row's hits of p, each weighted by its column's weight (titles 3, excerpts 1 for stories; 1
for titles alone), D the row's tokens in all columns, avgdl the average of D over the table, and
idf(p) = ln((N - n(p) + 0.5) / (n(p) + 0.5)) (at least 1e-6) for N rows of which n(p) hold p. Our words are the
tokens FTS5's unicode61 tokenizer makes (`db.text`), so counting them in `title_words`/`excerpt_words` gives
FTS5's numbers. N and avgdl come from the table (a sample of it when it is large); n(p) is counted exactly when
that is cheap (rare words, small stores) and taken from the planner's statistics otherwise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from db.postgres.database import PgDatabase
from db.postgres.matches import Match

K1 = 1.2
B = 0.75
# A word's weight in a title against an excerpt (SQLite's bm25 column weights for stories_fts).
TITLE_WEIGHT = 3.0
# Tables of at most this many pages are counted whole (and not cached: it is quick); larger ones are sampled.
_SAMPLE_PAGES = 2_000
_CORPUS_TTL_S = 300.0
_TOKENS = "CASE WHEN {c} = '' THEN 0 ELSE length({c}) - length(replace({c}, ' ', '')) + 1 END"


@dataclass(frozen=True, slots=True)
class Corpus:
    """The table-wide numbers bm25 needs."""

    rows: float
    avg_tokens: float  # title and excerpt words per story
    avg_title_tokens: float


def idf(rows: float, hits: float) -> float:
    value = math.log((rows - hits + 0.5) / (hits + 0.5)) if rows > 0 else 0.0
    return value if value > 0 else 1e-6


def bm25(match: Match, words: Sequence[str], idfs: Sequence[float], corpus: Corpus, *, titles_only: bool) -> float:
    """The row's bm25 score (higher is better; FTS5 returns it negated)."""
    title = match.title_words.split()
    if titles_only:
        length, average = len(title), corpus.avg_title_tokens
        frequencies = [float(title.count(w)) for w in words]
    else:
        excerpt = match.excerpt_words.split()
        length, average = len(title) + len(excerpt), corpus.avg_tokens
        frequencies = [TITLE_WEIGHT * title.count(w) + excerpt.count(w) for w in words]
    norm = K1 * (1 - B + B * length / average) if average > 0 else K1
    return sum(weight * f * (K1 + 1) / (f + norm) for weight, f in zip(idfs, frequencies, strict=True) if f > 0)


def round_like_sqlite(value: float, digits: int = 1) -> float:
    """SQLite's round(): half away from zero (Python's round() goes to the even neighbour)."""
    scale = 10**digits
    return math.copysign(math.floor(abs(value) * scale + 0.5) / scale, value)


class CorpusCache:
    """`Corpus` of the stories table: counted whole for a small table, else sampled and kept a few minutes."""

    def __init__(self, database: PgDatabase) -> None:
        self._db = database
        self._corpus: Corpus | None = None
        self._read_at = 0.0

    async def get(self) -> Corpus:
        now = time.monotonic()
        if self._corpus is None or now - self._read_at > _CORPUS_TTL_S:
            corpus, sampled = await self._read()
            if not sampled:
                return corpus
            self._corpus, self._read_at = corpus, now
        return self._corpus

    async def _read(self) -> tuple[Corpus, bool]:
        size = await self._db.one("SELECT relpages, reltuples FROM pg_class WHERE oid = 'stories'::regclass")
        assert size is not None
        pages = int(size["relpages"])
        sampled = pages > _SAMPLE_PAGES and size["reltuples"] > 0
        percent = 100.0 * _SAMPLE_PAGES / pages if sampled else 100.0
        title, excerpt = _TOKENS.format(c="title_words"), _TOKENS.format(c="excerpt_words")
        row = await self._db.one(
            f"SELECT count(*) AS n, coalesce(sum({title}), 0) AS title, coalesce(sum({excerpt}), 0) AS excerpt "
            "FROM stories TABLESAMPLE SYSTEM (%s)",
            (percent,),
        )
        assert row is not None
        counted = max(int(row["n"]), 1)
        rows = float(size["reltuples"]) if sampled else float(row["n"])
        tokens = float(row["title"]) + float(row["excerpt"])
        return Corpus(rows, tokens / counted, float(row["title"]) / counted), sampled
