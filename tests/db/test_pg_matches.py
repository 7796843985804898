"""PostgreSQL's full-text plans (db/postgres/matches.py) find the same newest matches, whichever is picked.

At 1M stories the plan follows from how common the words are; here made-up statistics make a small store take
each plan in turn (walks, windows, walks that end in windows), and every plan must give the index's answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

import db.postgres.matches as matches_module
from db import StoreLocation, open_ingest_store, parse_location
from db.ingest_rows import ScannedFile
from db.postgres.database import PgDatabase
from db.postgres.fulltext import TermStats, TsMatch
from db.postgres.matches import NewestMatches
from tests.support.pg import private_schema
from tests.support.seed import NOW, SeedStory, story_row


def _title(n: int) -> str:
    return ("Solar " if n % 3 == 0 else "Wind ") + ("farm" if n % 2 else "panel") + f" n{n}"


def _excerpt(n: int) -> str:
    return "solar storage" if n % 5 == 0 else "grid news"


@pytest.fixture(scope="module")
def location() -> Iterator[StoreLocation]:
    with private_schema() as url:
        location = parse_location(url)
        stories = [
            SeedStory(title=_title(n), excerpt=_excerpt(n), heat=n, url=f"https://news.example/{n}") for n in range(40)
        ]
        # One ingest batch (the plans only read): much quicker than a run per story.
        with open_ingest_store(location) as store:
            run = store.begin_run(NOW)
            run.write_batch([ScannedFile(f"/seed/{n}.md", 1, 1, story_row(s)) for n, s in enumerate(stories)], now=NOW)
            run.finish(scanned=len(stories), finished_at=NOW)
        yield location


@pytest.fixture
async def matches(location: StoreLocation) -> AsyncIterator[NewestMatches]:
    database = await PgDatabase.open(location)
    try:
        yield NewestMatches(database)
    finally:
        await database.close()


def common(words: tuple[str, ...], share: float) -> TermStats:
    """Statistics that say these words are each in `share` of a million stories."""
    return TermStats.of(1_000_000, list(words), [share] * len(words))


@pytest.mark.parametrize(
    "match",
    [
        TsMatch(("solar",)),
        TsMatch(("solar",), titles_only=True),
        TsMatch(("solar", "farm"), titles_only=True),
        TsMatch(("wind", "pan"), titles_only=True, prefix_last=True),
        TsMatch(("storage", "farm"), any_term=True),
    ],
    ids=["word", "title", "title-words", "prefix", "any"],
)
@pytest.mark.parametrize("step", ["walk", "window"])
async def test_every_plan_finds_the_index_answer(
    matches: NewestMatches, match: TsMatch, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rare = TermStats()  # no statistics: every word is rare, read through the index
    expected = {want: await matches.find(match, rare, want=want) for want in (7, 100)}
    # Every step a walk, or every step a window, however dear (sized as the made-up statistics say).
    monkeypatch.setattr(matches_module, "reads_few", lambda _guess: False)
    monkeypatch.setattr(matches_module.Plan, "choose", lambda _plan, _still: step)
    monkeypatch.setattr(matches_module, "BUDGET_US", 1e12)
    monkeypatch.setattr(matches_module, "SPEND_LIMIT_US", 1e12)
    for want, answer in expected.items():
        assert answer
        assert [m.id for m in answer] == sorted((m.id for m in answer), reverse=True)
        for share in (0.9, 0.05, 0.0005):
            assert await matches.find(match, common(match.words, share), want=want) == answer, (want, share)


async def test_flags_tell_title_words_from_excerpt_words(matches: NewestMatches) -> None:
    found = await matches.find(TsMatch(("solar", "grid"), any_term=True), TermStats(), want=100)
    assert len(found) == 40
    for m in found:
        n = int(m.title.rsplit("n", 1)[1])
        assert m.in_title == (n % 3 == 0, False)
        assert m.anywhere == (n % 3 == 0 or n % 5 == 0, n % 5 != 0)
