"""Whether two stories report the same event: the dedupe rule of living posts, independent of any engine.

Two stories are one event when either lists the other in its `related` list (the publisher grouped them), or
when their titles are near-identical once normalised:
- entities decoded, NFKC + casefold, accents folded, punctuation gone (`db.text.words`), wire boilerplate
  ("RE-TRANSMISSION:", "UPDATE:", "BREAKING:") dropped, and stopwords left out;
- the numbers of one title are all in the other ("2019 release wave 2" is not "2020 release wave 1", but a
  title that adds the date, "... Launch Event | April 6, 2021", is still the same event);
- at least MIN_WORDS words each, and the shared words are at least OVERLAP of the shorter title and JACCARD of
  both together. A word counts as shared when one is a prefix of the other of at least 4 letters ("tech" and
  "technology"), once at least half of the shorter title's words match exactly.
Two stories of the *same* provider must have identical normalised titles: a provider's own series ("Microsoft
Power Apps | 2019 release wave 2 overview" and "Microsoft Power Apps Portals | ...") differ by one word on
purpose; another provider retelling an event does not.
Measured on ../shared/corpus (see tests/bot/services/test_same_event.py for the clusters it must join and the
near-misses it must keep apart).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from db.text import STOPWORDS, fold_diacritics, words

__all__ = ["JACCARD", "MIN_WORDS", "OVERLAP", "TitleKey", "same_event_title", "same_title", "title_key"]

MIN_WORDS = 4
OVERLAP = 0.8
JACCARD = 0.6
_PREFIX = 4
# Words a wire or an editor puts in front of the same story again.
_BOILERPLATE = re.compile(
    r"^\s*(?:re-?transmission|update[ds]?|breaking(?: news)?|exclusive|watch|video|press release)\s*[:|-]\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class TitleKey:
    """A title reduced to what the comparison looks at."""

    words: frozenset[str]
    numbers: frozenset[str]


def title_key(title: str) -> TitleKey:
    """The normalised words and numbers of a title."""
    text = html.unescape(title)
    while True:
        stripped = _BOILERPLATE.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    kept = [fold_diacritics(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    return TitleKey(frozenset(w for w in kept if not w.isdigit()), frozenset(w for w in kept if w.isdigit()))


def _shared(small: Iterable[str], large: frozenset[str]) -> int:
    count = 0
    for word in small:
        if word in large or (len(word) >= _PREFIX and any(
            len(other) >= _PREFIX and (other.startswith(word) or word.startswith(other)) for other in large
        )):
            count += 1
    return count


def same_title(a: TitleKey, b: TitleKey) -> bool:
    """Whether two normalised titles name the same event (see the module docstring for the rule)."""
    if not (a.numbers <= b.numbers or b.numbers <= a.numbers):
        return False
    if len(a.words) + len(a.numbers) < MIN_WORDS or len(b.words) + len(b.numbers) < MIN_WORDS:
        return a == b and bool(a.words)
    small, large = (a.words, b.words) if len(a.words) <= len(b.words) else (b.words, a.words)
    # Most pairs share few words: at least half of the shorter title must match exactly before prefixes count.
    if 2 * len(small & large) < len(small):
        return False
    shared = _shared(small, large)
    union = len(a.words) + len(b.words) - shared
    return shared >= OVERLAP * len(small) and union > 0 and shared >= JACCARD * union


def same_event_title(a: TitleKey, a_provider: str | None, b: TitleKey, b_provider: str | None) -> bool:
    """`same_title`, except that two stories of one provider (by domain) need identical normalised titles."""
    if a_provider and b_provider and a_provider.casefold() == b_provider.casefold():
        return a == b and bool(a.words)
    return same_title(a, b)
