"""The plain values that cross the `db/` boundary. No engine types, no rows, no cursors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RelatedRecord:
    """One entry of a story file's own `related` list."""

    url: str  # normalised (identity), may or may not be a story we have
    link_url: str  # as published
    title: str
    excerpt: str
    published_at: datetime | None
    provider_name: str | None
    provider_domain: str | None
    quality: int | None
    image_url: str | None


@dataclass(frozen=True, slots=True)
class StoryRecord:
    """A validated story parsed from one file, ready to be stored."""

    url: str  # normalised identity
    link_url: str  # the URL as published
    title: str
    excerpt: str
    published_at: datetime
    kind: str  # "article" | "video"
    provider_name: str | None
    provider_domain: str | None
    amp_url: str | None
    image_url: str | None
    heat: int | None  # None = unknown, -1 = suppressed
    quality: int | None
    topics: tuple[str, ...]
    related: tuple[RelatedRecord, ...]
    content_hash: str  # over every stored field; `secured` and line endings never count


@dataclass(frozen=True, slots=True)
class StoryView:
    """A stored story as the bot shows it."""

    id: int
    url: str
    link_url: str
    title: str
    excerpt: str
    published_at: datetime
    kind: str
    provider_name: str | None
    provider_domain: str | None
    amp_url: str | None
    image_url: str | None
    heat: int | None
    quality: int | None
    topics: tuple[str, ...]
    first_seen_at: datetime
