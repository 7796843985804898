"""`/roles`: map topics to roles that breaking alerts ping (`/alerts add … ping_heat`). A thin adapter over
RoleService; creating a role and checking the bot's permissions and place in the role list is Discord's part."""

from __future__ import annotations

import logging
import re
from typing import Any, Self

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidArgument, PermissionDenied
from bot.render import roles as roles_text
from bot.render.limits import NO_MENTIONS, truncate
from bot.render.message import Reply
from bot.render.refusals import cannot_post
from bot.render.roles import PANEL_TEXT, RoleProblem
from bot.services.roles import RoleService

log = logging.getLogger(__name__)


def _require_role_manager(interaction: discord.Interaction[Any]) -> discord.Guild:
    # default_permissions is only what Discord shows by default; the member's real permission is checked here.
    if interaction.guild is None:
        raise PermissionDenied("Topic roles are set up inside a server.")
    perms = interaction.permissions
    if not (perms.manage_roles or perms.administrator):
        raise PermissionDenied("You need the Manage Roles permission to change topic roles.")
    return interaction.guild


def role_problems(guild: discord.Guild, role: discord.Role) -> list[RoleProblem]:
    """What keeps the bot from pinging or handing out `role`."""
    me = guild.me
    problems: list[RoleProblem] = []
    if not role.mentionable and not me.guild_permissions.mention_everyone:
        problems.append("not mentionable")
    if role >= me.top_role:
        problems.append("above me")
    if not me.guild_permissions.manage_roles:
        problems.append("no manage roles")
    return problems


_ROLE_BUTTON = r"heatwave:role:(?P<role_id>[0-9]{1,20})"


class TopicRoleButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_ROLE_BUTTON):
    """One toggle of a /roles panel. Its custom_id carries the role, so the button keeps working after a
    restart (discord.py routes every matching custom_id here, whichever message it is on)."""

    def __init__(self, role_id: int, label: str = "topic") -> None:
        super().__init__(
            discord.ui.Button(
                label=roles_text.button_label(label),
                style=discord.ButtonStyle.secondary,
                custom_id=f"heatwave:role:{role_id}",
            )
        )
        self.role_id = role_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        label = getattr(item, "label", None) or "topic"
        return cls(int(match["role_id"]), label)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Give the member the role, or take it away; only they see the answer."""
        answer = await toggle_role(interaction, self.role_id)
        await interaction.response.send_message(answer.markdown(), ephemeral=True, allowed_mentions=NO_MENTIONS)


async def toggle_role(interaction: discord.Interaction[Any], role_id: int) -> Reply:
    """The toggle itself, and the confirmation (or the reason it could not be done) in words."""
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member):
        return roles_text.toggle_refused(None)
    roles: RoleService | None = getattr(getattr(interaction.client, "services", None), "roles", None)
    mapped = await roles.list(guild.id) if roles is not None else []
    role = guild.get_role(role_id)
    if role is None or all(m.role_id != role_id for m in mapped):
        return roles_text.toggle_unmapped()
    having = member.get_role(role_id) is not None
    try:
        if having:
            await member.remove_roles(role, reason="/roles panel")
        else:
            await member.add_roles(role, reason="/roles panel")
    except discord.Forbidden:
        return roles_text.toggle_refused(role_id)
    return roles_text.toggled(role_id, now_has=not having)


@app_commands.guild_only()
@app_commands.default_permissions(manage_roles=True)
class RolesCog(commands.GroupCog, group_name="roles", group_description="Roles that breaking alerts ping"):
    """/roles add | remove | list."""

    def __init__(self, roles: RoleService, alerts_topics: Any) -> None:
        self.roles = roles
        self._topic_choices = alerts_topics
        super().__init__()

    async def _reply(self, interaction: discord.Interaction[Any], message: Reply) -> None:
        text = message.markdown()
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def topic_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Stored topics matching what was typed."""
        names = await self._topic_choices(current, 25)
        return [app_commands.Choice(name=truncate(n, 100), value=n[:100]) for n in names]

    @app_commands.command(name="add")
    @app_commands.describe(
        topic="The topic whose breaking stories ping the role",
        role="The role to ping (leave out to create a mentionable role named after the topic)",
    )
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def add(self, interaction: discord.Interaction[Any], topic: str, role: discord.Role | None = None) -> None:
        """Map a topic to a role."""
        guild = _require_role_manager(interaction)
        found = await self.roles.resolve_topic(topic)
        if role is not None and (role.is_default() or role.managed):
            raise InvalidArgument(f"{role.mention} cannot be a topic role; pick or create an ordinary role.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        created = False
        if role is None:
            if not guild.me.guild_permissions.manage_roles:
                raise PermissionDenied(
                    "I need the Manage Roles permission to create a role; grant it, or give `role:` an existing one."
                )
            role = await guild.create_role(
                name=truncate(found.name, 100), mentionable=True, reason=f"/roles add topic:{found.name[:50]}"
            )
            created = True
        mapping = await self.roles.add(guild_id=guild.id, topic=found, role_id=role.id)
        await self._reply(interaction, roles_text.mapped(mapping, role.id, created, role_problems(guild, role)))

    @app_commands.command(name="remove")
    @app_commands.describe(topic="The topic whose role mapping to remove (the role itself is kept)")
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def remove(self, interaction: discord.Interaction[Any], topic: str) -> None:
        """Stop pinging a topic's role."""
        guild = _require_role_manager(interaction)
        found, role_id = await self.roles.remove(guild_id=guild.id, topic=topic)
        await self._reply(interaction, roles_text.unmapped(found.name, role_id))

    @app_commands.command(name="panel")
    @app_commands.describe(channel="Where to post the panel: one toggle button per mapped topic")
    async def panel(self, interaction: discord.Interaction[Any], channel: discord.TextChannel) -> None:
        """Post a message whose buttons let any member join or leave the topic roles."""
        guild = _require_role_manager(interaction)
        mapped = await self.roles.list(guild.id)
        if not mapped:
            raise InvalidArgument("No topic has a role yet; map one with `/roles add topic:<topic>` first.")
        perms = channel.permissions_for(guild.me)
        missing = [
            label
            for attr, label in (("view_channel", "View Channel"), ("send_messages", "Send Messages"))
            if not getattr(perms, attr)
        ]
        if missing:
            raise PermissionDenied(cannot_post("the role panel", channel.id, missing, "/roles panel"))
        view = discord.ui.View(timeout=None)
        for entry in mapped:
            view.add_item(TopicRoleButton(entry.role_id, entry.topic_name))
        await channel.send(PANEL_TEXT, view=view, allowed_mentions=NO_MENTIONS)
        posted = roles_text.panel_posted(len(mapped), channel.id, guild.me.guild_permissions.manage_roles)
        await self._reply(interaction, posted)

    @app_commands.command(name="list")
    async def list_roles(self, interaction: discord.Interaction[Any]) -> None:
        """Which role each topic pings."""
        guild = _require_role_manager(interaction)
        await self._reply(interaction, roles_text.role_listing(await self.roles.list(guild.id)))


async def setup(bot: commands.Bot) -> None:
    """Add the /roles group, using the RoleService the runtime built (`bot.services.roles`)."""
    services = getattr(bot, "services", None)
    roles = getattr(services, "roles", None)
    if not isinstance(roles, RoleService):
        raise RuntimeError("cogs.roles needs bot.services.roles (a RoleService); build the bot with bot.app")
    bot.add_dynamic_items(TopicRoleButton)
    await bot.add_cog(RolesCog(roles, services.alerts.topic_choices))  # type: ignore[union-attr]


async def teardown(bot: commands.Bot) -> None:
    bot.remove_dynamic_items(TopicRoleButton)
