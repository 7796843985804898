"""`/alerts`: server managers choose where new hot stories are posted. A thin adapter over AlertService."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidArgument, PermissionDenied
from bot.permissions import needed_permissions
from bot.render import NO_MENTIONS
from bot.render import alerts as alerts_text
from bot.render.admin_log import admin_log_change
from bot.render.config import RERUN_TO_APPLY, import_plan
from bot.render.limits import escape, truncate
from bot.render.message import Line, Reply, Untrusted, markdown
from bot.render.refusals import cannot_post
from bot.schedules import zone_choices
from bot.services.admin_log import AdminLog
from bot.services.alerts import (
    BACKFILL_RANGE,
    DEFAULT_MIN_HEAT,
    MIN_HEAT_RANGE,
    AlertService,
    ChannelKind,
)
from bot.services.config_io import MAX_FILE_BYTES, ChannelRef, ConfigService, FoundChannel

log = logging.getLogger(__name__)

AlertChannel = discord.TextChannel | discord.ForumChannel


def channel_kind(channel: discord.abc.GuildChannel) -> ChannelKind:
    """text | announcement | forum for a channel alerts may go to; InvalidArgument for anything else."""
    if isinstance(channel, discord.TextChannel):
        return "announcement" if channel.is_news() else "text"
    if isinstance(channel, discord.ForumChannel):
        if channel.is_media():
            raise InvalidArgument(
                "Media channels need a file on every post; pick a text, announcement or forum channel."
            )
        if channel.flags.require_tag:
            raise InvalidArgument(
                f"{channel.mention} requires a tag on every post, so alerts could not be posted there. "
                "Turn off “Require tags” in the forum's settings, or pick another channel."
            )
        return "forum"
    raise InvalidArgument("Alerts can go to a text, announcement or forum channel.")


def missing_permissions(
    channel: discord.abc.GuildChannel,
    me: discord.Member,
    kind: ChannelKind,
    *,
    threads: bool = False,
    create_tags: bool = False,
) -> list[str]:
    """Names (as Discord shows them) of the permissions the bot lacks in `channel` for alerts of this kind (and
    the features turned on)."""
    perms = channel.permissions_for(me)
    wanted = needed_permissions(kind, threads=threads, create_tags=create_tags)
    return [label for attr, label in wanted if not getattr(perms, attr)]


def postable_kind(
    channel: AlertChannel, command: str, what: str, *, threads: bool = False, create_tags: bool = False
) -> ChannelKind:
    """The channel's kind, once the bot may post `what` there; else PermissionDenied naming what it lacks."""
    kind = channel_kind(channel)
    missing = missing_permissions(channel, channel.guild.me, kind, threads=threads, create_tags=create_tags)
    if missing:
        raise PermissionDenied(cannot_post(what, channel.id, missing, command))
    return kind


def _is_manager(interaction: discord.Interaction[Any]) -> bool:
    perms = interaction.permissions
    return bool(perms.manage_guild or perms.administrator)


def _channel_name(guild: discord.Guild, channel_id: int) -> str:
    channel = guild.get_channel(channel_id)
    return f"#{channel.name}" if channel is not None else f"deleted channel ({channel_id})"


_CHANNEL_REF = re.compile(r"^(?:<#(\d+)>|(\d+))$")


def _channel_id(interaction: discord.Interaction[Any], text: str) -> int:
    """The id behind a remove's `channel` text: a picked suggestion (the id), a <#mention>, or a channel name."""
    raw = text.strip()
    match = _CHANNEL_REF.match(raw)
    if match:
        return int(match.group(1) or match.group(2))
    if interaction.guild is not None:
        wanted = raw.lstrip("#").casefold()
        for channel in interaction.guild.channels:
            if channel.name.casefold() == wanted:
                return channel.id
    raise InvalidArgument("Pick one of the suggested alert channels (/alerts list shows them).")


