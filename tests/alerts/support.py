"""Test support for the alert engine: stories written the way the ingester writes them, and a recording Poster."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.clock import ManualClock
from bot.services.alerts import DeliveryFailed
from db.connection import connect_sync
from db.models import StoryView
from db.timefmt import to_db


class StoryWriter:
    """Writes stories, topics and heat_history rows exactly as ingest does (first row: previous_heat NULL)."""

    def __init__(self, db_path: Path, clock: ManualClock) -> None:
        self._conn = connect_sync(db_path)
        self._clock = clock
        self._numbers = itertools.count(1)

    def close(self) -> None:
        self._conn.close()

    def add(
        self,
        heat: int | None,
        *,
        quality: int | None = None,
        topics: Iterable[str] = (),
        title: str | None = None,
        url: str | None = None,
    ) -> int:
        """A new story; returns its id."""
        n = next(self._numbers)
        now = to_db(self._clock.now())
        link = url or f"https://news.example/{n}"
        cur = self._conn.execute(
            "INSERT INTO stories (url, title, excerpt, published_at, kind, link_url, heat, quality, content_hash,"
            " source_path, first_seen_at, updated_at)"
            " VALUES (?, ?, 'An excerpt.', ?, 'article', ?, ?, ?, 'h', ?, ?, ?)",
            (
                link,
                title or f"Story {n}",
                now,
                link,
                heat,
                quality if quality is not None else heat,
                f"s{n}.md",
                now,
                now,
            ),
        )
        story_id = int(cur.lastrowid or 0)
        for position, name in enumerate(topics):
            self._conn.execute(
                "INSERT INTO topics (key, name) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (name.casefold(), name)
            )
            topic_id = self._conn.execute("SELECT id FROM topics WHERE key = ?", (name.casefold(),)).fetchone()[0]
            self._conn.execute(
                "INSERT INTO story_topics (story_id, topic_id, position) VALUES (?, ?, ?)",
                (story_id, topic_id, position),
            )
        self._conn.execute(
            "INSERT INTO heat_history (story_id, observed_at, heat, previous_heat) VALUES (?, ?, ?, NULL)",
            (story_id, now, heat),
        )
        return story_id

    def set_heat(self, story_id: int, heat: int | None, *, quality: int | None = None) -> None:
        """The story's file changed its heat (and optionally quality)."""
        now = to_db(self._clock.now())
        previous = self._conn.execute("SELECT heat FROM stories WHERE id = ?", (story_id,)).fetchone()[0]
        self._conn.execute(
            "UPDATE stories SET heat = ?, quality = coalesce(?, quality), updated_at = ? WHERE id = ?",
            (heat, quality, now, story_id),
        )
        self._conn.execute(
            "INSERT INTO heat_history (story_id, observed_at, heat, previous_heat) VALUES (?, ?, ?, ?)",
            (story_id, now, heat, previous),
        )


@dataclass
class Sent:
    channel_id: int
    story_id: int
    message_id: int
    url: str


@dataclass
class FakePoster:
    """Records posts like a channel's history; failures are scripted per channel (consumed in order)."""

    sent: list[Sent] = field(default_factory=list)
    published: list[tuple[int, int]] = field(default_factory=list)
    failures: dict[int, list[DeliveryFailed]] = field(default_factory=dict)
    # Simulates a crash after Discord created the message but before the bot recorded it.
    lose_reply_for: set[tuple[int, int]] = field(default_factory=set)
    find_calls: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def fail(self, channel_id: int, *errors: DeliveryFailed) -> None:
        self.failures.setdefault(channel_id, []).extend(errors)

    async def send(self, channel_id: int, story: StoryView) -> int:
        queue = self.failures.get(channel_id)
        if queue:
            raise queue.pop(0)
        message_id = next(self._ids)
        self.sent.append(Sent(channel_id, story.id, message_id, story.link_url))
        if (channel_id, story.id) in self.lose_reply_for:
            self.lose_reply_for.discard((channel_id, story.id))
            raise RuntimeError("connection lost after the message was created")
        return message_id

    async def publish(self, channel_id: int, message_id: int) -> None:
        self.published.append((channel_id, message_id))

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
