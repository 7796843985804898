"""How story text becomes words, the same for every engine.

A *word* is a run of letters and digits (`[^\\W_]+` after NFKC normalisation and casefolding). SQLite's FTS5
`unicode61` tokenizer splits text exactly there, and the PostgreSQL store indexes the words this module
produces, so a query finds the same stories on both engines. User text is only ever turned into these words,
which is what makes any input (quotes, `*`, `NEAR(`, `&|!():`) safe: no word can carry query syntax.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Words that match most of the store and carry no meaning for ranking. A query made only of them keeps them.
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "how", "in", "is", "it",
        "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "what", "when", "where", "which",
        "who", "why", "will", "with",
    }
)
MAX_TERMS = 8
MAX_TERM_LENGTH = 40
_WORD = re.compile(r"[^\W_]+")
# ASCII letters and digits lowercased, everything else a space.
_ASCII_WORDS = str.maketrans({chr(i): chr(i).lower() if chr(i).isalnum() else " " for i in range(128)})


def topic_key(name: str) -> str:
    """The one key a topic is stored and looked up under: entities decoded, spaces collapsed, casefolded.

    "AI", "ai" and "A&#73;" are one topic; so are "Power  Apps" and "Power Apps".
    """
    return " ".join(html.unescape(name).split()).casefold()


def words(text: str) -> list[str]:
    """Every word of `text`, in order, casefolded (repeats kept)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _unique(text: str) -> list[str]:
    return list(dict.fromkeys(t[:MAX_TERM_LENGTH] for t in words(text)))


def fold_diacritics(word: str) -> str:
    """'café' -> 'cafe', as FTS5's `remove_diacritics 2` does, so accents never decide a match."""
    decomposed = unicodedata.normalize("NFKD", word)
    if decomposed.isascii():
        return decomposed
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def index_words(text: str) -> str:
    """The words of `text` as an engine without our tokenizer should index them: folded, space-separated."""
    if text.isascii():
        # Most stories: NFKC, casefolding and diacritic folding change nothing but case here, and words are runs
        # of [a-z0-9]. 5x faster, which is ~25 µs of the ingest writer's time per story.
        return " ".join(text.translate(_ASCII_WORDS).split())
    return " ".join(fold_diacritics(w) for w in words(text))


def query_terms(text: str) -> list[str]:
    """The words of a search query (at most MAX_TERMS); stopwords are dropped unless nothing else is left.

    An empty list means the text has nothing to search for.
    """
    unique = _unique(text)
    # Single letters are mostly the tails of contractions ("company's" -> "company", "s").
    meaningful = [t for t in unique if t not in STOPWORDS and (len(t) > 1 or t.isdigit())]
    return (meaningful or unique)[:MAX_TERMS]


def autocomplete_terms(text: str) -> tuple[list[str], bool]:
    """Terms for matching a title while it is typed, and whether the last one is an unfinished word (a prefix)."""
    tokens = [t[:MAX_TERM_LENGTH] for t in words(text)]
    if not tokens:
        return [], False
    *done, partial = tokens
    complete = [t for t in dict.fromkeys(done) if t not in STOPWORDS and t != partial][-(MAX_TERMS - 1) :]
    if len(partial) == 1 and complete:
        # One letter narrows nothing once real words are typed, and its doclist is the biggest there is.
        return complete, False
    return [*complete, partial], True


def distinctive_terms(title: str, excerpt: str) -> list[str]:
    """The words that say what a story is about: its title's, then its excerpt's longer ones."""
    title_terms = [t for t in _unique(title) if len(t) > 1 and t not in STOPWORDS]
    excerpt_terms = [t for t in _unique(excerpt) if len(t) > 3 and t not in STOPWORDS and t not in title_terms]
    return title_terms[:6] + excerpt_terms[:4]
