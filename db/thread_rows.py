"""Rows of the thread ledger turned into models: the same rules for both engines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db.models import RelatedLink


def related_links(entries: Sequence[Any], shown: Sequence[Any], *, channel_id: int, guild_id: int) -> list[RelatedLink]:
    """Entries (title, link_url, provider_name, our story id) with our messages (story id, channel, message,
    kind), the channel's own message first: the same for both engines."""
    where: dict[int, tuple[int, int]] = {}
    for story, channel, message, kind in shown:
        # A forum post's message lives in its thread, whose id is the message's.
        place = (int(message) if kind == "forum" else int(channel), int(message))
        if int(story) not in where or int(channel) == channel_id:
            where[int(story)] = place
    links = []
    for title, url, provider, story in entries:
        jump = where.get(int(story)) if story is not None else None
        links.append(
            RelatedLink(
                title=title,
                url=url,
                provider_name=provider,
                story_id=None if story is None else int(story),
                guild_id=guild_id,
                jump_channel_id=jump[0] if jump else None,
                jump_message_id=jump[1] if jump else None,
            )
        )
    return links
