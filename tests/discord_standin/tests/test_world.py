"""The stand-in's permission arithmetic and world changes reaching a connected bot."""

from __future__ import annotations

import discord
import pytest
from discord.ext import commands

from tests.discord_standin import ChannelType, Perm, StandIn

from .conftest import World


def test_world_member_overwrite_beats_role_overwrite(standin: StandIn, world: World) -> None:
    guild = world.guild
    role = standin.add_role(guild.id, "readers")
    member = standin.add_member(guild.id, "carol", roles=[role.id])
    standin.set_overwrite(world.text.id, guild.id, deny=Perm.SEND_MESSAGES)
    assert not standin.permissions(guild.id, member.id, world.text.id) & Perm.SEND_MESSAGES
    standin.set_overwrite(world.text.id, role.id, allow=Perm.SEND_MESSAGES)
    assert standin.permissions(guild.id, member.id, world.text.id) & Perm.SEND_MESSAGES
    standin.set_overwrite(world.text.id, member.id, deny=Perm.SEND_MESSAGES, member=True)
    perms = standin.permissions(guild.id, member.id, world.text.id)
    assert not perms & Perm.SEND_MESSAGES
    assert not perms & Perm.EMBED_LINKS  # implicitly removed along with Send Messages


def test_world_no_view_channel_means_no_permissions(standin: StandIn, world: World) -> None:
    standin.deny_bot(world.text.id, "view_channel")
    assert standin.permissions(world.guild.id, standin.bot_user.id, world.text.id) == 0


def test_world_owner_and_administrator_have_everything(standin: StandIn, world: World) -> None:
    assert standin.permissions(world.guild.id, standin.owner.id, world.text.id) == Perm.ALL
    admin = standin.add_member(world.guild.id, "root", permissions=Perm.ADMINISTRATOR)
    standin.deny_bot(world.text.id, "view_channel")
    standin.set_overwrite(world.text.id, admin.id, deny=Perm.VIEW_CHANNEL, member=True)
    assert standin.permissions(world.guild.id, admin.id, world.text.id) == Perm.ALL


def test_world_manage_guild_member_gets_manage_guild(standin: StandIn, world: World) -> None:
    assert standin.permissions(world.guild.id, world.admin.id) & Perm.MANAGE_GUILD
    assert not standin.permissions(world.guild.id, world.member.id) & Perm.MANAGE_GUILD


async def test_world_channel_added_after_connect_reaches_bot(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    late = standin.add_channel(world.guild.id, "late-news", ChannelType.ANNOUNCEMENT)
    await standin.wait_for(lambda: bot.get_channel(late.id) is not None, 2)
    channel = bot.get_channel(late.id)
    assert isinstance(channel, discord.TextChannel)
    assert channel.is_news()


async def test_world_deleted_channel_leaves_bot_cache(standin: StandIn, world: World, bot: commands.Bot) -> None:
    standin.delete_channel(world.text.id)
    await standin.wait_for(lambda: bot.get_channel(world.text.id) is None, 2)


async def test_world_bot_receives_its_own_messages_over_the_gateway(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    channel = bot.get_channel(world.text.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("seen", allowed_mentions=discord.AllowedMentions.none())
    await standin.wait_for(lambda: sent.id in {m.id for m in bot.cached_messages}, 2)


async def test_world_unknown_route_is_reported(standin: StandIn, world: World, bot: commands.Bot) -> None:
    route = discord.http.Route("GET", "/guilds/{guild_id}/roles", guild_id=world.guild.id)
    with pytest.raises(discord.NotFound):
        await bot.http.request(route)
    assert standin.unknown_routes == [f"GET /guilds/{world.guild.id}/roles"]
