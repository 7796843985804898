"""Every SQL statement a lookup runs avoids full scans of the big tables (EXPLAIN QUERY PLAN).

Latency itself is measured by bench/commands.py at 1M stories; this test catches the regression that
matters most there, a query that stops using its index, on a store small enough for CI.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

import db.sqlite.lookups as lookups_module
from bot.clock import ManualClock
from bot.services.lookups import LookupService
from db.interfaces import Store
from db.sqlite.lookups import SqliteLookups
from db.sqlite.store import SqliteStore
from tests.support.storydb import NOW, Related, Story, add_stories

_BIG_TABLES = ("stories", "story_topics", "related_entries", "heat_history")
# "SCAN s" / "SCAN stories" with no index is a full table scan; "SCAN x USING ... INDEX" walks an index in
# order (and stops at the LIMIT), "SCAN x VIRTUAL TABLE" is an FTS5 lookup.
_FULL_SCAN = re.compile(r"\bSCAN (\w+)(?! USING| VIRTUAL)(?:\s|$)")

# These read SQLite's own query plans; the PostgreSQL lookups are timed by bench/commands.py instead.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"])


@pytest.fixture
async def recorded(
    store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> tuple[LookupService, list[tuple[str, tuple[Any, ...]]]]:
    statements: list[tuple[str, tuple[Any, ...]]] = []
    lookups = store.lookups
    assert isinstance(lookups, SqliteLookups)
    original_all, original_one = lookups._all, lookups._one

    async def record_all(sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        statements.append((sql, params))
        return await original_all(sql, params)

    async def record_one(sql: str, params: tuple[Any, ...] = ()) -> Any:
        statements.append((sql, params))
        return await original_one(sql, params)

    await add_stories(
        store,
        [
            Story(f"Quantum computing story {i}", topics=("AI", "Quantum") if i % 3 else ("AI", "Qubits"),
                  heat=50 + i, first_seen_at=NOW - timedelta(hours=i), url=f"https://q.example/{i}",
                  related=(Related(f"https://q.example/{i + 1}"),))
            for i in range(30)
        ],
    )
    # The repository reads through these two (bound to its connection when it is built).
    monkeypatch.setattr(lookups, "_all", record_all)
    monkeypatch.setattr(lookups, "_one", record_one)
    return LookupService(lookups, clock), statements


async def _plans(store: Store, statements: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, str]]:
    assert isinstance(store, SqliteStore)
    conn = store._database.conn
    found = []
    for sql, params in statements:
        async with conn.execute(f"EXPLAIN QUERY PLAN {sql}", params) as cursor:
            plan = "\n".join(row[3] for row in await cursor.fetchall())
        found.append((sql, plan))
    return found


LOOKUPS: dict[str, Callable[[LookupService], Awaitable[object]]] = {
    "topic hot": lambda s: s.topic("AI"),
    "topic new deep page": lambda s: s.topic("quantum", sort="new", page=3),
    "topics": lambda s: s.topics(),
    "related by id": lambda s: s.related("3"),
    "related by link": lambda s: s.related("https://q.example/4"),
    "related by title": lambda s: s.related("quantum story 7"),
    # Qubits is on a third of the stories: its stories near this one in time are candidates too.
    "related on a rarer topic": lambda s: s.related("1"),
    "search": lambda s: s.search("quantum computing"),
    "search any word": lambda s: s.search("quantum zebra"),
    "trending": lambda s: s.trending(hours=6),
    "trending topic": lambda s: s.trending(hours=720, topic="Quantum"),
    "topic autocomplete": lambda s: s.topic_choices("qu"),
    "story autocomplete": lambda s: s.story_choices("quantum comp"),
    "story autocomplete empty": lambda s: s.story_choices(""),
}


@pytest.mark.parametrize("lookup", list(LOOKUPS))
@pytest.mark.parametrize(("window_limit", "seek_cost"), [(5_000, 5), (0, 10**9)])
async def test_lookup_queries_never_scan_a_big_table(
    recorded: tuple[LookupService, list[tuple[str, tuple[Any, ...]]]],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    lookup: str,
    window_limit: int,
    seek_cost: int,
) -> None:
    monkeypatch.setattr(lookups_module, "_WINDOW_SCAN_LIMIT", window_limit)
    monkeypatch.setattr(lookups_module, "_SEEK_COST", seek_cost)
    service, statements = recorded
    statements.clear()
    await LOOKUPS[lookup](service)
    assert statements
    for sql, plan in await _plans(store, statements):
        scanned = [t for t in _FULL_SCAN.findall(plan) if t in _BIG_TABLES or t in ("s", "st", "r")]
        assert not scanned, f"full scan of {scanned} in:\n{sql}\n{plan}"


async def test_common_words_fall_back_to_the_cheap_ranking(
    recorded: tuple[LookupService, list[tuple[str, tuple[Any, ...]]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a zero budget every word counts as common: the answer must still be sensible (title matches first).
    monkeypatch.setattr(lookups_module, "BM25_DOCUMENT_BUDGET", 0)
    service, statements = recorded
    result = await service.search("quantum story 12")
    assert result.page.items[0].title == "Quantum computing story 12"
    assert not any("bm25" in sql for sql, _ in statements)
