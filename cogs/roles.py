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
from bot.render import NO_MENTIONS, escape, truncate
from bot.services.roles import RoleMapping, RoleService, TopicRole

log = logging.getLogger(__name__)


def _require_role_manager(interaction: discord.Interaction[Any]) -> discord.Guild:
    # default_permissions is only what Discord shows by default; the member's real permission is checked here.
    if interaction.guild is None:
        raise PermissionDenied("Topic roles are set up inside a server.")
    perms = interaction.permissions
    if not (perms.manage_roles or perms.administrator):
        raise PermissionDenied("You need the Manage Roles permission to change topic roles.")
    return interaction.guild


def role_warnings(guild: discord.Guild, role: discord.Role) -> list[str]:
    """What keeps the bot from pinging or handing out `role`, in words a server manager can act on."""
    me = guild.me
    notes = []
    if not role.mentionable and not me.guild_permissions.mention_everyone:
        notes.append(
            f"{role.mention} is not mentionable and I lack Mention @everyone, @here, and All Roles, so alerts "
            "would name it without pinging anyone: make it mentionable in Server Settings → Roles."
        )
    if role >= me.top_role:
        notes.append(
            f"My role sits below {role.mention}: move my role above it (Server Settings → Roles) so I can give "
            "it to members."
        )
    if not me.guild_permissions.manage_roles:
        notes.append("I need the Manage Roles permission to give the role to members.")
    return notes


def describe_mapping(mapping: RoleMapping, role: discord.Role, created: bool, notes: list[str]) -> str:
    topic = f"**{escape(mapping.topic.name)}**"
    text = (
        f"Created {role.mention} for {topic}." if created else f"{topic} stories now ping {role.mention}."
    )
    if mapping.previous_role_id is not None and mapping.previous_role_id != role.id:
        text += f" (It was <@&{mapping.previous_role_id}>.)"
    text += " Channels ping it for stories at or above their `ping_heat` (`/alerts add … ping_heat:N`)."
    for note in notes:
        text += f"\n⚠ {note}"
    return text


def describe_roles(roles: list[TopicRole]) -> str:
    if not roles:
        return "No topic has a role yet. Map one with `/roles add topic:<topic>`."
    lines = [f"• **{escape(r.topic_name)}** → <@&{r.role_id}>" for r in roles]
    return truncate("Topic roles in this server:\n" + "\n".join(lines), 2000)


PANEL_TEXT = "Pick the topics whose breaking stories should ping you (press again to stop):"


_ROLE_BUTTON = r"heatwave:role:(?P<role_id>[0-9]{1,20})"


class TopicRoleButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_ROLE_BUTTON):
    """One toggle of a /roles panel. Its custom_id carries the role, so the button keeps working after a
    restart (discord.py routes every matching custom_id here, whichever message it is on)."""

    def __init__(self, role_id: int, label: str = "topic") -> None:
        super().__init__(
            discord.ui.Button(
                label=truncate(label, 80), style=discord.ButtonStyle.secondary, custom_id=f"heatwave:role:{role_id}"
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
        text = await toggle_role(interaction, self.role_id)
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def toggle_role(interaction: discord.Interaction[Any], role_id: int) -> str:
    """The toggle itself, and the confirmation (or the reason it could not be done) in words."""
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member):
        return "These buttons work inside the server."
    roles: RoleService | None = getattr(getattr(interaction.client, "services", None), "roles", None)
    mapped = await roles.list(guild.id) if roles is not None else []
    role = guild.get_role(role_id)
    if role is None or all(m.role_id != role_id for m in mapped):
        return "That topic no longer has a role here; ask a manager to post a new panel with `/roles panel`."
    having = member.get_role(role_id) is not None
    try:
        if having:
            await member.remove_roles(role, reason="/roles panel")
        else:
            await member.add_roles(role, reason="/roles panel")
    except discord.Forbidden:
        return (
            f"I can't change {role.mention} for you: I need Manage Roles and my role must sit above it. "
            "Please tell a server manager."
        )
    if having:
        return f"You no longer have {role.mention}: its breaking stories won't ping you."
    return f"You now have {role.mention}: its breaking stories will ping you."


@app_commands.guild_only()
@app_commands.default_permissions(manage_roles=True)
class RolesCog(commands.GroupCog, group_name="roles", group_description="Roles that breaking alerts ping"):
    """/roles add | remove | list."""

    def __init__(self, roles: RoleService, alerts_topics: Any) -> None:
        self.roles = roles
        self._topic_choices = alerts_topics
        super().__init__()

    async def _reply(self, interaction: discord.Interaction[Any], text: str) -> None:
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
    async def add(
        self, interaction: discord.Interaction[Any], topic: str, role: discord.Role | None = None
    ) -> None:
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
        await self._reply(interaction, describe_mapping(mapping, role, created, role_warnings(guild, role)))

    @app_commands.command(name="remove")
    @app_commands.describe(topic="The topic whose role mapping to remove (the role itself is kept)")
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def remove(self, interaction: discord.Interaction[Any], topic: str) -> None:
        """Stop pinging a topic's role."""
        guild = _require_role_manager(interaction)
        found, role_id = await self.roles.remove(guild_id=guild.id, topic=topic)
        await self._reply(
            interaction, f"**{escape(found.name)}** stories no longer ping <@&{role_id}> (the role itself is kept)."
        )

    @app_commands.command(name="panel")
    @app_commands.describe(channel="Where to post the panel: one toggle button per mapped topic")
    async def panel(self, interaction: discord.Interaction[Any], channel: discord.TextChannel) -> None:
        """Post a message whose buttons let any member join or leave the topic roles."""
        guild = _require_role_manager(interaction)
        mapped = await self.roles.list(guild.id)
        if not mapped:
            raise InvalidArgument("No topic has a role yet; map one with `/roles add topic:<topic>` first.")
        perms = channel.permissions_for(guild.me)
        missing = [label for attr, label in (("view_channel", "View Channel"), ("send_messages", "Send Messages"))
                   if not getattr(perms, attr)]
        if missing:
            raise PermissionDenied(f"I can't post in {channel.mention}: I'm missing {', '.join(missing)} there.")
        view = discord.ui.View(timeout=None)
        for entry in mapped:
            view.add_item(TopicRoleButton(entry.role_id, entry.topic_name))
        await channel.send(PANEL_TEXT, view=view, allowed_mentions=NO_MENTIONS)
        text = f"Posted a panel with {len(mapped)} topic button(s) in {channel.mention}."
        if not guild.me.guild_permissions.manage_roles:
            text += "\n⚠ I need the Manage Roles permission before the buttons can give roles."
        await self._reply(interaction, text)

    @app_commands.command(name="list")
    async def list_roles(self, interaction: discord.Interaction[Any]) -> None:
        """Which role each topic pings."""
        guild = _require_role_manager(interaction)
        await self._reply(interaction, describe_roles(await self.roles.list(guild.id)))


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
