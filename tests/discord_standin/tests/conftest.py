"""Fixtures: a started stand-in with one guild, and a real discord.py bot with a tiny command tree logged into it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.discord_standin import ChannelType, StandIn
from tests.discord_standin.model import Channel, Guild, Member


@dataclass
class World:
    guild: Guild
    text: Channel
    news: Channel
    forum: Channel
    admin: Member
    member: Member


class Pager(discord.ui.View):
    """Two pages; only the invoking user may press Next."""

    def __init__(self, owner_id: int) -> None:
        super().__init__(timeout=30)
        self.owner_id = owner_id
        self.page = 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message("Only the person who asked can page.", ephemeral=True)
            return False
        return True

    @discord.ui.button(label="Next", custom_id="pager:next")
    async def next_page(self, interaction: discord.Interaction, button: discord.ui.Button[Pager]) -> None:
        self.page += 1
        await interaction.response.edit_message(content=f"page {self.page}", view=self)


TOPICS = [f"topic-{i:02d}" for i in range(40)] + ["AI", "AI safety"]


def build_tree(bot: commands.Bot) -> None:
    """The test's own command tree: /echo, /topic with autocomplete, /slow (defers), /page, /alerts add."""

    @bot.tree.command(name="echo", description="Echo text back")
    @app_commands.describe(text="What to say")
    async def echo(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(embed=discord.Embed(title="Echo", description=text))

    @bot.tree.command(name="topic", description="Stories on a topic")
    @app_commands.describe(name="Topic name")
    async def topic(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(f"topic {name}", ephemeral=True)

    @topic.autocomplete("name")
    async def topic_complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        found = [t for t in TOPICS if current.lower() in t.lower()]
        return [app_commands.Choice(name=t, value=t) for t in found[:25]]

    @bot.tree.command(name="slow", description="Defers, then answers")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await asyncio.sleep(0.05)
        await interaction.edit_original_response(content="done slowly")

    @bot.tree.command(name="page", description="A paged answer")
    async def page(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("page 1", view=Pager(interaction.user.id))

    @bot.tree.command(name="big", description="Sends an over-long embed")
    async def big(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(embed=discord.Embed(description="x" * 4097))

    @bot.tree.command(name="reverse", description="Sends the attached file back reversed")
    @app_commands.describe(file="Any file", deferred="Answer with a followup after thinking")
    async def reverse(interaction: discord.Interaction, file: discord.Attachment, deferred: bool = False) -> None:
        data = await file.read()
        reply = discord.File(io.BytesIO(data[::-1]), filename="reversed.txt")
        text = f"{file.filename}: {file.size} bytes"
        if deferred:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.followup.send(text, file=reply, ephemeral=True)
        else:
            await interaction.response.send_message(text, file=reply, ephemeral=True)

    alerts = app_commands.Group(name="alerts", description="Alert admin", guild_only=True,
                                default_permissions=discord.Permissions(manage_guild=True))

    @alerts.command(name="add", description="Subscribe a channel")
    @app_commands.describe(channel="Where to post", min_heat="Threshold")
    async def add(
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        min_heat: app_commands.Range[int, 0, 100] = 70,
    ) -> None:
        assert isinstance(interaction.user, discord.Member)
        if not interaction.permissions.manage_guild:
            await interaction.response.send_message("You need Manage Server.", ephemeral=True)
            return
        me = channel.guild.me
        can_post = channel.permissions_for(me).send_messages
        await interaction.response.send_message(
            f"added {channel.mention} at {min_heat}; bot can post: {can_post}", ephemeral=True
        )

    bot.tree.add_command(alerts)


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    async with StandIn(heartbeat_interval=0.25) as server:
        yield server


@pytest.fixture
def world(standin: StandIn) -> World:
    guild = standin.add_guild("Heatwave Test")
    return World(
        guild=guild,
        text=standin.add_channel(guild.id, "general"),
        news=standin.add_channel(guild.id, "news", ChannelType.ANNOUNCEMENT),
        forum=standin.add_channel(guild.id, "stories", ChannelType.FORUM),
        admin=standin.add_member(guild.id, "alice", manage_guild=True),
        member=standin.add_member(guild.id, "bob"),
    )


@pytest.fixture
async def bot(standin: StandIn, world: World) -> AsyncIterator[commands.Bot]:
    client = commands.Bot(
        command_prefix=commands.when_mentioned,
        intents=discord.Intents.default(),
        allowed_mentions=discord.AllowedMentions.none(),
    )
    build_tree(client)
    async with standin.running(client):
        client.tree.copy_global_to(guild=discord.Object(world.guild.id))
        await client.tree.sync(guild=discord.Object(world.guild.id))
        yield client
