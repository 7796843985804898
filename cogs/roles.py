"""`/roles`: map topics to roles that breaking alerts ping (`/alerts add … ping_heat`). A thin adapter over
RoleService; creating a role and checking the bot's permissions and place in the role list is Discord's part."""

from __future__ import annotations

import logging
from typing import Any

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
    await bot.add_cog(RolesCog(roles, services.alerts.topic_choices))  # type: ignore[union-attr]
