"""Roles as Discord has them: created by a bot with Manage Roles, assigned below its own role, pinged only when
mentionable (or with Mention @everyone), all through the real client."""

from __future__ import annotations

import discord
import pytest
from discord.ext import commands

from tests.discord_standin import StandIn
from tests.discord_standin.model import DEFAULT_BOT, Perm

from .conftest import World

NONE = discord.AllowedMentions.none()


def grant_bot(standin: StandIn, world: World, extra: int) -> int:
    """Give the bot's own (managed) role more permissions; returns that role's id."""
    bot_role = next(r for r in world.guild.roles.values() if r.bot_id == standin.bot_user.id)
    standin.set_role_permissions(world.guild.id, bot_role.id, DEFAULT_BOT | extra)
    return bot_role.id


def guild(bot: commands.Bot, world: World) -> discord.Guild:
    found = bot.get_guild(world.guild.id)
    assert found is not None
    return found


async def test_create_role_needs_manage_roles(standin: StandIn, world: World, bot: commands.Bot) -> None:
    with pytest.raises(discord.Forbidden) as caught:
        await guild(bot, world).create_role(name="AI")
    assert caught.value.code == 50013


async def test_a_created_role_sits_at_the_bottom_and_reaches_the_client(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    bot_role = grant_bot(standin, world, Perm.MANAGE_ROLES)
    role = await guild(bot, world).create_role(name="AI", mentionable=True)
    stored = world.guild.roles[role.id]
    assert (stored.name, stored.mentionable, stored.position) == ("AI", True, 1)
    assert world.guild.roles[bot_role].position > stored.position
    await standin.wait_for(lambda: guild(bot, world).get_role(role.id) is not None)


async def test_bot_assigns_and_removes_roles_below_its_own_only(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    grant_bot(standin, world, Perm.MANAGE_ROLES)
    below = await guild(bot, world).create_role(name="AI")
    above = standin.add_role(world.guild.id, "Moderators")  # added on top, above the bot's role
    member = discord.Object(world.member.id)
    await bot.http.add_role(world.guild.id, world.member.id, below.id)
    assert standin.member_roles(world.guild.id, world.member.id) == [below.id]
    with pytest.raises(discord.Forbidden) as caught:
        await bot.http.add_role(world.guild.id, member.id, above.id)
    assert caught.value.code == 50013
    with pytest.raises(discord.NotFound) as unknown:
        await bot.http.add_role(world.guild.id, member.id, 12345)
    assert unknown.value.code == 10011
    await bot.http.remove_role(world.guild.id, member.id, below.id)
    assert standin.member_roles(world.guild.id, world.member.id) == []


async def test_a_role_mention_pings_only_a_mentionable_role_and_only_when_allowed(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    grant_bot(standin, world, Perm.MANAGE_ROLES)
    loud = await guild(bot, world).create_role(name="AI", mentionable=True)
    quiet = await guild(bot, world).create_role(name="Cloud")
    channel = bot.get_channel(world.text.id)
    assert isinstance(channel, discord.TextChannel)
    allowed = discord.AllowedMentions(everyone=False, users=False, roles=[loud, quiet])
    await channel.send(f"{loud.mention} {quiet.mention} breaking", allowed_mentions=allowed)
    await channel.send(f"{loud.mention} quiet update", allowed_mentions=NONE)
    pinged, silent = standin.messages_in(world.text.id)
    assert pinged.pings() == {f"role:{loud.id}"}
    assert pinged.data["mention_roles"] == [str(loud.id)]
    assert silent.pings() == set()


async def test_mention_everyone_lets_the_bot_ping_a_role_that_is_not_mentionable(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    grant_bot(standin, world, Perm.MANAGE_ROLES | Perm.MENTION_EVERYONE)
    quiet = await guild(bot, world).create_role(name="Cloud")
    channel = bot.get_channel(world.text.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send(quiet.mention, allowed_mentions=discord.AllowedMentions(roles=[quiet], everyone=False))
    [message] = standin.messages_in(world.text.id)
    assert message.pings() == {f"role:{quiet.id}"}
