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
# What follows a lexeme in the binary form: its NUL, then its positions (a count, then each).
_AFTER_TITLE_ONLY = b"\0" + struct.pack(">HH", 1, _TITLE)
_AFTER_EXCERPT_ONLY = b"\0" + struct.pack(">HH", 1, _EXCERPT)
_AFTER_BOTH = b"\0" + struct.pack(">HHH", 2, _TITLE, _EXCERPT)
_AFTER_BARE = b"\0" + struct.pack(">H", 0)


def _fitting(lexemes: set[bytes], *, short: bool) -> list[bytes]:
    """The lexemes in tsvector order (by their bytes), within its limits. `short`: the words' text is shorter
    than one lexeme may be, so no limit can be reached (nearly every story)."""
    ordered = sorted(lexemes)
    if short:
        return ordered
    kept: list[bytes] = []
    total = 0
    for lexeme in ordered:
        if len(lexeme) > MAX_LEXEME_BYTES:
            continue
        total += len(lexeme)
        if total > MAX_VECTOR_BYTES:
            break
        kept.append(lexeme)
    return kept


def _split(title_words: str, excerpt_words: str) -> tuple[set[bytes], set[bytes], bool]:
    titles = title_words.encode()
    excerpts = excerpt_words.encode()
    return set(titles.split()), set(excerpts.split()), len(titles) + len(excerpts) <= MAX_LEXEME_BYTES


def search_binary(title_words: str, excerpt_words: str) -> tuple[bytes, bytes]:
    """(`search`, `title_search`) in tsvector's binary form: a count, then each lexeme NUL-terminated with its
    positions (a count, then each as weight << 14 | position)."""
    in_title, in_excerpt, short = _split(title_words, excerpt_words)
    # One comprehension and one join per vector: copy-store makes a million of these (~40 lexemes each).
    ordered = _fitting(in_title | in_excerpt, short=short)
    search = _COUNT.pack(len(ordered)) + b"".join(
        [
            lexeme
            + (
                (_AFTER_BOTH if lexeme in in_excerpt else _AFTER_TITLE_ONLY)
                if lexeme in in_title
                else _AFTER_EXCERPT_ONLY
            )
            for lexeme in ordered
        ]
    )
    titles = _fitting(in_title, short=short)
    title_search = _COUNT.pack(len(titles)) + (_AFTER_BARE.join(titles) + _AFTER_BARE if titles else b"")
    return search, title_search


def search_text(title_words: str, excerpt_words: str) -> tuple[str, str]:
    """(`search`, `title_search`) in tsvector's text form (`'word':1A,2B`). Lexemes are runs of letters and
    digits, so they need no quoting beyond the quotes around each."""
    in_title, in_excerpt, short = _split(title_words, excerpt_words)
    parts = []
    for lexeme in _fitting(in_title | in_excerpt, short=short):
        word = lexeme.decode()
        if lexeme not in in_title:
            parts.append(f"'{word}':2B")
        elif lexeme in in_excerpt:
            parts.append(f"'{word}':1A,2B")
        else:
            parts.append(f"'{word}':1A")
    title_search = " ".join(f"'{lexeme.decode()}'" for lexeme in _fitting(in_title, short=short))
    return " ".join(parts), title_search


class TsVectorBinaryDumper(Dumper):
    """Passes `search_binary`'s bytes through as a tsvector in binary COPY (after `Copy.set_types`); psycopg has
    no tsvector adapter of its own. Register it by oid only: `adapters.register_dumper(None, …)`."""

    format = Format.BINARY
    oid = postgres.types["tsvector"].oid  # a built-in type: the same oid on every server

    def dump(self, obj: object) -> bytes:
        if not isinstance(obj, bytes):
            raise TypeError(f"a tsvector for binary COPY must be search_binary()'s bytes, not {type(obj).__name__}")
        return obj
