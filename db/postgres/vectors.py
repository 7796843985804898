"""The `search` and `title_search` tsvectors, made here from our own words instead of by the server.

Letting PostgreSQL derive them (`to_tsvector('simple', …)` in generated columns) ran its text parser three times
per story on every write: the largest cost of a bulk load on the server. The words are already ours
(`db.text.index_words`), and the queries only ask "does this story hold this word, in its title or anywhere" —
never phrases or `ts_rank` — so a vector needs its lexemes and, for `search`, whether each is in the title
(weight A) or the excerpt (weight B). Each lexeme therefore carries at most two positions: 1A for the title, 2B for
the excerpt. `title_search` holds the title's lexemes without positions (its queries carry no weights).

The lexemes are exactly our words, so what the index holds is exactly what a query looks up; PostgreSQL's parser
no longer splits or drops anything on the way. Its limits still hold: a lexeme of 2,048 bytes or more, and any
lexeme past 1 MiB of them in one vector, is left out (such a word is never typed; the story is still stored).

Two spellings of the same vector: the text form (`'word':1A,2B`) for COPY in text format and for UPDATE
parameters, and the binary form (tsvector's send/recv format) for binary COPY.
"""

from __future__ import annotations

import struct

from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

MAX_LEXEME_BYTES = 2047  # MAXSTRLEN
MAX_VECTOR_BYTES = (1 << 20) - 1  # MAXSTRPOS: lexeme bytes in one vector
_TITLE = 1 | (3 << 14)  # position 1, weight A
_EXCERPT = 2 | (2 << 14)  # position 2, weight B
_COUNT = struct.Struct(">i")
_NO_POSITIONS = struct.pack(">H", 0)
_TITLE_ONLY = struct.pack(">HH", 1, _TITLE)
_EXCERPT_ONLY = struct.pack(">HH", 1, _EXCERPT)
_BOTH = struct.pack(">HHH", 2, _TITLE, _EXCERPT)
_TEXT_MARKS = {_TITLE_ONLY: ":1A", _EXCERPT_ONLY: ":2B", _BOTH: ":1A,2B"}


def _lexemes(words: str) -> set[str]:
    return set(words.split())


def _fitting(lexemes: set[str]) -> list[tuple[str, bytes]]:
    """The lexemes in tsvector order (by their UTF-8 bytes: the same as by code points), within its limits."""
    kept: list[tuple[str, bytes]] = []
    total = 0
    for lexeme in sorted(lexemes):
        encoded = lexeme.encode()
        if len(encoded) > MAX_LEXEME_BYTES:
            continue
        total += len(encoded)
        if total > MAX_VECTOR_BYTES:
            break
        kept.append((lexeme, encoded))
    return kept


def _search_entries(title_words: str, excerpt_words: str) -> list[tuple[str, bytes, bytes]]:
    in_title = _lexemes(title_words)
    in_excerpt = _lexemes(excerpt_words)
    entries = []
    for lexeme, encoded in _fitting(in_title | in_excerpt):
        if lexeme not in in_title:
            positions = _EXCERPT_ONLY
        elif lexeme in in_excerpt:
            positions = _BOTH
        else:
            positions = _TITLE_ONLY
        entries.append((lexeme, encoded, positions))
    return entries


def search_text(title_words: str, excerpt_words: str) -> tuple[str, str]:
    """(`search`, `title_search`) in tsvector's text form. Lexemes are runs of letters and digits, so they need no
    quoting beyond the quotes around each."""
    search = " ".join(f"'{lexeme}'{_TEXT_MARKS[positions]}" for lexeme, _, positions in
                      _search_entries(title_words, excerpt_words))
    titles = " ".join(f"'{lexeme}'" for lexeme, _ in _fitting(_lexemes(title_words)))
    return search, titles


def search_binary(title_words: str, excerpt_words: str) -> tuple[bytes, bytes]:
    """(`search`, `title_search`) in tsvector's binary form: a count, then each lexeme NUL-terminated with its
    positions (a count, then each as weight << 14 | position)."""
    entries = _search_entries(title_words, excerpt_words)
    search = b"".join([_COUNT.pack(len(entries)), *(encoded + b"\0" + positions for _, encoded, positions in entries)])
    titles = _fitting(_lexemes(title_words))
    title_search = b"".join([_COUNT.pack(len(titles)), *(encoded + b"\0" + _NO_POSITIONS for _, encoded in titles)])
    return search, title_search


class TsVectorBinaryDumper(Dumper):
    """Passes `search_binary`'s bytes through as a tsvector in binary COPY (after `Copy.set_types`); psycopg has
    no tsvector adapter of its own. Register it by oid only: `adapters.register_dumper(None, …)`."""

    format = Format.BINARY
    oid = postgres.types["tsvector"].oid  # a built-in type: the same oid on every server

    def dump(self, obj: object) -> bytes:
        if not isinstance(obj, bytes):
            raise TypeError(f"a tsvector for binary COPY must be search_binary()'s bytes, not {type(obj).__name__}")
        return obj
