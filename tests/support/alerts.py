"""Test support for the alert engine: stories written the way the ingester writes them, and a recording Poster."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from bot.clock import ManualClock
from bot.services.alerts import DeliveryFailed
from db import StoreLocation
from db.models import StoryView
from tests.support.seed import Seeder, SeedRelated, SeedStory

# The tables of the living-posts migration: a test that rewinds a store to an older schema drops them too.
LIVING_TABLES = (
    "thread_posts",  # the related-threads migration's tables point at stories, so they go first
    "alert_threads",
    "thread_channels",
    "post_coverage",
    "living_posts",
    "post_words",
    "living_channels",
    "topic_roles",
    "role_pings",
)


class StoryWriter:
    """Writes stories the way ingest does (through the ingester's store, any engine), at the clock's time."""

    def __init__(self, location: StoreLocation, clock: ManualClock) -> None:
        self._seeder = Seeder(location)
        self._clock = clock
        self._numbers = itertools.count(1)

    def close(self) -> None:
        self._seeder.close()

    def add(
        self,
        heat: int | None,
        *,
        quality: int | None = None,
        topics: Iterable[str] = (),
        title: str | None = None,
        url: str | None = None,
        provider: str | None = None,
        related: Iterable[str] = (),
        published_at: datetime | None = None,
    ) -> int:
        """A new story; returns its id. `provider` is a domain (its name too); `related` lists URLs; published
        when first seen unless `published_at` says otherwise."""
        n = next(self._numbers)
        now = self._clock.now()
        story = SeedStory(
            title=title or f"Story {n}",
            excerpt="An excerpt.",
            topics=tuple(topics),
            heat=heat,
            quality=quality if quality is not None else heat,
            url=url or f"https://news.example/{n}",
            published_at=published_at or now,
            first_seen_at=now,
            **({"provider_name": provider, "provider_domain": provider} if provider else {}),
            related=tuple(SeedRelated(u) for u in related),
        )
        return self._seeder.add(story, at=now)

    def set_heat(self, story_id: int, heat: int | None, *, quality: int | None = None) -> None:
        """The story's file changed its heat (and optionally quality)."""
        changes: dict[str, object] = {"heat": heat}
        if quality is not None:
            changes["quality"] = quality
        self._seeder.change(story_id, at=self._clock.now(), **changes)


def ledger_row(location: StoreLocation, story_id: int, channel_id: int) -> tuple[str, int | None] | None:
    """(status, message id) of one delivery, read straight from the database: the store has no query for it (the
    engine only needs the ledger's transitions), but exactly-once hinges on the message id being recorded."""
    sql = "SELECT status, message_id FROM alert_deliveries WHERE story_id = {0} AND channel_id = {0}"
    if location.engine == "sqlite":
        conn = sqlite3.connect(f"file:{location.path}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute(sql.format("?"), (story_id, channel_id)).fetchone()
        finally:
            conn.close()
    else:
        assert location.url is not None
        with psycopg.connect(location.url) as pg:
            row = pg.execute(sql.format("%s"), (story_id, channel_id)).fetchone()
    return None if row is None else (row[0], row[1])


@dataclass
class Sent:
    channel_id: int
    story_id: int
    message_id: int
    url: str
    ping_roles: tuple[int, ...] = ()


@dataclass
class FakePoster:
    """Records posts like a channel's history; failures are scripted per channel (consumed in order)."""

    sent: list[Sent] = field(default_factory=list)
    published: list[tuple[int, int]] = field(default_factory=list)
    failures: dict[int, list[DeliveryFailed]] = field(default_factory=dict)
    # Simulates a crash after Discord created the message but before the bot recorded it.
    lose_reply_for: set[tuple[int, int]] = field(default_factory=set)
    find_calls: int = 0
    summaries: list[tuple[int, str, list[int]]] = field(default_factory=list)  # (channel, kind, story ids)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def fail(self, channel_id: int, *errors: DeliveryFailed) -> None:
        self.failures.setdefault(channel_id, []).extend(errors)

    async def send(
        self, channel_id: int, story: StoryView, *, ping_roles: Sequence[int] = (), create_tags: bool = False
    ) -> int:
        queue = self.failures.get(channel_id)
        if queue:
            raise queue.pop(0)
        message_id = next(self._ids)
        self.sent.append(Sent(channel_id, story.id, message_id, story.link_url, tuple(ping_roles)))
        if (channel_id, story.id) in self.lose_reply_for:
            self.lose_reply_for.discard((channel_id, story.id))
            raise RuntimeError("connection lost after the message was created")
        return message_id

    async def publish(self, channel_id: int, message_id: int) -> None:
        self.published.append((channel_id, message_id))

    async def send_summary(
        self, channel_id: int, kind: str, stories: Sequence[StoryView]
    ) -> list[tuple[int, tuple[int, ...]]]:
        """One message carrying every story (recorded per story, like the channel's history would show)."""
        queue = self.failures.get(channel_id)
        if queue:
            raise queue.pop(0)
        message_id = next(self._ids)
        self.summaries.append((channel_id, kind, [s.id for s in stories]))
        for story in stories:
            self.sent.append(Sent(channel_id, story.id, message_id, story.link_url))
        return [(message_id, tuple(s.id for s in stories))]

    async def find_recent(self, channel_id: int, story: StoryView) -> int | None:
        self.find_calls += 1
        for s in reversed(self.sent):
            if s.channel_id == channel_id and s.url == story.link_url:
                return s.message_id
        return None

    def stories_in(self, channel_id: int) -> list[int]:
        return [s.story_id for s in self.sent if s.channel_id == channel_id]


def transient(reason: str = "503 Service Unavailable", retry_after: float | None = None) -> DeliveryFailed:
    return DeliveryFailed(reason, permanent=False, retry_after=retry_after)


def permanent(reason: str = "Missing Permissions (Send Messages)") -> DeliveryFailed:
    return DeliveryFailed(reason, permanent=True)


def at(clock: ManualClock) -> datetime:
    return clock.now()
