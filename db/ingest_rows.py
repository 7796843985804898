"""What the ingester hands the store, the same for every engine: plain rows that cross process boundaries cheaply.

Parse workers turn each file into a `StoryRow` (column values, timestamps as fixed-width ISO-8601 UTC text);
the store's writer adds ids and stamps before its bulk writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeAlias

if TYPE_CHECKING:
    from db.models import StoryRecord

Outcome = Literal["added", "updated", "unchanged", "duplicate", "rejected"]


def iso_utc(moment: datetime) -> str:
    """Aware datetime -> '2021-03-31T07:00:00.000000+00:00' (fixed width, so text order is time order)."""
    if moment.tzinfo is None:
        raise ValueError("refusing a naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class KnownFile(NamedTuple):
    """What the last ingest saw of one path, enough to skip it when it has not changed."""

    path: str
    size: int
    mtime_ns: int
    rejected_reason: str | None


# One related entry, after (story_id, position): url, link_url, title, excerpt, published_at, provider_name,
# provider_domain, quality, image_url.
RelatedRow: TypeAlias = tuple[str, str, str, str, str | None, str | None, str | None, int | None, str | None]


class StoryRow(NamedTuple):
    """A `StoryRecord` as stored: column values (timestamps as ISO text), topics and related rows.

    A NamedTuple of plain values: parse workers send one per file, and it pickles ~3x cheaper than the record.
    """

    url: str
    title: str
    excerpt: str
    published_at: str
    kind: str
    provider_name: str | None
    provider_domain: str | None
    link_url: str
    amp_url: str | None
    image_url: str | None
    heat: int | None
    quality: int | None
    content_hash: str
    topics: tuple[str, ...]
    related: tuple[RelatedRow, ...]


# How many leading StoryRow fields are `stories` columns (url .. content_hash).
STORY_COLUMNS = 13


def story_row(story: StoryRecord) -> StoryRow:
    """The row the writer stores for a parsed story."""
    return StoryRow(
        story.url,
        story.title,
        story.excerpt,
        iso_utc(story.published_at),
        story.kind,
        story.provider_name,
        story.provider_domain,
        story.link_url,
        story.amp_url,
        story.image_url,
        story.heat,
        story.quality,
        story.content_hash,
        story.topics,
        tuple(
            (
                entry.url,
                entry.link_url,
                entry.title,
                entry.excerpt,
                None if entry.published_at is None else iso_utc(entry.published_at),
                entry.provider_name,
                entry.provider_domain,
                entry.quality,
                entry.image_url,
            )
            for entry in story.related
        ),
    )


class ScannedFile(NamedTuple):
    """One file read in this run: its parsed story, or the reason it was rejected."""

    path: str  # absolute; the key of source_files
    size: int
    mtime_ns: int  # -1 forces a re-read next time (see the racy-mtime note in bot.ingest.pipeline)
    story: StoryRow | None
    rejected_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RunCounts:
    added: int
    updated: int
    unchanged: int
    duplicates: int
    rejected: int
