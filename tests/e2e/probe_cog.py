"""A test-only extension with commands that take the runtime's rarer paths on demand (defer + followup, a bug
after a defer, a plain channel message), so fault and error tests do not depend on how a feature cog replies."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

NO_MENTIONS = discord.AllowedMentions.none()


class Probe(commands.Cog):
    """Commands named probe-*; loaded only by tests (extensions=(*EXTENSIONS, "tests.e2e.probe_cog"))."""

    @app_commands.command(name="probe-followup", description="Defer, then answer with a followup")
    async def followup(self, interaction: discord.Interaction) -> None:
        """Defer, then answer with a followup."""
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("followup done", allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="probe-boom", description="Fail with a bug")
    async def boom(self, interaction: discord.Interaction) -> None:
        """Fail with a bug before answering."""
        raise RuntimeError("kaboom: internal detail the user must not see")

    @app_commands.command(name="probe-boom-deferred", description="Defer, then fail with a bug")
    async def boom_deferred(self, interaction: discord.Interaction) -> None:
        """Defer (ephemeral), then fail with a bug."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        raise RuntimeError("kaboom after defer")

    @app_commands.command(name="probe-slow", description="Answer only after half a second")
    async def slow(self, interaction: discord.Interaction) -> None:
        """Answer after 0.5 s without deferring (late when the stand-in's deadline is shorter)."""
        await asyncio.sleep(0.5)
        await interaction.response.send_message("too late", allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="probe-post", description="Post a plain message in this channel")
    async def post(self, interaction: discord.Interaction) -> None:
        """Post a channel message over REST, then confirm."""
        channel = interaction.channel
        assert isinstance(channel, discord.TextChannel)
        await channel.send("probe message", allowed_mentions=NO_MENTIONS)
        await interaction.response.send_message("posted", ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: commands.Bot) -> None:
    """Add the probe commands."""
    await bot.add_cog(Probe())
