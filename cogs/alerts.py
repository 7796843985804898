"""`/alerts`: server managers choose where new hot stories are posted. A thin adapter over AlertService."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidArgument, PermissionDenied
from bot.permissions import needed_permissions
from bot.render import (
    MESSAGE_CONTENT_LIMIT,
    NO_MENTIONS,
    admin_log_change,
    escape,
    heat_rule,
    import_plan_text,
    truncate,
)
from bot.render_threads import threads_added_text, threads_listing_lines
from bot.schedules import zone_choices
from bot.services.admin_log import AdminLog
from bot.services.alerts import (
    BACKFILL_RANGE,
    DEFAULT_MIN_HEAT,
    MIN_HEAT_RANGE,
    AddResult,
    AlertService,
    ChannelKind,
    GuildAlerts,
    PauseResult,
    Preview,
    PreviewItem,
    SubscriptionRecord,
)
from bot.services.config_io import MAX_FILE_BYTES, ChannelRef, ConfigService, FoundChannel
from bot.urls import safe_http_url
from db.models import QuietHours

log = logging.getLogger(__name__)

AlertChannel = discord.TextChannel | discord.ForumChannel


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else discord.utils.format_dt(moment, "R")


def _linked(title: str, url: str) -> str:
    # Only http(s) links leave the bot; <...> keeps Discord from unfurling a preview card for every line.
    safe = safe_http_url(url)
    return f"[{title}](<{safe}>)" if safe else title


def _fit(lines: list[str], footer: str = "") -> str:
    """Join lines into one message, dropping the tail (and saying so) when Discord's 2000 limit is reached."""
    room = MESSAGE_CONTENT_LIMIT - len(footer) - 40
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > room:
            kept.append(f"… and {len(lines) - len(kept)} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept) + footer


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
        raise PermissionDenied(
            f"I can't post {what} in {channel.mention}: I'm missing {', '.join(missing)} there. "
            f"Grant it to my role in that channel, then run `{command}` again."
        )
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


def describe_subscription(sub: SubscriptionRecord) -> str:
    """One /alerts list line: where, what, thresholds, last post, last error, state."""
    topic = escape(sub.topic_name) if sub.topic_name else "every topic"
    parts = [f"<#{sub.channel_id}>", f"**{topic}**", heat_rule(sub.min_heat, sub.heat_percentile)]
    if sub.min_quality is not None:
        parts.append(f"quality ≥ {sub.min_quality}")
    parts.append(f"last post {_when(sub.last_post_at)}")
    if sub.queued:
        parts.append(f"{sub.queued} queued")
    line = " · ".join(parts)
    if sub.auto_paused_reason:
        line += f"\n  ⏸ paused automatically after repeated failures: {escape(sub.auto_paused_reason)}"
    elif sub.channel_paused_at is not None:
        line += "\n  ⏸ paused"
    elif sub.failure_count:
        line += f"\n  ⚠ failing ({sub.failure_count}×): {escape(sub.last_error or '?')}"
    if sub.last_error and not sub.failure_count and not sub.auto_paused_reason:
        line += f"\n  last error {_when(sub.last_error_at)}: {escape(sub.last_error)}"
    return line


def describe_listing(listing: GuildAlerts, quiet: Sequence[QuietHours] = ()) -> str:
    """The whole /alerts list reply (with each channel's quiet hours)."""
    if not listing.subscriptions:
        return "No alerts in this server yet. Add one with `/alerts add`."
    header = (
        ["⏸ **Alerts are paused for the whole server** (`/alerts resume` to restart)."] if listing.guild_paused else []
    )
    windows = [f"🌙 <#{q.channel_id}> quiet {quiet_label(q)}" for q in quiet]
    threads = threads_listing_lines(listing.threads)
    return _fit(header + [describe_subscription(s) for s in listing.subscriptions] + windows + threads)


def quiet_label(window: QuietHours) -> str:
    """'22:00–07:00 Europe/Berlin, breaking ≥ 150'."""
    start, end = divmod(window.start_minute, 60), divmod(window.end_minute, 60)
    text = f"{start[0]:02d}:{start[1]:02d}–{end[0]:02d}:{end[1]:02d} {window.timezone}"
    return text + (f", breaking ≥ {window.breaking}" if window.breaking is not None else ", nothing breaks through")


def describe_quiet(window: QuietHours, where: str, per_tick: int) -> str:
    """The /alerts quiet reply: the window and what happens during and after it."""
    breaking = (
        f"stories with heat ≥ {window.breaking} still post at once"
        if window.breaking is not None
        else "nothing posts"
    )
    return (
        f"Quiet hours in {where}: {quiet_label(window)}. Alerts are held meanwhile ({breaking}); when quiet hours"
        f" end, one “While you were away” message brings the {per_tick} hottest held stories that still qualify,"
        " and the rest are not posted one by one."
    )


def _threshold(value: int | None) -> str:
    return "off" if value is None else str(value)


def describe_add(result: AddResult, channel: AlertChannel) -> str:
    """The /alerts add reply: the subscription's thresholds now and, on a re-add, what changed."""
    sub = result.subscription
    what = f"stories on **{escape(sub.topic_name)}**" if sub.topic_name else "stories on every topic"
    quality = f"quality ≥ {sub.min_quality}" if sub.min_quality is not None else "no quality filter"
    verb = "will now get" if result.created else "now gets"
    text = f"{channel.mention} {verb} new {what} with {heat_rule(sub.min_heat, sub.heat_percentile)} and {quality}."
    if result.created:
        text += " Stories that are already hot are not posted"
        text += f", except the {result.backfilled} hottest (backfill)." if result.backfilled else "."
    else:
        changes = ", ".join(f"{c.name} {_threshold(c.before)} → {_threshold(c.after)}" for c in result.changes)
        text += f" Changed: {changes}." if changes else " Nothing changed."
        if result.backfilled:
            text += f" {result.backfilled} more already-hot stories are queued (backfill)."
    if result.dedupe is False:
        text += " Every provider's story of an event is posted (dedupe off)."
    if result.ping_heat is not None:
        text += f" Stories with heat ≥ {result.ping_heat} ping their topics' roles (`/roles list`)."
    text += threads_added_text(result.threads, sub.channel_kind)
    if sub.guild_paused or sub.channel_paused_at is not None:
        text += "\n⏸ Alerts there are paused; `/alerts resume` to start posting."
    return text


def describe_pause(result: PauseResult, channel: AlertChannel | None, *, pausing: bool) -> str:
    """The /alerts pause or resume reply, saying what happens to queued and new stories."""
    where = channel.mention if channel is not None else "this server"
    if pausing:
        if not result.changed:
            return f"Alerts in {where} were already paused."
        return (
            f"Paused alerts in {where}. {result.queued} stories already queued will wait and post after "
            "`/alerts resume`; of the stories that turn hot meanwhile, the hottest come in one message then."
        )
    if not result.changed and not result.still_paused:
        return f"Alerts in {where} were not paused."
    text = f"Resumed alerts in {where}."
    if result.queued:
        text += f" {result.queued} queued stories will post over the next few minutes, hottest first."
    if result.catch_up:
        text += (
            f" The {result.catch_up} hottest that turned hot meanwhile come in one “While alerts were paused”"
            " message."
        )
    if result.still_paused:
        names = ", ".join(f"<#{c.channel_id}>" for c in result.still_paused)
        text += f"\nStill paused on their own: {names} (`/alerts resume channel:` each)."
    return text


def _topic_of(sub: SubscriptionRecord) -> str:
    return f"**{escape(sub.topic_name)}**" if sub.topic_name else "**every topic**"


def _why_queued(item: PreviewItem) -> str:
    """Which subscription queued a story and how: ' · for **AI** (backfill)', or '' when the ledger cannot say."""
    if item.queued_for is None:
        return ""
    why = {"crossing": f" (crossed heat {item.queued_for.min_heat})", "backfill": " (backfill)", None: ""}
    return f" · for {_topic_of(item.queued_for)}{why[item.queued_by]}"


def describe_preview(preview: Preview, channel: AlertChannel, per_tick: int) -> str:
    """The /alerts preview reply: the queue in posting order with why each story is there, then what a backfill
    would add, when one was asked for."""
    lines = [f"What {channel.mention} would post next (nothing was sent):"]
    if preview.paused_reason:
        lines.append(f"⏸ Nothing posts until resumed: {escape(preview.paused_reason)}.")
    for number, item in enumerate(preview.queued, start=1):
        title = escape(truncate(item.story.title, 120))
        if item.next_tick:
            when = "next tick"
        elif item.backing_off:
            when = f"retry {_when(item.not_before)}"
        elif preview.paused_reason:
            when = "when resumed"
        else:
            when = f"a later tick ({per_tick} per tick)"
        line = f"{number}. heat {item.story.heat} · {_linked(title, item.story.link_url)} · {when}{_why_queued(item)}"
        if item.last_error:
            line += f" · last try failed: {escape(item.last_error)}"
        lines.append(line)
    backfill = preview.backfill
    if not preview.queued:
        lines.append(
            "Nothing is queued. New stories crossing the threshold will post when they arrive"
            + ("." if backfill is not None else " (`backfill:N` shows what a backfill would queue now).")
        )
    if backfill is not None:
        sub = backfill.subscription
        rule = f"heat ≥ {sub.min_heat}" + (f", quality ≥ {sub.min_quality}" if sub.min_quality is not None else "")
        count = len(backfill.stories)
        if count:
            lines.append(
                f"`backfill:{backfill.asked}` on the {_topic_of(sub)} subscription would queue {count}"
                f" {'story' if count == 1 else 'stories'}: the hottest that qualify now ({rule}) and were never"
                " posted here."
            )
            lines.extend(
                f"• heat {s.heat} · {_linked(escape(truncate(s.title, 120)), s.link_url)}" for s in backfill.stories
            )
        else:
            lines.append(
                f"`backfill:{backfill.asked}` on the {_topic_of(sub)} subscription would queue nothing: no story"
                f" that qualifies now ({rule}) is missing from this channel."
            )
    return _fit(lines)


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

    async def _tell_log(self, interaction: discord.Interaction[Any], guild_id: int, what: str) -> None:
        """Tell the server's alerts log (if it has one) who changed what."""
        if self.admin_log is not None:
            await self.admin_log.changed(guild_id, admin_log_change(interaction.user.id, what))

    async def _reply(self, interaction: discord.Interaction[Any], text: str) -> None:
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
        await self._reply(interaction, describe_add(result, channel))
        await self._tell_log(interaction, guild_id, describe_add_change(result, channel.id))

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
        if result.topic is not None:
            text = f"<#{channel_id}> no longer gets alerts for **{escape(result.topic)}**."
        else:
            text = f"Removed {result.removed} alert subscription(s) from <#{channel_id}>; nothing more will post there."
        await self._reply(interaction, text)
        what = (
            f"removed the alerts for **{escape(result.topic)}** from <#{channel_id}>"
            if result.topic is not None
            else f"removed every alert subscription of <#{channel_id}>"
        )
        await self._tell_log(interaction, guild_id, what)

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Every alert subscription in this server, with thresholds, last post and last error."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        listing = await self.alerts.list_subscriptions(guild_id)
        await self._reply(interaction, describe_listing(listing, await self.alerts.quiet_hours(guild_id)))

    @app_commands.command(name="pause")
    @app_commands.describe(channel="Only this channel (leave out for the whole server)")
    async def pause(self, interaction: discord.Interaction[Any], channel: AlertChannel | None = None) -> None:
        """Stop posting for now: queued stories wait; stories that turn hot meanwhile are skipped."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.alerts.pause(guild_id, channel.id if channel is not None else None)
        await self._reply(interaction, describe_pause(result, channel, pausing=True))
        if result.changed:
            await self._tell_log(interaction, guild_id, f"paused alerts in {_where(channel)}")

    @app_commands.command(name="resume")
    @app_commands.describe(channel="Only this channel (leave out for the whole server)")
    async def resume(self, interaction: discord.Interaction[Any], channel: AlertChannel | None = None) -> None:
        """Start posting again (also clears a channel's failures after you fixed them)."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.alerts.resume(guild_id, channel.id if channel is not None else None)
        await self._reply(interaction, describe_pause(result, channel, pausing=False))
        if result.changed:
            await self._tell_log(interaction, guild_id, f"resumed alerts in {_where(channel)}")

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
            text = (
                f"Quiet hours in {channel.mention} are off; held alerts post as usual."
                if removed
                else f"{channel.mention} had no quiet hours."
            )
            await self._reply(interaction, text)
            return
        if start is None or end is None:
            raise InvalidArgument(
                "Give both start and end as HH:MM (e.g. start:22:00 end:07:00), or off:True to turn quiet hours off."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        window, _created = await self.alerts.set_quiet(
            guild_id=guild_id, channel_id=channel.id, start=start, end=end, timezone=timezone, breaking=breaking
        )
        await self._reply(interaction, describe_quiet(window, channel.mention, self.alerts.max_posts_per_tick))

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
        await self._reply(interaction, describe_preview(preview, channel, self.alerts.max_posts_per_tick))

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
                raise PermissionDenied(
                    f"I can't post the alerts log in {channel.mention}: I'm missing {', '.join(missing)} there. "
                    "Grant it to my role in that channel, then run `/alerts log` again."
                )
        await interaction.response.defer(ephemeral=True, thinking=True)
        if off:
            was_on = await admin_log.turn_off(guild_id)
            text = (
                "The alerts log is off. Failing channels still show in `/alerts list`."
                if was_on
                else "There was no alerts log to turn off."
            )
        elif channel is not None:
            await admin_log.set_channel(guild_id, channel.id, interaction.user.id)
            await self._tell_log(interaction, guild_id, f"made <#{channel.id}> the alerts log")
            text = describe_log_channel(channel.id)
        else:
            current = await admin_log.current(guild_id)
            text = (
                f"The alerts log goes to <#{current.channel_id}> (set by <@{current.set_by}> {_when(current.set_at)})."
                if current is not None
                else "There is no alerts log. `/alerts log channel:` picks a channel for it."
            )
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
            "This server's alerts; `/alerts import` reads the file back (here or in another server).",
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
            raise InvalidArgument(f"{escape(file.filename)} is larger than {MAX_FILE_BYTES // 1024} KB; pick the "
                                  "JSON file /alerts export wrote.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            data = await file.read()
        except (discord.HTTPException, discord.NotFound) as exc:
            raise InvalidArgument("I could not download the file from Discord; attach it again.") from exc
        plan = await config.plan(guild_id, data, GuildDirectory(interaction.guild), actor_id=interaction.user.id)

        def mention(channel_id: int) -> str:
            return f"<#{channel_id}>"

        if dry_run:
            text = import_plan_text(plan, mention, applied=False, markdown=True,
                                    how_to_apply="run it again with `dry_run:False`")
            await self._reply(interaction, text)
            return
        text = import_plan_text(plan, mention, applied=True, markdown=True, how_to_apply="")
        told = admin_log_change(interaction.user.id, f"imported an alerts file ({escape(file.filename)}): {text}")
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


def _where(channel: AlertChannel | None) -> str:
    return channel.mention if channel is not None else "the whole server"


def describe_add_change(result: AddResult, channel_id: int) -> str:
    """What /alerts add changed, for the alerts log."""
    sub = result.subscription
    what = f"**{escape(sub.topic_name)}**" if sub.topic_name else "every topic"
    rule = f"heat ≥ {sub.min_heat}" + (f", quality ≥ {sub.min_quality}" if sub.min_quality is not None else "")
    if result.created:
        return f"added alerts for {what} in <#{channel_id}> ({rule})"
    changes = ", ".join(f"{c.name} {_threshold(c.before)} → {_threshold(c.after)}" for c in result.changes)
    return f"changed the alerts for {what} in <#{channel_id}>: {changes or 'nothing changed'} ({rule})"


def describe_log_channel(channel_id: int) -> str:
    """The /alerts log reply once a channel is set."""
    return (
        f"Problems and changes of this server's alerts now go to <#{channel_id}>: a channel failing (deleted, a "
        "missing permission), paused after repeated failures, or posting again, and who changed which alerts. Each "
        "problem is told at most once an hour; nothing is posted while all is well. `/alerts log off:True` stops it."
    )


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
