"""Shared fixtures: a real store on each engine, a manual clock, the project's paths.

Every test that takes `location` or `store` runs twice: on a SQLite file in its temp dir (`[sqlite]`) and on a
private schema of the PostgreSQL server named by HEATWAVE_TEST_PG (`[postgres]`; see tests/support/pg.py). A test that
is about one engine's internals overrides `engine` (e.g. `@pytest.mark.parametrize("engine", ["sqlite"])`).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.services.alerts import AlertService
from db import StoreLocation, open_store, parse_location
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter
from tests.support.pg import private_schema

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_ROOT / "seeds"
SHARED_DIR = PROJECT_ROOT.parent / "shared"
CORPUS_DIR = SHARED_DIR / "corpus"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "heatwave.db"


ENGINES = ("sqlite", "postgres")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def location(engine: str, db_path: Path) -> Iterator[StoreLocation]:
    """Where the test's store lives: a SQLite file in the test's temp dir, or a private PostgreSQL schema."""
    if engine == "sqlite":
        yield parse_location(db_path)
        return
    with private_schema() as url:
        yield parse_location(url)


@pytest.fixture
async def store(location: StoreLocation) -> AsyncIterator[Store]:
    """The bot's store over the test's file, migrated; closed after the test."""
    opened = await open_store(location)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


@pytest.fixture
def writer(location: StoreLocation, clock: ManualClock, store: Store) -> Iterator[StoryWriter]:
    """Writes stories into the test's store as the ingester would, first seen at the clock's time."""
    # Depends on `store` so the schema exists before the first story is written.
    w = StoryWriter(location, clock)
    yield w
    w.close()


@pytest.fixture
def alert_service(store: Store, clock: ManualClock) -> AlertService:
    """The real alert service over the test's store, posting at most five a tick, with seeded jitter."""
    return AlertService(store, clock, max_posts_per_tick=5, rng=random.Random(7))


@pytest.fixture
def poster() -> FakePoster:
    return FakePoster()
