"""`/alerts`: server managers choose where new hot stories are posted. A thin adapter over AlertService."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidArgument, PermissionDenied
from bot.render import MESSAGE_CONTENT_LIMIT, NO_MENTIONS, escape, truncate
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
from bot.urls import safe_http_url

log = logging.getLogger(__name__)

# What the bot needs in an alert channel. Read Message History lets crash recovery find an alert it may already
# have posted instead of posting it twice. A forum post needs Send Messages (shown as "Create Posts" there);
# publishing the bot's *own* message in an announcement channel needs nothing more (Manage Messages is only
# for other people's messages).
_NEEDED: dict[str, tuple[tuple[str, str], ...]] = {
    "text": (
        ("view_channel", "View Channel"),
        ("send_messages", "Send Messages"),
        ("embed_links", "Embed Links"),
        ("read_message_history", "Read Message History"),
    ),
    "forum": (
        ("view_channel", "View Channel"),
        ("send_messages", "Create Posts"),
        ("embed_links", "Embed Links"),
        ("read_message_history", "Read Message History"),
    ),
}
_NEEDED["announcement"] = _NEEDED["text"]

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


def missing_permissions(channel: discord.abc.GuildChannel, me: discord.Member, kind: ChannelKind) -> list[str]:
    """Names (as Discord shows them) of the permissions the bot lacks in `channel` for alerts of this kind."""
    perms = channel.permissions_for(me)
    return [label for attr, label in _NEEDED.get(kind, ()) if not getattr(perms, attr)]


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
    parts = [f"<#{sub.channel_id}>", f"**{topic}**", f"heat ≥ {sub.min_heat}"]
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


def describe_listing(listing: GuildAlerts) -> str:
    """The whole /alerts list reply."""
    if not listing.subscriptions:
        return "No alerts in this server yet. Add one with `/alerts add`."
    header = (
        ["⏸ **Alerts are paused for the whole server** (`/alerts resume` to restart)."] if listing.guild_paused else []
    )
    return _fit(header + [describe_subscription(s) for s in listing.subscriptions])


def _threshold(value: int | None) -> str:
    return "off" if value is None else str(value)


def describe_add(result: AddResult, channel: AlertChannel) -> str:
    """The /alerts add reply: the subscription's thresholds now and, on a re-add, what changed."""
    sub = result.subscription
    what = f"stories on **{escape(sub.topic_name)}**" if sub.topic_name else "stories on every topic"
    quality = f"quality ≥ {sub.min_quality}" if sub.min_quality is not None else "no quality filter"
    verb = "will now get" if result.created else "now gets"
    text = f"{channel.mention} {verb} new {what} with heat ≥ {sub.min_heat} and {quality}."
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
            "`/alerts resume`; stories that turn hot while paused are skipped, not posted later."
        )
    if not result.changed and not result.still_paused:
        return f"Alerts in {where} were not paused."
    text = f"Resumed alerts in {where}."
    if result.queued:
        text += f" {result.queued} queued stories will post over the next few minutes, hottest first."
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

    def __init__(self, alerts: AlertService) -> None:
        self.alerts = alerts
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
        names = await self.alerts.topic_choices(current, 25)
        return [app_commands.Choice(name=truncate(n, 100), value=n[:100]) for n in names]

    @app_commands.command(name="add")
    @app_commands.describe(
        channel="A text, announcement or forum channel",
        topic="Only stories on this topic (leave out for every topic)",
        min_heat=f"Minimum heat ({MIN_HEAT_RANGE[0]}-{MIN_HEAT_RANGE[1]}; {DEFAULT_MIN_HEAT} for a new alert;"
        " left out when re-adding: unchanged)",
        min_quality="Also require at least this quality (0 = no quality filter; left out when re-adding: unchanged)",
        backfill=f"Also post the N hottest stories that already qualify ({BACKFILL_RANGE[0]}-{BACKFILL_RANGE[1]})",
        dedupe="One post per event: other providers' stories of it are listed on the first post (default: true)",
        ping_heat="Stories at least this hot ping their topics' roles (/roles); 0 = no pings (default: none)",
    )
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def add(
        self,
        interaction: discord.Interaction[Any],
        channel: AlertChannel,
        topic: str | None = None,
        min_heat: int | None = None,
        min_quality: int | None = None,
        backfill: int = 0,
        dedupe: bool | None = None,
        ping_heat: int | None = None,
    ) -> None:
        """Post new hot stories to a channel (adding the same channel and topic again changes what is given)."""
        guild_id = _require_manager(interaction)
        kind = channel_kind(channel)
        me = channel.guild.me
        missing = missing_permissions(channel, me, kind)
        if missing:
            raise PermissionDenied(
                f"I can't post alerts in {channel.mention}: I'm missing {', '.join(missing)} there. "
                "Grant it to my role in that channel, then run `/alerts add` again."
            )
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
        )
        await self._reply(interaction, describe_add(result, channel))

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

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Every alert subscription in this server, with thresholds, last post and last error."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._reply(interaction, describe_listing(await self.alerts.list_subscriptions(guild_id)))

    @app_commands.command(name="pause")
    @app_commands.describe(channel="Only this channel (leave out for the whole server)")
    async def pause(self, interaction: discord.Interaction[Any], channel: AlertChannel | None = None) -> None:
        """Stop posting for now: queued stories wait; stories that turn hot meanwhile are skipped."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.alerts.pause(guild_id, channel.id if channel is not None else None)
        await self._reply(interaction, describe_pause(result, channel, pausing=True))

    @app_commands.command(name="resume")
    @app_commands.describe(channel="Only this channel (leave out for the whole server)")
    async def resume(self, interaction: discord.Interaction[Any], channel: AlertChannel | None = None) -> None:
        """Start posting again (also clears a channel's failures after you fixed them)."""
        guild_id = _require_manager(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.alerts.resume(guild_id, channel.id if channel is not None else None)
        await self._reply(interaction, describe_pause(result, channel, pausing=False))

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


async def setup(bot: commands.Bot) -> None:
    """Add the /alerts group, using the AlertService the runtime built (`bot.services.alerts`)."""
    services = getattr(bot, "services", None)
    alerts = getattr(services, "alerts", None)
    if not isinstance(alerts, AlertService):
        raise RuntimeError("cogs.alerts needs bot.services.alerts (an AlertService); build the bot with bot.app")
    await bot.add_cog(AlertsCog(alerts))
