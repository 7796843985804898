"""The `search` and `title_search` tsvectors, made here from our own words instead of by the server.

Letting PostgreSQL derive them (`to_tsvector('simple', …)` in generated columns) ran its text parser three times
per story on every write: the largest cost of a bulk load on the server. The words are already ours
(`db.text.index_words`), and the queries only ask "does this story hold this word, anywhere or in its title" —
never phrases or `ts_rank` — so a vector needs nothing but its lexemes: `search` holds the title's and the
excerpt's, `title_search` the title's, neither with positions. Whether a word is in a title is asked of
`title_search` (it has its own GIN index too), so no weights are needed; stores written before this still hold
weighted positions in `search`, which queries without weights match all the same.

The lexemes are exactly our words, so what the index holds is exactly what a query looks up; PostgreSQL's parser
no longer splits or drops anything on the way. Its limits still hold: a lexeme of 2,048 bytes or more, and any
lexeme past 1 MiB of them in one vector, is left out (such a word is never typed; the story is still stored).

Two spellings of the same vector: the text form (`'word' 'other'`) for COPY in text format and for UPDATE
parameters, and the binary form (tsvector's send/recv format) for binary COPY.
"""

from __future__ import annotations

import struct
from collections.abc import Collection

from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

MAX_LEXEME_BYTES = 2047  # MAXSTRLEN
MAX_VECTOR_BYTES = (1 << 20) - 1  # MAXSTRPOS: lexeme bytes in one vector
_COUNT = struct.Struct(">i")
# What follows each lexeme in the binary form: its NUL, then its number of positions (none).
_BARE = "\0\0\0"


def _fitting(lexemes: set[str]) -> list[str]:
    """The lexemes within tsvector's limits, in its order (by their UTF-8 bytes, which is code point order)."""
    kept: list[str] = []
    total = 0
    for lexeme in sorted(lexemes):
        size = len(lexeme.encode())
        if size > MAX_LEXEME_BYTES:
            continue
        total += size
        if total > MAX_VECTOR_BYTES:
            break
        kept.append(lexeme)
    return kept


def _lexemes(title_words: str, excerpt_words: str) -> tuple[Collection[str], Collection[str]]:
    """(every lexeme, the title's lexemes), each once. While the words' text is shorter than one lexeme may be
    (nearly every story) no limit can be reached, and the sets go out unsorted: tsvector's receive function
    sorts them (in C, on the server) when they are not in order."""
    in_title = set(title_words.split())
    everywhere = in_title.union(excerpt_words.split())
    characters = len(title_words) + len(excerpt_words)
    # A character takes at most 4 bytes: only a longer text needs its bytes counted.
    if characters * 4 <= MAX_LEXEME_BYTES or (
        characters <= MAX_LEXEME_BYTES and len(title_words.encode()) + len(excerpt_words.encode()) <= MAX_LEXEME_BYTES
    ):
        return everywhere, in_title
    return _fitting(everywhere), _fitting(in_title)


def _binary(lexemes: Collection[str]) -> bytes:
    if not lexemes:
        return _COUNT.pack(0)
    return _COUNT.pack(len(lexemes)) + (_BARE.join(lexemes) + _BARE).encode()


def search_binary(title_words: str, excerpt_words: str) -> tuple[bytes, bytes]:
    """(`search`, `title_search`) in tsvector's binary form: a count, then each lexeme NUL-terminated with its
    number of positions (0). Words hold letters and digits only, never a NUL."""
    everywhere, in_title = _lexemes(title_words, excerpt_words)
    return _binary(everywhere), _binary(in_title)


def search_text(title_words: str, excerpt_words: str) -> tuple[str, str]:
    """(`search`, `title_search`) in tsvector's text form (`'word' 'other'`). Lexemes are runs of letters and
    digits, so they need no quoting beyond the quotes around each."""
    everywhere, in_title = _lexemes(title_words, excerpt_words)
    return " ".join(f"'{w}'" for w in everywhere), " ".join(f"'{w}'" for w in in_title)


class TsVectorBinaryDumper(Dumper):
    """Passes `search_binary`'s bytes through as a tsvector in binary COPY (after `Copy.set_types`); psycopg has
    no tsvector adapter of its own. Register it by oid only: `adapters.register_dumper(None, …)`."""

    format = Format.BINARY
    oid = postgres.types["tsvector"].oid  # a built-in type: the same oid on every server

    def dump(self, obj: object) -> bytes:
        if not isinstance(obj, bytes):
            raise TypeError(f"a tsvector for binary COPY must be search_binary()'s bytes, not {type(obj).__name__}")
        return obj
