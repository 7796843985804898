"""Writing a handful of stories into a real, migrated store for lookup tests.

Stories go in through the ingester's store (`db.open_ingest_store`), as parsed files do in production, so the
rows, topic counts and full-text index are exactly what lookups meet in a real store, on any engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.urls import normalize_url
from db import open_ingest_store
from db.ingest_rows import ScannedFile, StoryRow, iso_utc
from db.interfaces import Store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Related:
    url: str
    title: str = "A related story"
    excerpt: str = "Related excerpt."
    provider_name: str | None = "Elsewhere"
    provider_domain: str | None = "elsewhere.example"


@dataclass(frozen=True)
class Story:
    title: str
    excerpt: str = "An excerpt about the story."
    topics: tuple[str, ...] = ("AI",)
    heat: int | None = 80
    quality: int | None = 80
    url: str | None = None
    kind: str = "article"
    provider_name: str | None = "Provider"
    provider_domain: str | None = "provider.example"
    image_url: str | None = "https://img.example/x.jpg"
    published_at: datetime = NOW - timedelta(days=1)
    first_seen_at: datetime = NOW - timedelta(hours=1)
    related: tuple[Related, ...] = field(default_factory=tuple)


_counter = iter(range(1, 1_000_000))


def _row(story: Story, link: str) -> StoryRow:
    """The row the ingester would store for a file holding this story."""
    return StoryRow(
        url=normalize_url(link),
        title=story.title,
        excerpt=story.excerpt,
        published_at=iso_utc(story.published_at),
        kind=story.kind,
        provider_name=story.provider_name,
        provider_domain=story.provider_domain,
        link_url=link,
        amp_url=None,
        image_url=story.image_url,
        heat=story.heat,
        quality=story.quality,
        content_hash=f"hash-{link}",
        topics=story.topics,
        related=tuple(
            (
                normalize_url(entry.url),
                entry.url,
                entry.title,
                entry.excerpt,
                None,
                entry.provider_name,
                entry.provider_domain,
                50,
                None,
            )
            for entry in story.related
        ),
    )


async def add_stories(store: Store, stories: list[Story]) -> list[int]:
    """Store the stories in order through the ingester's store (one file each, first seen at `first_seen_at`);
    returns their ids."""
    links = [story.url or f"https://news.example/story-{next(_counter)}" for story in stories]
    with open_ingest_store(store.location) as ingest:
        run = ingest.begin_run(NOW)
        for number, (story, link) in enumerate(zip(stories, links, strict=True)):
            scanned = ScannedFile(f"news/{next(_counter)}-{number}.md", 1, 1, _row(story, link))
            run.write_batch([scanned], now=story.first_seen_at)
    ids = []
    for link in links:
        found = await store.lookups.story_by_url(normalize_url(link))
        assert found is not None, link
        ids.append(found.id)
    return ids


async def add_story(store: Store, story: Story) -> int:
    """Store one story with its topics and related entries; returns its id."""
    (story_id,) = await add_stories(store, [story])
    return story_id
