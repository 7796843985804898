"""A real discord.py client logs in, receives READY + GUILD_CREATE and syncs its command tree."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.discord_standin import Perm, StandIn
from tests.discord_standin.gateway import _Compressor

from .conftest import World


async def test_login_guild_create_gives_bot_member_with_permissions(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    assert guild.me is not None
    assert bot.user is not None
    assert bot.user.id == standin.bot_user.id
    perms = world_channel_perms(bot, world.text.id)
    assert perms.view_channel
    assert perms.send_messages
    assert perms.embed_links
    assert {c.name for c in guild.channels} == {"general", "news", "stories"}


def world_channel_perms(bot: commands.Bot, channel_id: int) -> discord.Permissions:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.abc.GuildChannel)
    return channel.permissions_for(channel.guild.me)


async def test_login_gateway_uses_zlib_stream_compression(standin: StandIn, bot: commands.Bot) -> None:
    # discord.py asks for zstd-stream when zstandard is installed, zlib-stream otherwise; both are served.
    assert standin.gateway.compression[0] in ("zlib-stream", "zstd-stream")
    assert standin.gateway.identifies == 1


async def test_login_wrong_token_is_refused(standin: StandIn, world: World) -> None:
    with standin.patch_discord():
        client = discord.Client(intents=discord.Intents.default())
        try:
            with pytest.raises(discord.LoginFailure):
                await client.login("not-the-token")
        finally:
            await client.close()
    assert standin.requests[-1].status == 401


async def test_login_patch_discord_restores_the_real_urls(standin: StandIn) -> None:
    before = discord.http.Route.BASE
    with standin.patch_discord():
        assert standin.base_url == discord.http.Route.BASE
    assert before == discord.http.Route.BASE


async def test_sync_records_commands_with_ids(standin: StandIn, world: World, bot: commands.Bot) -> None:
    synced = {c["name"]: c for c in standin.guild_commands[world.guild.id]}
    assert {"echo", "topic", "alerts", "page", "slow"} <= set(synced)
    assert all(c["id"].isdigit() for c in synced.values())
    alerts = synced["alerts"]
    assert int(alerts["default_member_permissions"]) == Perm.MANAGE_GUILD
    assert alerts["options"][0]["name"] == "add"
    fetched = await bot.tree.fetch_commands(guild=discord.Object(world.guild.id))
    assert {c.name for c in fetched} == set(synced)


async def test_sync_rejects_an_invalid_command_name(standin: StandIn, world: World, bot: commands.Bot) -> None:
    bad: app_commands.Command[Any, ..., None] = app_commands.Command(name="ok", description="x" * 101, callback=_noop)
    bot.tree.add_command(bad, guild=discord.Object(world.guild.id))
    with pytest.raises(app_commands.CommandSyncFailure):
        await bot.tree.sync(guild=discord.Object(world.guild.id))
    assert "description" in str(standin.violations[-1])


async def _noop(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("noop")


@pytest.mark.parametrize("text", ['{"op":10}', '{"t":"READY","d":"' + "x" * 20000 + '"}'])
def test_gateway_compression_round_trips_through_discord_py(text: str) -> None:
    context_type = discord.utils._ActiveDecompressionContext
    compressor = _Compressor(context_type.COMPRESSION_TYPE)
    context = context_type()
    for _ in range(3):  # one stream per connection: later payloads depend on earlier ones
        data = compressor.encode(text)
        assert isinstance(data, bytes)
        assert context.decompress(data) == text
