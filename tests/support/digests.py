"""Test support for digests: a recording DigestPoster with scripted failures."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.services.alerts import DeliveryFailed
from bot.services.digests import Digest


@dataclass
class PostedDigest:
    channel_id: int
    message_id: int
    digest: Digest

    @property
    def story_ids(self) -> list[int]:
        return [item.story.id for item in self.digest.items]


@dataclass
class FakeDigestPoster:
    """Records digests like a channel's history; failures are scripted per channel (consumed in order)."""

    posted: list[PostedDigest] = field(default_factory=list)
    failures: dict[int, list[DeliveryFailed]] = field(default_factory=dict)
    # Simulates a crash after Discord created the message but before the bot recorded it.
    lose_reply: int = 0
    find_calls: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5000))

    def fail(self, channel_id: int, *errors: DeliveryFailed) -> None:
        self.failures.setdefault(channel_id, []).extend(errors)

    async def send_digest(self, channel_id: int, digest: Digest) -> int:
        queue = self.failures.get(channel_id)
        if queue:
            raise queue.pop(0)
        message_id = next(self._ids)
        self.posted.append(PostedDigest(channel_id, message_id, digest))
        if self.lose_reply:
            self.lose_reply -= 1
            raise RuntimeError("connection lost after the message was created")
        return message_id

    async def find_digest(self, channel_id: int, digest: Digest) -> int | None:
        self.find_calls += 1
        for posted in reversed(self.posted):
            if posted.channel_id == channel_id and posted.digest.marker == digest.marker:
                return posted.message_id
        return None

    def in_channel(self, channel_id: int) -> list[PostedDigest]:
        return [p for p in self.posted if p.channel_id == channel_id]
