"""Posts the admin log's text messages with discord.py (bot.services.admin_log.TextPoster)."""

from __future__ import annotations

import asyncio

import discord

from bot.render.limits import NO_MENTIONS

# The log is told from inside an alert tick: a hung send must not hold the tick up for long.
SEND_TIMEOUT_SECONDS = 15.0


class DiscordTextPoster:
    """A plain message, no pings, to a text-like channel the client can reach."""

    def __init__(self, client: discord.Client, *, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        self._client = client
        self._timeout = timeout

    async def post_text(self, channel_id: int, text: str) -> None:
        """Send `text`; raises discord.HTTPException, TimeoutError or TypeError (not a text channel)."""
        async with asyncio.timeout(self._timeout):
            channel = self._client.get_channel(channel_id) or await self._client.fetch_channel(channel_id)
            if not isinstance(channel, discord.TextChannel | discord.Thread):
                raise TypeError(f"channel {channel_id} is not a text channel")
            await channel.send(text, allowed_mentions=NO_MENTIONS)
