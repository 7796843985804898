"""Writing a handful of stories straight into a real, migrated database for lookup tests.

The ingester's store is tested on its own; lookups only need rows shaped exactly as the 0001 schema says,
so this helper writes them with plain SQL (triggers keep topic counts and the FTS index, as in production).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.urls import normalize_url
from db import Database
from db.timefmt import to_db

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


async def add_story(database: Database, story: Story) -> int:
    """Insert one story with its topics and related entries; returns its id."""
    conn = database.conn
    link = story.url or f"https://news.example/story-{next(_counter)}"
    cursor = await conn.execute(
        "INSERT INTO stories (url, title, excerpt, published_at, kind, provider_name, provider_domain, link_url, "
        "amp_url, image_url, heat, quality, content_hash, source_path, first_seen_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 'hash', 'news/x.md', ?, ?)",
        (
            normalize_url(link),
            story.title,
            story.excerpt,
            to_db(story.published_at),
            story.kind,
            story.provider_name,
            story.provider_domain,
            link,
            story.image_url,
            story.heat,
            story.quality,
            to_db(story.first_seen_at),
            to_db(story.first_seen_at),
        ),
    )
    story_id = cursor.lastrowid
    assert story_id is not None
    for position, name in enumerate(story.topics):
        await conn.execute(
            "INSERT INTO topics (key, name) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (name.casefold(), name)
        )
        await conn.execute(
            "INSERT INTO story_topics (story_id, topic_id, position) "
            "SELECT ?, id, ? FROM topics WHERE key = ?",
            (story_id, position, name.casefold()),
        )
    for position, entry in enumerate(story.related):
        await conn.execute(
            "INSERT INTO related_entries (story_id, position, url, link_url, title, excerpt, published_at, "
            "provider_name, provider_domain, quality, image_url) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, 50, NULL)",
            (
                story_id,
                position,
                normalize_url(entry.url),
                entry.url,
                entry.title,
                entry.excerpt,
                entry.provider_name,
                entry.provider_domain,
            ),
        )
    return story_id


async def add_stories(database: Database, stories: list[Story]) -> list[int]:
    """Insert several stories in order; returns their ids."""
    return [await add_story(database, s) for s in stories]