def _require_manager(interaction: discord.Interaction[Any]) -> int:
    # default_permissions only sets what Discord shows by default: a server owner can grant the command to
    # anyone in Integrations settings, so the bot checks the member's real permission on every call.
    if interaction.guild_id is None:
        raise PermissionDenied("Alerts are configured inside a server.")
    if not _is_manager(interaction):
        raise PermissionDenied("You need the Manage Server permission to change alerts.")
    return interaction.guild_id


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AlertsCog(commands.GroupCog, group_name="alerts", group_description="Post new hot stories to channels"):
    """The /alerts group."""

    def __init__(
        self, alerts: AlertService, admin_log: AdminLog | None = None, config: ConfigService | None = None
    ) -> None:
        self.alerts = alerts
        self.admin_log = admin_log
        self.config = config
        super().__init__()

    async def _tell_log(self, interaction: discord.Interaction[Any], guild_id: int, what: Line) -> None:
        """Tell the server's alerts log (if it has one) who changed what."""
        if self.admin_log is not None:
            await self.admin_log.changed(guild_id, admin_log_change(interaction.user.id, markdown(what)))

    async def _reply(self, interaction: discord.Interaction[Any], message: Reply | str) -> None:
        text = message.markdown() if isinstance(message, Reply) else message
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def topic_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Stored topics matching what was typed."""
        names = await self.alerts.topic_choices(current, 25)
        return [app_commands.Choice(name=truncate(n, 100), value=n[:100]) for n in names]

    @app_commands.command(name="add")
    @app_commands.describe(
        channel="A text, announcement or forum channel",
        topic="Only stories on this topic (leave out for every topic)",
        min_heat=f"Heat {MIN_HEAT_RANGE[0]}-{MIN_HEAT_RANGE[1]} or a share like top10%; {DEFAULT_MIN_HEAT} for a new"
        " alert; re-adding without it: unchanged",
        min_quality="Also require at least this quality (0 = no quality filter; left out when re-adding: unchanged)",
        backfill=f"Also post the N hottest stories that already qualify ({BACKFILL_RANGE[0]}-{BACKFILL_RANGE[1]})",
        dedupe="One post per event: other providers' stories of it are listed on the first post (default: true)",
        ping_heat="Stories at least this hot ping their topics' roles (/roles); 0 = no pings (default: none)",
        threads="Start a thread on each post with the story's related stories and later coverage (default: false)",
        create_tags="Forums: create a tag for each story topic the forum has no tag for, up to 20 (default: false)",
    )
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def add(
        self,
        interaction: discord.Interaction[Any],
        channel: AlertChannel,
        topic: str | None = None,
        min_heat: str | None = None,
        min_quality: int | None = None,
        backfill: int = 0,
        dedupe: bool | None = None,
        ping_heat: int | None = None,
        threads: bool | None = None,
        create_tags: bool | None = None,
    ) -> None:
        """Post new hot stories to a channel (adding the same channel and topic again changes what is given)."""
        guild_id = _require_manager(interaction)
        kind = postable_kind(channel, "/alerts add", "alerts", threads=bool(threads), create_tags=bool(create_tags))
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.alerts.add_subscription(
            guild_id=guild_id,
            channel_id=channel.id,
            channel_kind=kind,
            topic=topic,
            min_heat=min_heat,
            min_quality=min_quality,
            backfill=backfill,
            dedupe=dedupe,
            ping_heat=ping_heat,
            threads=threads,
            create_tags=create_tags,
        )
        await self._reply(interaction, alerts_text.added(result, channel.id))
        await self._tell_log(interaction, guild_id, alerts_text.add_change(result, channel.id))

    async def alert_channel_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """This server's alert channels, including deleted ones (the channel picker cannot offer those)."""
        if interaction.guild is None or not _is_manager(interaction):
            return []
        listing = await self.alerts.list_subscriptions(interaction.guild.id)
        typed = current.strip().lstrip("#").casefold()
        choices: list[app_commands.Choice[str]] = []
        for channel_id in dict.fromkeys(s.channel_id for s in listing.subscriptions):
            name = _channel_name(interaction.guild, channel_id)
            if typed in name.casefold() or typed == str(channel_id):
                choices.append(app_commands.Choice(name=truncate(name, 100), value=str(channel_id)))
        return choices[:25]

    @app_commands.command(name="remove")
    @app_commands.describe(
        channel="One of this server's alert channels (deleted channels are listed too)",
        topic="Only this topic's subscription (leave out for all of the channel's)",
    )
    @app_commands.autocomplete(channel=alert_channel_autocomplete, topic=topic_autocomplete)
    async def remove(self, interaction: discord.Interaction[Any], channel: str, topic: str | None = None) -> None:
        """Stop alerts in a channel (for one topic, or all of them)."""
        guild_id = _require_manager(interaction)
        channel_id = _channel_id(interaction, channel)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.alerts.remove_subscription(guild_id=guild_id, channel_id=channel_id, topic=topic)
        await self._reply(interaction, alerts_text.removed(result.removed, result.topic, channel_id))
        await self._tell_log(interaction, guild_id, alerts_text.remove_change(result.topic, channel_id))

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Every alert subscription in this server, with thresholds, last post and last error."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        listing = await self.alerts.list_subscriptions(guild_id)
        await self._reply(interaction, alerts_text.listing(listing, await self.alerts.quiet_hours(guild_id)))

    @app_commands.command(name="pause")
    @app_commands.describe(channel="Only this channel (leave out for the whole server)")
    async def pause(self, interaction: discord.Interaction[Any], channel: AlertChannel | None = None) -> None:
        """Stop posting for now: queued stories wait; stories that turn hot meanwhile are skipped."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.alerts.pause(guild_id, channel.id if channel is not None else None)
        channel_id = channel.id if channel is not None else None
        await self._reply(interaction, alerts_text.paused(result, channel_id, pausing=True))
        if result.changed:
            await self._tell_log(interaction, guild_id, alerts_text.pause_change(channel_id, pausing=True))

    @app_commands.command(name="resume")
    @app_commands.describe(channel="Only this channel (leave out for the whole server)")
    async def resume(self, interaction: discord.Interaction[Any], channel: AlertChannel | None = None) -> None:
        """Start posting again (also clears a channel's failures after you fixed them)."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.alerts.resume(guild_id, channel.id if channel is not None else None)
        channel_id = channel.id if channel is not None else None
        await self._reply(interaction, alerts_text.paused(result, channel_id, pausing=False))
        if result.changed:
            await self._tell_log(interaction, guild_id, alerts_text.pause_change(channel_id, pausing=False))

    async def timezone_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """IANA time zones matching what was typed."""
        return [app_commands.Choice(name=n, value=n) for n in zone_choices(current, 25)]

    @app_commands.command(name="quiet")
    @app_commands.describe(
        channel="The alert channel",
        start="When quiet hours begin, HH:MM (24-hour)",
        end="When they end, HH:MM (may be the next morning: 22:00 to 07:00)",
        timezone="IANA time zone, e.g. Europe/Berlin (default UTC)",
        breaking="Stories at least this hot still post at once (default: none do)",
        off="Turn the channel's quiet hours off",
    )
    @app_commands.autocomplete(timezone=timezone_autocomplete)
    async def quiet(
        self,
        interaction: discord.Interaction[Any],
        channel: AlertChannel,
        start: str | None = None,
        end: str | None = None,
        timezone: str = "UTC",
        breaking: app_commands.Range[int, 0, 500] | None = None,
        off: bool = False,
    ) -> None:
        """Hold a channel's alerts during quiet hours; one "While you were away" message when they end."""
        guild_id = _require_manager(interaction)
        if off:
            await interaction.response.defer(ephemeral=True, thinking=True)
            removed = await self.alerts.quiet_off(guild_id, channel.id)
            await self._reply(interaction, alerts_text.quiet_off(removed, channel.id))
            return
        if start is None or end is None:
            raise InvalidArgument(
                "Give both start and end as HH:MM (e.g. start:22:00 end:07:00), or off:True to turn quiet hours off."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        window, _created = await self.alerts.set_quiet(
            guild_id=guild_id, channel_id=channel.id, start=start, end=end, timezone=timezone, breaking=breaking
        )
        await self._reply(interaction, alerts_text.quiet_set(window, channel.id, self.alerts.max_posts_per_tick))

    @app_commands.command(name="preview")
    @app_commands.describe(
        channel="The alert channel",
        topic="Only what this topic's subscription queued",
        backfill=f"Also show what /alerts add's backfill:N would queue now ({BACKFILL_RANGE[0]}-{BACKFILL_RANGE[1]})",
    )
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def preview(
        self,
        interaction: discord.Interaction[Any],
        channel: AlertChannel,
        topic: str | None = None,
        backfill: int = 0,
    ) -> None:
        """What a channel would post next, in order (nothing is sent)."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        preview = await self.alerts.preview(guild_id=guild_id, channel_id=channel.id, topic=topic, backfill=backfill)
        await self._reply(interaction, alerts_text.preview(preview, channel.id, self.alerts.max_posts_per_tick))

    @app_commands.command(name="log")
    @app_commands.describe(
        channel="The channel that hears about failing, paused and recovered alert channels and alert changes",
        off="Stop the alerts log (problems still show in /alerts list)",
    )
    async def log_channel(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None = None, off: bool = False
    ) -> None:
        """Choose where problems and changes of this server's alerts are posted (without options: show it)."""
        guild_id = _require_manager(interaction)
        admin_log = self.admin_log
        if admin_log is None:
            raise InvalidArgument("The alerts log is not available in this bot.")
        if channel is not None and off:
            raise InvalidArgument("Give a channel to log to, or `off:True` to stop the log, not both.")
        if channel is not None:
            missing = [
                label
                for attr, label in (("view_channel", "View Channel"), ("send_messages", "Send Messages"))
                if not getattr(channel.permissions_for(channel.guild.me), attr)
            ]
            if missing:
                raise PermissionDenied(cannot_post("the alerts log", channel.id, missing, "/alerts log"))
        await interaction.response.defer(ephemeral=True, thinking=True)
        if off:
            text = alerts_text.log_off(await admin_log.turn_off(guild_id))
        elif channel is not None:
            await admin_log.set_channel(guild_id, channel.id, interaction.user.id)
            await self._tell_log(interaction, guild_id, alerts_text.log_change(channel.id))
            text = alerts_text.log_set(channel.id)
        else:
            text = alerts_text.log_current(await admin_log.current(guild_id))
        await self._reply(interaction, text)

    @app_commands.command(name="export")
    async def export(self, interaction: discord.Interaction[Any]) -> None:
        """This server's alerts (subscriptions, log channel) as a JSON file for /alerts import or a backup."""
        guild_id = _require_manager(interaction)
        config = self._config()
        assert interaction.guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await config.export(guild_id, GuildDirectory(interaction.guild))
        upload = discord.File(io.BytesIO(text.encode("utf-8")), filename=f"heatwave-alerts-{guild_id}.json")
        await interaction.followup.send(
            alerts_text.export_note().markdown(),
            file=upload,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="import")
    @app_commands.describe(
        file="A file written by /alerts export (or heatwave config export)",
        dry_run="Only show what would change (the default); False applies it",
    )
    async def import_(
        self, interaction: discord.Interaction[Any], file: discord.Attachment, dry_run: bool = True
    ) -> None:
        """Check an export file and show what it would change; with dry_run:False, apply it in one go."""
        guild_id = _require_manager(interaction)
        config = self._config()
        assert interaction.guild is not None
        if file.size > MAX_FILE_BYTES:
            raise InvalidArgument(
                f"{escape(file.filename)} is larger than {MAX_FILE_BYTES // 1024} KB; pick the "
                "JSON file /alerts export wrote."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            data = await file.read()
        except (discord.HTTPException, discord.NotFound) as exc:
            raise InvalidArgument("I could not download the file from Discord; attach it again.") from exc
        plan = await config.plan(guild_id, data, GuildDirectory(interaction.guild), actor_id=interaction.user.id)
        if dry_run:
            await self._reply(interaction, import_plan(plan, applied=False, how_to_apply=RERUN_TO_APPLY))
            return
        text = import_plan(plan, applied=True).markdown()
        # `text` is already Discord markdown; only the file's name is untrusted here.
        what = markdown(("imported an alerts file (", Untrusted(file.filename), "): ")) + text
        told = admin_log_change(interaction.user.id, what)
        await config.apply(plan, told=told if plan.changes else None)
        await self._reply(interaction, text)

    def _config(self) -> ConfigService:
        if self.config is None:
            raise PermissionDenied("Export and import are not available in this bot.")
        return self.config


class GuildDirectory:
    """The server's channels for an export (names) or an import (by id, else by name; alertable; permissions)."""

    def __init__(self, guild: discord.Guild) -> None:
        self._guild = guild

    def name_of(self, channel_id: int) -> str | None:
        """The channel's name (None when it is gone)."""
        channel = self._guild.get_channel(channel_id)
        return channel.name if channel is not None else None

    def find(self, ref: ChannelRef) -> FoundChannel | None:
        """The channel with the ref's id, else the one with its name; with why it cannot be used, if so."""
        channel = self._guild.get_channel(ref.id) if ref.id is not None else None
        if channel is None and ref.name is not None:
            wanted = ref.name.casefold()
            channel = next((c for c in self._guild.channels if c.name.casefold() == wanted), None)
        if channel is None:
            return None
        try:
            kind = channel_kind(channel)
        except InvalidArgument as exc:
            return FoundChannel(channel.id, channel.name, None, f"#{channel.name}: {exc.user_message}")
        missing = missing_permissions(channel, self._guild.me, kind)
        problem = f"I'm missing {', '.join(missing)} in #{channel.name}" if missing else None
        return FoundChannel(channel.id, channel.name, kind, problem)


async def setup(bot: commands.Bot) -> None:
    """Add the /alerts group, using the AlertService the runtime built (`bot.services.alerts`)."""
    services = getattr(bot, "services", None)
    alerts = getattr(services, "alerts", None)
    admin_log = getattr(services, "admin_log", None)
    config = getattr(services, "config", None)
    if not isinstance(alerts, AlertService) or not isinstance(admin_log, AdminLog):
        raise RuntimeError(
            "cogs.alerts needs bot.services.alerts and bot.services.admin_log; build the bot with bot.app"
        )
    await bot.add_cog(AlertsCog(alerts, admin_log, config if isinstance(config, ConfigService) else None))
