"""Stories written into a store the way production writes them: through the ingester's store (any engine).

Tests describe stories with `SeedStory`; `Seeder` turns each into the row a parsed file gives and writes it
with `IngestRun.write_batch`, stamped at the time the test chooses (that stamp is the story's first_seen_at,
and heat changes land in heat_history exactly as a changed file would put them there).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.urls import normalize_url
from db import StoreLocation, open_ingest_store
from db.ingest_rows import RelatedRow, ScannedFile, StoryRow, iso_utc

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
# One sequence for every Seeder of the process: two seeders on one store never reuse a file path or a URL.
_NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class SeedRelated:
    url: str
    title: str = "A related story"
    excerpt: str = "Related excerpt."
    provider_name: str | None = "Elsewhere"
    provider_domain: str | None = "elsewhere.example"
    quality: int | None = 50


@dataclass(frozen=True)
class SeedStory:
    title: str = ""
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
    related: tuple[SeedRelated, ...] = field(default_factory=tuple)


class Seeder:
    """Writes `SeedStory`s into the store at `location`; remembers each story's file so it can change it later."""

    def __init__(self, location: StoreLocation) -> None:
        self._store = open_ingest_store(location)
        self._files: dict[str, tuple[str, SeedStory]] = {}  # url -> (path, story as last written)
        self._ids: dict[str, int] = {}

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Seeder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def add(self, story: SeedStory, *, at: datetime | None = None) -> int:
        """Write a new story (first seen at `at`, default its own first_seen_at); returns its id."""
        n = next(_NUMBERS)
        link = story.url or f"https://news.example/story-{n}"
        story = replace(story, url=link, title=story.title or f"Story {n}")
        path = f"/seed/{n:06d}.md"
        self._write(path, story, at or story.first_seen_at)
        self._files[normalize_url(link)] = (path, story)
        return self.id_of(link)

    def add_many(self, stories: Iterable[SeedStory]) -> list[int]:
        """Write stories in order, each first seen at its own first_seen_at; returns their ids."""
        return [self.add(s) for s in stories]

    def change(self, story_id: int, *, at: datetime, **changes: object) -> None:
        """The story's file changed (e.g. heat=120): written as a new version of the same file."""
        url = next(u for u, i in self._ids.items() if i == story_id)
        path, story = self._files[url]
        changed = replace(story, **changes)  # type: ignore[arg-type]
        self._write(path, changed, at)
        self._files[url] = (path, changed)

    def id_of(self, url: str) -> int:
        return self._ids[normalize_url(url)]

    def _write(self, path: str, story: SeedStory, at: datetime) -> None:
        row = story_row(story)
        run = self._store.begin_run(at)
        run.write_batch([ScannedFile(path, 100, 1, row)], now=at)
        run.finish(scanned=1, finished_at=at)
        if row.url not in self._ids:
            self._ids[row.url] = self._store.story_ids([row.url])[row.url]


def story_row(story: SeedStory) -> StoryRow:
    assert story.url is not None
    related: tuple[RelatedRow, ...] = tuple(
        (
            normalize_url(entry.url),
            entry.url,
            entry.title,
            entry.excerpt,
            None,
            entry.provider_name,
            entry.provider_domain,
            entry.quality,
            None,
        )
        for entry in story.related
    )
    fields = (
        story.title,
        story.excerpt,
        iso_utc(story.published_at),
        story.kind,
        story.provider_name,
        story.provider_domain,
        story.url,
        story.image_url,
        story.heat,
        story.quality,
        story.topics,
        related,
    )
    content_hash = hashlib.blake2b(repr(fields).encode(), digest_size=16).hexdigest()
    return StoryRow(
        normalize_url(story.url),
        story.title,
        story.excerpt,
        iso_utc(story.published_at),
        story.kind,
        story.provider_name,
        story.provider_domain,
        story.url,
        None,
        story.image_url,
        story.heat,
        story.quality,
        content_hash,
        story.topics,
        related,
    )
