"""`/heat story:`: a story's heat over time as a PNG chart. A thin adapter over HeatChartService.

The reply is public, like the lookups (a chart is asked for to be shared); a story that cannot be found gets the
bot's ephemeral error reply. The story is found before anything is deferred, so that error can still be private.
matplotlib is not imported here: bot.render.heat imports it when the first chart is drawn.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.render.heat import chart_filename, chart_png, heat_message
from bot.render.limits import NO_MENTIONS
from bot.services.heat_chart import HeatChart, HeatChartService
from cogs.lookups import _suggest

# As for the lookups: the story's data takes milliseconds, but a busy database must not miss Discord's 3 s.
_DEFER_AFTER_SECONDS = 1.5


class HeatCog(commands.Cog, name="Heat"):
    """Heat charts of stories."""

    def __init__(self, charts: HeatChartService) -> None:
        self.charts = charts

    async def story_autocomplete(
        self, _interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await _suggest("story", self.charts.story_choices(current))

    @app_commands.command(name="heat")
    @app_commands.describe(story="Pick a story as you type its title, or paste its link")
    @app_commands.autocomplete(story=story_autocomplete)
    async def heat(self, interaction: discord.Interaction[Any], story: app_commands.Range[str, 1, 300]) -> None:
        """A story's heat over time as a chart, against its topic's median and the breaking line."""
        found = asyncio.ensure_future(
            self.charts.chart(story, guild_id=interaction.guild_id, channel_id=interaction.channel_id)
        )
        done, _ = await asyncio.wait({found}, timeout=_DEFER_AFTER_SECONDS)
        if not done:
            await interaction.response.defer(thinking=True)
        chart: HeatChart = await found  # NotFound goes to the bot's error handler: an ephemeral reply
        if not interaction.response.is_done():
            # Drawing takes longer than the data, the first time also matplotlib's import.
            await interaction.response.defer(thinking=True)
        png = await asyncio.to_thread(chart_png, chart)
        await interaction.followup.send(
            heat_message(chart),
            file=discord.File(io.BytesIO(png), filename=chart_filename(chart)),
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: commands.Bot) -> None:
    """Add /heat, using the HeatChartService the runtime built (`bot.services.heat_charts`)."""
    charts = getattr(getattr(bot, "services", None), "heat_charts", None)
    if not isinstance(charts, HeatChartService):
        raise RuntimeError("cogs.heat needs bot.services.heat_charts; build the bot with bot.app")
    await bot.add_cog(HeatCog(charts))
