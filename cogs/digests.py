"""`/digest`: server managers get one scheduled message with the hottest stories. A thin adapter over DigestService."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.render import MESSAGE_CONTENT_LIMIT, NO_MENTIONS, digest_embed, escape, heat_rule, truncate
from bot.services.alerts import DEFAULT_MIN_HEAT, MIN_HEAT_RANGE
from bot.services.digests import DEFAULT_AT, DEFAULT_TOP, TOP_RANGE, DigestAddResult, DigestService, schedule_of
from cogs.alerts import (
    AlertChannel,
    _channel_id,
    _channel_name,
    _is_manager,
    _require_manager,
    postable_kind,
)
from db.models import DigestRecord

log = logging.getLogger(__name__)

Every = Literal["hourly", "daily", "weekly"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else discord.utils.format_dt(moment, "R")


def _at(moment: datetime) -> str:
    return discord.utils.format_dt(moment, "f")


def describe_digest(record: DigestRecord) -> str:
    """One /digest list line: where, what, when, next and last digest, last error."""
    topic = escape(record.topic_name) if record.topic_name else "every topic"
    parts = [
        f"<#{record.channel_id}>",
        f"**{topic}**",
        schedule_of(record).label(),
        f"top {record.top}",
        heat_rule(record.min_heat, record.heat_percentile),
        f"next {_at(record.next_due_at)}",
        f"last sent {_when(record.last_sent_at)}",
    ]
    line = " · ".join(parts)
    if record.last_error:
        line += f"\n  ⚠ last error {_when(record.last_error_at)}: {escape(record.last_error)}"
    return line


def describe_digests(records: list[DigestRecord]) -> str:
    """The whole /digest list reply (within one message)."""
    if not records:
        return "No digests in this server yet. Add one with `/digest add`."
    lines = [describe_digest(r) for r in records]
    room = MESSAGE_CONTENT_LIMIT - 40
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > room:
            kept.append(f"… and {len(lines) - len(kept)} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def describe_digest_add(result: DigestAddResult, channel: AlertChannel) -> str:
    """The /digest add reply: what the channel gets, when, and when the first one comes."""
    record = result.digest
    what = f"**{escape(record.topic_name)}**" if record.topic_name else "every topic"
    verb = "will get" if result.created else "now gets"
    return (
        f"{channel.mention} {verb} a digest of the {record.top} hottest stories on {what} with"
        f" {heat_rule(record.min_heat, record.heat_percentile)}, {result.schedule.label()}."
        f" Next: {_at(record.next_due_at)}"
        f" ({_when(record.next_due_at)}). Nothing to report → no message."
    )


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class DigestCog(commands.GroupCog, group_name="digest", group_description="Scheduled summaries of the hottest stories"):
    """The /digest group."""

    def __init__(self, digests: DigestService) -> None:
        self.digests = digests
        super().__init__()

    async def _reply(self, interaction: discord.Interaction[Any], text: str, **extra: Any) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)

    async def topic_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Stored topics matching what was typed."""
        names = await self.digests.topic_choices(current, 25)
        return [app_commands.Choice(name=truncate(n, 100), value=n[:100]) for n in names]

    async def timezone_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """IANA time zones matching what was typed (Discord shows at most 25)."""
        return [app_commands.Choice(name=n, value=n) for n in self.digests.timezone_choices(current, 25)]

    async def digest_channel_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """This server's digest channels, including deleted ones."""
        if interaction.guild is None or not _is_manager(interaction):
            return []
        records = await self.digests.list_digests(interaction.guild.id)
        typed = current.strip().lstrip("#").casefold()
        choices: list[app_commands.Choice[str]] = []
        for channel_id in dict.fromkeys(r.channel_id for r in records):
            name = _channel_name(interaction.guild, channel_id)
            if typed in name.casefold() or typed == str(channel_id):
                choices.append(app_commands.Choice(name=truncate(name, 100), value=str(channel_id)))
        return choices[:25]

    @app_commands.command(name="add")
    @app_commands.describe(
        channel="A text, announcement or forum channel",
        topic="Only stories on this topic (leave out for every topic)",
        every="How often (default daily)",
        at=f"Time of day as HH:MM, 24-hour (default {DEFAULT_AT}; hourly uses the minutes)",
        day="Day of the week (weekly only; default Monday)",
        timezone="IANA time zone, e.g. Europe/Berlin (default UTC)",
        top=f"How many stories ({TOP_RANGE[0]}-{TOP_RANGE[1]}, default {DEFAULT_TOP})",
        min_heat=f"Heat {MIN_HEAT_RANGE[0]}-{MIN_HEAT_RANGE[1]} (default {DEFAULT_MIN_HEAT}) or a share of the"
        " topic like top10%",
    )
    @app_commands.autocomplete(topic=topic_autocomplete, timezone=timezone_autocomplete)
    async def add(
        self,
        interaction: discord.Interaction[Any],
        channel: AlertChannel,
        topic: str | None = None,
        every: Every = "daily",
        at: str = DEFAULT_AT,
        day: Weekday | None = None,
        timezone: str = "UTC",
        top: app_commands.Range[int, 1, 10] = DEFAULT_TOP,
        min_heat: str = str(DEFAULT_MIN_HEAT),
    ) -> None:
        """One message with the hottest stories of each period (adding the same channel and topic again updates it)."""
        guild_id = _require_manager(interaction)
        kind = postable_kind(channel, "/digest add", "digests")
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.digests.add(
            guild_id=guild_id,
            channel_id=channel.id,
            channel_kind=kind,
            topic=topic,
            every=every,
            at=at,
            day=day,
            timezone=timezone,
            top=top,
            min_heat=min_heat,
        )
        await self._reply(interaction, describe_digest_add(result, channel))

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Every digest in this server, with its schedule, next and last digest."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._reply(interaction, describe_digests(await self.digests.list_digests(guild_id)))

    @app_commands.command(name="remove")
    @app_commands.describe(
        channel="One of this server's digest channels (deleted channels are listed too)",
        topic="Only this topic's digest (leave out for all of the channel's)",
    )
    @app_commands.autocomplete(channel=digest_channel_autocomplete, topic=topic_autocomplete)
    async def remove(self, interaction: discord.Interaction[Any], channel: str, topic: str | None = None) -> None:
        """Stop digests in a channel (for one topic, or all of them)."""
        guild_id = _require_manager(interaction)
        channel_id = _channel_id(interaction, channel)
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.digests.remove(guild_id=guild_id, channel_id=channel_id, topic=topic)
        what = f" for **{escape(topic)}**" if topic is not None else ""
        await self._reply(interaction, f"Removed {removed} digest(s){what} from <#{channel_id}>.")

    @app_commands.command(name="preview")
    @app_commands.describe(channel="The digest channel", topic="That channel's digest for this topic")
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def preview(
        self, interaction: discord.Interaction[Any], channel: AlertChannel, topic: str | None = None
    ) -> None:
        """What the channel's next digest would say now (only you see it; nothing is sent)."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        record, digest = await self.digests.preview(guild_id=guild_id, channel_id=channel.id, topic=topic)
        if not digest.items:
            await self._reply(
                interaction,
                f"The next digest in {channel.mention} would have nothing to report yet (no message is sent then):"
                f" no story at heat ≥ {record.min_heat} first seen since {_at(record.covers_from)}.",
            )
            return
        await self._reply(
            interaction,
            f"What the next digest in {channel.mention} would say now (due {_at(record.next_due_at)}):",
            embed=digest_embed(digest),
        )


async def setup(bot: commands.Bot) -> None:
    """Add the /digest group, using the DigestService the runtime built (`bot.services.digests`)."""
    services = getattr(bot, "services", None)
    digests = getattr(services, "digests", None)
    if not isinstance(digests, DigestService):
        raise RuntimeError("cogs.digests needs bot.services.digests (a DigestService); build the bot with bot.app")
    await bot.add_cog(DigestCog(digests))


__all__ = ["DigestCog", "describe_digest", "describe_digests", "setup"]
