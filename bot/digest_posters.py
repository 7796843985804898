"""Where digests go: Discord channels (a message, or a new forum post) or the console playground; and /digest at
the console prompt.

Posters only translate, as for alerts: the digest service decides what is due and keeps the ledger.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.alert_posters import (
    CONSOLE_CHANNEL_ID,
    CONSOLE_GUILD_ID,
    CONSOLE_NAMES,
    HISTORY_LIMIT,
    SEND_TIMEOUT_SECONDS,
    delivery_failure,
)
from bot.errors import InvalidArgument
from bot.render.digests import (
    digest_added,
    digest_embed,
    digest_listing,
    digest_preview,
    digest_printed,
    digest_removed,
    digest_text,
    digest_title,
)
from bot.render.limits import NO_MENTIONS, clean_text, truncate
from bot.services.alerts import DeliveryFailed
from bot.services.digests import Digest, DigestService

if TYPE_CHECKING:
    from bot.console import ConsoleArgs, ConsoleCommand, ConsoleSession

log = logging.getLogger(__name__)

__all__ = ["ConsoleDigestPoster", "DiscordDigestPoster", "console_commands"]

_SEND_ERRORS = (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError)


def _carries(message: discord.Message, digest: Digest) -> bool:
    return any(embed.footer.text and digest.marker in embed.footer.text for embed in message.embeds)


class DiscordDigestPoster:
    """Posts digests with discord.py: one embed in text/announcement channels, a new post in forums."""

    def __init__(
        self, client: discord.Client, *, history_limit: int = HISTORY_LIMIT, timeout: float = SEND_TIMEOUT_SECONDS
    ) -> None:
        self._client = client
        self._history_limit = history_limit
        self._timeout = timeout

    async def _channel(self, channel_id: int) -> Any:
        channel = self._client.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self._client.fetch_channel(channel_id)
            except _SEND_ERRORS as exc:
                raise delivery_failure(exc) from exc
        return channel

    async def send_digest(self, channel_id: int, digest: Digest) -> int:
        """Post the digest; return the message id (a forum post's starter message)."""
        channel = await self._channel(channel_id)
        embed = digest_embed(digest)
        try:
            async with asyncio.timeout(self._timeout):
                if isinstance(channel, discord.ForumChannel):
                    created = await channel.create_thread(
                        name=digest_title(digest), embed=embed, allowed_mentions=NO_MENTIONS
                    )
                    return created.message.id
                if isinstance(channel, discord.TextChannel | discord.Thread):
                    message = await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)
                    return message.id
        except _SEND_ERRORS as exc:
            raise delivery_failure(exc) from exc
        raise DeliveryFailed("this kind of channel cannot take digests", permanent=True)

    async def find_digest(self, channel_id: int, digest: Digest) -> int | None:
        """Our recent message (or forum post) carrying this digest's marker, if the channel has one."""
        me = self._client.user
        if me is None:
            return None
        channel = await self._channel(channel_id)
        try:
            async with asyncio.timeout(self._timeout):
                if isinstance(channel, discord.ForumChannel):
                    return await self._find_forum_post(channel, digest, me.id)
                if isinstance(channel, discord.TextChannel | discord.Thread):
                    async for message in channel.history(limit=self._history_limit):
                        if message.author.id == me.id and _carries(message, digest):
                            return message.id
        except _SEND_ERRORS as exc:
            raise delivery_failure(exc) from exc
        return None

    async def _find_forum_post(self, forum: discord.ForumChannel, digest: Digest, me: int) -> int | None:
        title = digest_title(digest)
        candidates = [t for t in forum.threads if t.name == title and t.owner_id == me]
        async for thread in forum.archived_threads(limit=self._history_limit):
            if thread.name == title and thread.owner_id == me:
                candidates.append(thread)
        for thread in candidates:
            try:
                starter = await thread.fetch_message(thread.id)
            except discord.NotFound:
                continue
            if _carries(starter, digest):
                return starter.id
        return None


class ConsoleDigestPoster:
    """The console playground's channel: a digest is printed as text."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._ids = itertools.count(1)
        self._posted: dict[tuple[int, str], int] = {}

    async def send_digest(self, channel_id: int, digest: Digest) -> int:
        """Print the digest; returns a console message number."""
        message_id = next(self._ids)
        self._write(digest_printed("#console", digest))
        self._posted[(channel_id, digest.marker)] = message_id
        return message_id

    async def find_digest(self, channel_id: int, digest: Digest) -> int | None:
        """What this session printed (a restarted console has no scroll-back to search)."""
        return self._posted.get((channel_id, digest.marker))


# ----- console playground: /digest at the prompt --------------------------------------------------------------

_CONSOLE_USAGE = (
    "/digest add [topic] [every:hourly|daily|weekly] [at:HH:MM] [day:monday…] [timezone:Area/City] [top:N]"
    " [min_heat:N|topN%] | list | remove [topic] | preview [topic]"
)


def console_commands(services: Any) -> list[ConsoleCommand]:
    """/digest for the console playground (its one channel is #console)."""
    from bot.console import ConsoleCommand

    digests: DigestService | None = getattr(services, "digests", None)
    if digests is None:
        return []  # a console without the digest service (a test of other commands) simply has no /digest
    where = {"guild_id": CONSOLE_GUILD_ID, "channel_id": CONSOLE_CHANNEL_ID}

    async def handle(session: ConsoleSession, args: ConsoleArgs) -> None:
        words = list(args.positional)
        action = words.pop(0).casefold() if words else "list"
        topic = args.named.get("topic") or (" ".join(words) or None)
        if action == "add":
            result = await digests.add(
                **where,
                channel_kind="console",
                topic=topic,
                every=args.named.get("every") or "daily",
                at=args.named.get("at") or "09:00",
                day=args.named.get("day"),
                timezone=args.named.get("timezone") or "UTC",
                top=args.whole_number("top") or 5,
                min_heat=args.named.get("min_heat") or "70",
            )
            session.write(digest_added(result, CONSOLE_CHANNEL_ID).plain(CONSOLE_NAMES))
        elif action == "list":
            session.write(digest_listing(await digests.list_digests(CONSOLE_GUILD_ID)).plain(CONSOLE_NAMES))
        elif action == "remove":
            removed = await digests.remove(**where, topic=topic)
            session.write(digest_removed(removed, topic, CONSOLE_CHANNEL_ID).plain(CONSOLE_NAMES))
        elif action == "preview":
            record, digest = await digests.preview(**where, topic=topic)
            said = digest_preview(record, digest, CONSOLE_CHANNEL_ID).plain(CONSOLE_NAMES)
            session.write(f"{said}\n{digest_text(digest)}" if digest.items else said)
        else:
            raise InvalidArgument(
                f"Unknown /digest action “{truncate(clean_text(action), 20)}”. Usage: {_CONSOLE_USAGE}"
            )

    return [
        ConsoleCommand(
            "/digest",
            _CONSOLE_USAGE,
            "one scheduled message with the hottest stories",
            handle,
            ("topic", "every", "at", "day", "timezone", "top", "min_heat"),
        )
    ]
