"""The front-matter loader builds exactly what `yaml.safe_load` builds, through python-frontmatter's handler."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml
from frontmatter.default_handlers import YAMLHandler

from bot.ingest.parse import StoryRejected, parse_story
from bot.ingest.yaml_loader import FrontMatterLoader
from tests.conftest import CORPUS_DIR, SEEDS_DIR
from tests.support.story_files import story_text

_HANDLER = YAMLHandler()

# Every shape PyYAML's safe loader knows, and the odd corners of its constructors.
DOCUMENTS = [
    "title: plain\nheat: 94\nquality: 0x1F\nratio: 1.5e3\nok: yes\nnone: ~\nempty:\n",
    "title: \"quoted \\u00e9 \\r\\n\"\nexcerpt: 'single'\nfolded: >\n  a\n  b\nliteral: |\n  x\n  y\n",
    "when: 2021-03-31T07:00:00Z\nday: 2021-03-31\nlocal: 2021-03-31 07:00:00\n",
    "topics:\n  - AI\n  - 12\n  - [nested, list]\n  - {k: v}\n  -\n",
    "provider:\n  name: A\n  images:\n    - url: https://x.test/a.png\n      width: 50\n",
    "base: &b {name: A, domain: a.test}\nprovider:\n  <<: *b\n  name: B\n",
    "defaults: &d [1, 2]\nboth: [*d, *d]\nsame: *d\n",
    "m1: &m1 {a: 1}\nm2: &m2 {b: 2}\nall:\n  <<: [*m1, *m2]\n  c: 3\n",
    "= : value key\nother: 1\n",
    "map_with_value_key: {=: 5, x: 1}\n",
    "tagged: !!str 123\nnum: !!int '42'\nflt: !!float '1'\nseq: !!seq [a]\nmap: !!map {a: 1}\nbool: !!bool 'true'\n",
    "bin: !!binary aGVsbG8=\nset: !!set {a, b}\nomap: !!omap [a: 1, b: 2]\npairs: !!pairs [a: 1, a: 2]\n",
    "dupe: 1\ndupe: 2\n",
    "? complex key\n: value\n1: int key\n2.5: float key\nnull: null key\ntrue: bool key\n",
    "[a, b]",
    "just a scalar",
    "",
    "# only a comment\n",
    "title: 'x'\nrelated:\n  - title: y\n    quality: 5\n    publishedDateTime: 2021-03-31T07:00:00Z\n",
]

# Documents PyYAML refuses (a YAMLError, or ValueError for an impossible date): refused alike, same message.
REFUSED = [
    "key: [unclosed\n",
    "a: 1\n b: 2\n",
    "? [a, b]\n: unhashable key\n",
    "? {a: 1}\n: unhashable key\n",
    "s: !!str {a: 1}\n",
    "m: !!map [a]\n",
    "l: !!seq {a: 1}\n",
    "n: !!int ten\n",
    "x: !python/object:os.system ls\n",
    "x: *undefined\n",
    "all:\n  <<: 5\n",
    "all:\n  <<: [5]\n",
    "one: 1\n---\ntwo: 2\n",
    "bad: 2021-13-45\n",
]


def _safe(text: str) -> object:
    return yaml.load(text, Loader=yaml.CSafeLoader)


def _ours(text: str) -> object:
    return _HANDLER.load(text, Loader=FrontMatterLoader)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_yaml_loader_builds_what_safe_load_builds(text: str) -> None:
    expected = _safe(text)
    got = _ours(text)
    assert got == expected
    assert type(got) is type(expected)


def test_yaml_loader_alias_of_a_list_is_one_object_like_safe_load() -> None:
    got = _ours("defaults: &d [1, 2]\nboth: [*d, *d]\n")
    assert isinstance(got, dict)
    assert got["both"][0] is got["both"][1] is got["defaults"]


@pytest.mark.parametrize("text", REFUSED)
def test_yaml_loader_refuses_what_safe_load_refuses(text: str) -> None:
    with pytest.raises((yaml.YAMLError, ValueError)) as expected:
        _safe(text)
    with pytest.raises((yaml.YAMLError, ValueError)) as got:
        _ours(text)
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)


def test_yaml_loader_refuses_a_structure_that_contains_itself() -> None:
    # safe_load would build a list that contains itself; no story field can hold one, and the reason says why.
    with pytest.raises(StoryRejected) as caught:
        parse_story(b"---\ntitle: x\ntopics: &t [a, *t]\n---\n")
    assert caught.value.reason == "YAML syntax error on line 3, column 9: found unconstructable recursive node"


def test_yaml_loader_alias_bomb_is_built_once_per_node() -> None:
    # "Billion laughs": each level lists the previous one ten times. Built through the loader's cache of
    # constructed nodes, it costs one list per level, not 10**9 elements.
    levels = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 9)]
    started = time.perf_counter()
    got = _ours("\n".join(levels) + "\n")
    assert time.perf_counter() - started < 2.0
    assert isinstance(got, dict)
    assert got["l8"][0] is got["l7"]


def _block(text: str) -> str:
    match = re.match(r"\A\s*---[ \t]*\r?\n(.*?)^---[ \t]*\r?$", text, re.DOTALL | re.MULTILINE)
    assert match is not None
    return match.group(1)


def _assert_same_as_safe_load(paths: list[Path]) -> None:
    for path in paths:
        block = _block(path.read_text(encoding="utf-8"))
        assert _ours(block) == _safe(block), path


def test_yaml_loader_matches_safe_load_on_the_seeds() -> None:
    paths = sorted(SEEDS_DIR.glob("*.md"))
    assert len(paths) > 20
    _assert_same_as_safe_load(paths)


@pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"shared corpus not found at {CORPUS_DIR}")
def test_yaml_loader_matches_safe_load_on_the_corpus() -> None:
    paths = sorted(CORPUS_DIR.rglob("*.md"))[:800]
    assert len(paths) > 100
    _assert_same_as_safe_load(paths)


def test_yaml_loader_is_what_parse_story_reads_with() -> None:
    # Anchors, aliases and merge keys in a story file work as YAML says.
    text = story_text(provider="PLACEHOLDER", topics=["PLACEHOLDER"]).replace(
        "provider: PLACEHOLDER\n",
        "shared: &p {name: Merged News, domain: Merged.TEST}\nprovider:\n  <<: *p\n  name: Own Name\n",
    )
    text = text.replace("topics:\n- PLACEHOLDER\n", "topics: &t [Grid, Storage]\nrelated_topics: *t\n")
    story = parse_story(text.encode("utf-8"))
    assert (story.provider_name, story.provider_domain) == ("Own Name", "merged.test")
    assert story.topics == ("Grid", "Storage")
