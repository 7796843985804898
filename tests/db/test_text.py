"""db.text: the word rules both engines index and query by."""

from __future__ import annotations

import pytest

from db.text import fold_diacritics, index_words, query_terms, topic_key, words
from tests.conftest import SEEDS_DIR


def _index_words_slowly(text: str) -> str:
    return " ".join(fold_diacritics(word) for word in words(text))


def test_index_words_ascii_shortcut_gives_exactly_the_general_rule() -> None:
    texts = [chr(i) * 3 + " a" + chr(i) + "b " for i in range(128)]
    texts += [path.read_text(encoding="utf-8") for path in sorted(SEEDS_DIR.glob("*.md"))]
    texts += ["Café déjà vu", "ＦＵＬＬ width", "snake_case and-dashes", "İstanbul ß", "GPT-4o_mini"]
    for text in texts:
        assert index_words(text) == _index_words_slowly(text), text


def test_index_words_folds_accents_and_width() -> None:
    assert index_words("Café ＡＩ déjà-vu") == "cafe ai deja vu"


@pytest.mark.parametrize("hostile", ['"', "*", "NEAR(a b)", "a & b | !c ():", "'; DROP TABLE stories; --"])
def test_query_terms_hold_only_letters_and_digits(hostile: str) -> None:
    assert all(term.isalnum() for term in query_terms(hostile))


def test_one_topic_key_for_case_spaces_and_entities() -> None:
    assert topic_key("Power  Apps") == topic_key("power apps") == topic_key("POWER&#32;APPS") == "power apps"
