"""Writing a handful of stories into a real, migrated store for lookup tests (any engine).

`Story` and `Related` are `tests.support.seed`'s: stories go in through the ingester's store, as parsed files do in
production, each first seen at its own `first_seen_at`.
"""

from __future__ import annotations

from db.interfaces import Store
from tests.support.seed import NOW, Seeder
from tests.support.seed import SeedRelated as Related
from tests.support.seed import SeedStory as Story

__all__ = ["NOW", "Related", "Story", "add_stories", "add_story"]


async def add_stories(store: Store, stories: list[Story]) -> list[int]:
    """Store the stories in order; returns their ids."""
    with Seeder(store.location) as seeder:
        return seeder.add_many(stories)


async def add_story(store: Store, story: Story) -> int:
    """Store one story with its topics and related entries; returns its id."""
    (story_id,) = await add_stories(store, [story])
    return story_id
