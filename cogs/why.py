"""`/why story: channel:`: why a story did or did not post in a channel. A thin adapter over WhyService."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.render.limits import NO_MENTIONS
from bot.render.why import why_reply
from bot.services.why import WhyService
from cogs.alerts import AlertChannel, _require_manager
from cogs.lookups import _suggest


class WhyCog(commands.Cog, name="Why"):
    """Explains the alert engine's decision for one story in one channel (server managers only)."""

    def __init__(self, why: WhyService) -> None:
        self.why = why

    async def story_autocomplete(
        self, _interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await _suggest("story", self.why.story_choices(current))

    @app_commands.command(name="why")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(
        story="The story: pick one, paste its link, or type words from its title",
        channel="The alert channel to explain",
    )
    @app_commands.autocomplete(story=story_autocomplete)
    async def why_command(
        self,
        interaction: discord.Interaction[Any],
        story: app_commands.Range[str, 1, 300],
        channel: AlertChannel,
    ) -> None:
        """Why a story was or was not posted in a channel: every gate, in the order the engine applies them."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        explanation = await self.why.explain(guild_id=guild_id, channel_id=channel.id, story=story)
        await interaction.followup.send(why_reply(explanation), ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: commands.Bot) -> None:
    """Add /why, using the WhyService the runtime built (`bot.services.why`)."""
    why = getattr(getattr(bot, "services", None), "why", None)
    if not isinstance(why, WhyService):
        raise RuntimeError("cogs.why needs bot.services.why; build the bot with bot.app")
    await bot.add_cog(WhyCog(why))
