"""Fixtures for the alert tests: the real service over a real SQLite file, a story writer and a fake Poster."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.services.alerts import AlertService
from db import Database
from db.alerts import AlertRepository
from tests.alerts.support import FakePoster, StoryWriter


@pytest.fixture
def writer(db_path: Path, clock: ManualClock, database: Database) -> Iterator[StoryWriter]:
    # Depends on `database` so the schema exists before the first story is written.
    w = StoryWriter(db_path, clock)
    yield w
    w.close()


@pytest.fixture
def service(database: Database, clock: ManualClock) -> AlertService:
    return AlertService(AlertRepository(database), clock, max_posts_per_tick=5, rng=random.Random(7))


@pytest.fixture
def poster() -> FakePoster:
    return FakePoster()
