"""`/digest`: server managers get one scheduled message with the hottest stories. A thin adapter over DigestService."""

from __future__ import annotations

import logging
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.render.digests import digest_added, digest_embed, digest_listing, digest_preview, digest_removed
from bot.render.limits import NO_MENTIONS, truncate
from bot.render.message import Reply
from bot.services.alerts import DEFAULT_MIN_HEAT, MIN_HEAT_RANGE
from bot.services.digests import DEFAULT_AT, DEFAULT_TOP, TOP_RANGE, DigestService
from cogs.alerts import (
    AlertChannel,
    _channel_id,
    _channel_name,
    _is_manager,
    _require_manager,
    postable_kind,
)

log = logging.getLogger(__name__)

Every = Literal["hourly", "daily", "weekly"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]












@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class DigestCog(commands.GroupCog, group_name="digest", group_description="Scheduled summaries of the hottest stories"):
    """The /digest group."""

    def __init__(self, digests: DigestService) -> None:
        self.digests = digests
        super().__init__()

    async def _reply(self, interaction: discord.Interaction[Any], message: Reply, **extra: Any) -> None:
        text = message.markdown()
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)

    async def topic_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Stored topics matching what was typed."""
        names = await self.digests.topic_choices(current, 25)
        return [app_commands.Choice(name=truncate(n, 100), value=n[:100]) for n in names]

    async def timezone_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """IANA time zones matching what was typed (Discord shows at most 25)."""
        return [app_commands.Choice(name=n, value=n) for n in self.digests.timezone_choices(current, 25)]

    async def digest_channel_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """This server's digest channels, including deleted ones."""
        if interaction.guild is None or not _is_manager(interaction):
            return []
        records = await self.digests.list_digests(interaction.guild.id)
        typed = current.strip().lstrip("#").casefold()
        choices: list[app_commands.Choice[str]] = []
        for channel_id in dict.fromkeys(r.channel_id for r in records):
            name = _channel_name(interaction.guild, channel_id)
            if typed in name.casefold() or typed == str(channel_id):
                choices.append(app_commands.Choice(name=truncate(name, 100), value=str(channel_id)))
        return choices[:25]

    @app_commands.command(name="add")
    @app_commands.describe(
        channel="A text, announcement or forum channel",
        topic="Only stories on this topic (leave out for every topic)",
        every="How often (default daily)",
        at=f"Time of day as HH:MM, 24-hour (default {DEFAULT_AT}; hourly uses the minutes)",
        day="Day of the week (weekly only; default Monday)",
        timezone="IANA time zone, e.g. Europe/Berlin (default UTC)",
        top=f"How many stories ({TOP_RANGE[0]}-{TOP_RANGE[1]}, default {DEFAULT_TOP})",
        min_heat=f"Heat {MIN_HEAT_RANGE[0]}-{MIN_HEAT_RANGE[1]} (default {DEFAULT_MIN_HEAT}) or a share of the"
        " topic like top10%",
    )
    @app_commands.autocomplete(topic=topic_autocomplete, timezone=timezone_autocomplete)
    async def add(
        self,
        interaction: discord.Interaction[Any],
        channel: AlertChannel,
        topic: str | None = None,
        every: Every = "daily",
        at: str = DEFAULT_AT,
        day: Weekday | None = None,
        timezone: str = "UTC",
        top: app_commands.Range[int, 1, 10] = DEFAULT_TOP,
        min_heat: str = str(DEFAULT_MIN_HEAT),
    ) -> None:
        """One message with the hottest stories of each period (adding the same channel and topic again updates it)."""
        guild_id = _require_manager(interaction)
        kind = postable_kind(channel, "/digest add", "digests")
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.digests.add(
            guild_id=guild_id,
            channel_id=channel.id,
            channel_kind=kind,
            topic=topic,
            every=every,
            at=at,
            day=day,
            timezone=timezone,
            top=top,
            min_heat=min_heat,
        )
        await self._reply(interaction, digest_added(result, channel.id))

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Every digest in this server, with its schedule, next and last digest."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._reply(interaction, digest_listing(await self.digests.list_digests(guild_id)))

    @app_commands.command(name="remove")
    @app_commands.describe(
        channel="One of this server's digest channels (deleted channels are listed too)",
        topic="Only this topic's digest (leave out for all of the channel's)",
    )
    @app_commands.autocomplete(channel=digest_channel_autocomplete, topic=topic_autocomplete)
    async def remove(self, interaction: discord.Interaction[Any], channel: str, topic: str | None = None) -> None:
        """Stop digests in a channel (for one topic, or all of them)."""
        guild_id = _require_manager(interaction)
        channel_id = _channel_id(interaction, channel)
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.digests.remove(guild_id=guild_id, channel_id=channel_id, topic=topic)
        await self._reply(interaction, digest_removed(removed, topic, channel_id))

    @app_commands.command(name="preview")
    @app_commands.describe(channel="The digest channel", topic="That channel's digest for this topic")
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def preview(
        self, interaction: discord.Interaction[Any], channel: AlertChannel, topic: str | None = None
    ) -> None:
        """What the channel's next digest would say now (only you see it; nothing is sent)."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        record, digest = await self.digests.preview(guild_id=guild_id, channel_id=channel.id, topic=topic)
        extra = {"embed": digest_embed(digest)} if digest.items else {}
        await self._reply(interaction, digest_preview(record, digest, channel.id), **extra)


async def setup(bot: commands.Bot) -> None:
    """Add the /digest group, using the DigestService the runtime built (`bot.services.digests`)."""
    services = getattr(bot, "services", None)
    digests = getattr(services, "digests", None)
    if not isinstance(digests, DigestService):
        raise RuntimeError("cogs.digests needs bot.services.digests (a DigestService); build the bot with bot.app")
    await bot.add_cog(DigestCog(digests))


__all__ = ["DigestCog", "setup"]
