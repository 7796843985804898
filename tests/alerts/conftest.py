"""Fixtures for the alert tests: the real service over a real store (each engine), a story writer and a fake Poster."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from bot.clock import ManualClock
from bot.services.alerts import AlertService
from db import StoreLocation
from db.interfaces import Store
from tests.alerts.support import FakePoster, StoryWriter


@pytest.fixture
def writer(location: StoreLocation, clock: ManualClock, store: Store) -> Iterator[StoryWriter]:
    # Depends on `store` so the schema exists before the first story is written.
    w = StoryWriter(location, clock)
    yield w
    w.close()


@pytest.fixture
def service(store: Store, clock: ManualClock) -> AlertService:
    return AlertService(store, clock, max_posts_per_tick=5, rng=random.Random(7))


@pytest.fixture
def poster() -> FakePoster:
    return FakePoster()
