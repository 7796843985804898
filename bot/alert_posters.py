"""Where alert posts go: Discord channels (text, announcement, forum) or the console playground.

Posters only translate: the alert service decides what is due and keeps the ledger; a poster sends one story
and reports the outcome as a message id or a `DeliveryFailed` saying whose fault it was.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.errors import InvalidArgument
from bot.pacing import RestPacer
from bot.render import alerts as alerts_text
from bot.render.limits import NO_MENTIONS, clean_text, role_mentions, truncate
from bot.render.message import Names, Reply
from bot.render.stories import LivingPost, alert_printed, alert_reprinted, forum_title, living_embed, story_embed
from bot.render.summaries import SUMMARY_TITLES, summary_messages, summary_printed
from bot.render.threads import tags_skipped_text
from bot.render.why import why_text
from bot.services.alerts import AlertService, DeliveryFailed
from bot.services.living_posts import EditFailed
from bot.services.threads import (
    APPLIED_TAGS_LIMIT,
    AUTO_ARCHIVE_MINUTES,
    FORUM_TAGS_LIMIT,
    ThreadFailed,
    plan_tags,
)
from bot.urls import safe_http_url
from db.models import StoryView, SummaryKind

if TYPE_CHECKING:
    from bot.console import ConsoleArgs, ConsoleCommand, ConsoleSession

log = logging.getLogger(__name__)

__all__ = [
    "CONSOLE_CHANNEL_ID",
    "CONSOLE_GUILD_ID",
    "ConsolePoster",
    "DiscordPoster",
    "console_commands",
    "delivery_failure",
    "edit_failure",
    "thread_failure",
]

# The console playground has one "server" with one channel: the terminal.
CONSOLE_GUILD_ID = 0
CONSOLE_CHANNEL_ID = 1

# How far back crash recovery looks for an alert it may already have posted (one history page).
HISTORY_LIMIT = 50
# A send that has not finished by then is treated as a timeout (a transient failure). The outcome is unknown,
# which is fine: the service looks for the message before it ever sends the story again.
SEND_TIMEOUT_SECONDS = 60.0

# Discord JSON error codes that mean "this channel cannot take posts as configured" rather than "this story".
_CHANNEL_CODES = {
    10003: "the channel no longer exists",
    50001: "the bot cannot see the channel (Missing Access)",
    50013: "the bot lacks a permission there (it needs View Channel, Send Messages, Embed Links)",
    50024: "this kind of channel cannot take alerts",
    40067: "the forum requires a tag on every post; allow untagged posts or use another channel",
    160005: "the thread is locked",
}


def _retry_after(exc: discord.HTTPException) -> float | None:
    response: Any = exc.response
    headers = getattr(response, "headers", None)
    if headers is not None:
        try:
            return float(headers.get("Retry-After", ""))
        except ValueError:
            return None
    return None


def delivery_failure(exc: BaseException) -> DeliveryFailed:
    """Classify a discord.py / network exception: channel fault (permanent), one bad story, or transient."""
    if isinstance(exc, discord.RateLimited):
        return DeliveryFailed(f"rate limited for {exc.retry_after:.0f} s", permanent=False, retry_after=exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        text = f"{exc.status} {exc.text or exc.response.reason}".strip()
        if exc.status == 429:
            return DeliveryFailed(f"rate limited ({text})", permanent=False, retry_after=_retry_after(exc))
        if exc.status >= 500:
            return DeliveryFailed(f"Discord error {text}", permanent=False)
        if exc.code in _CHANNEL_CODES:
            return DeliveryFailed(_CHANNEL_CODES[exc.code], permanent=True)
        if isinstance(exc, discord.NotFound):
            return DeliveryFailed(_CHANNEL_CODES[10003], permanent=True)
        if isinstance(exc, discord.Forbidden):
            return DeliveryFailed(f"the bot is not allowed to post there ({text})", permanent=True)
        # Any other 4xx is Discord refusing this particular message (e.g. 50035 Invalid Form Body).
        return DeliveryFailed(f"Discord rejected the post ({text})", permanent=True, story_only=True)
    if isinstance(exc, TimeoutError):
        return DeliveryFailed("timed out talking to Discord", permanent=False)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return DeliveryFailed(f"connection problem: {type(exc).__name__}", permanent=False)
    return DeliveryFailed(f"unexpected error: {type(exc).__name__}", permanent=False)


def edit_failure(exc: BaseException) -> EditFailed:
    """Classify a failed edit like a failed post: the message or channel gone (never retried), or transient."""
    if isinstance(exc, discord.HTTPException) and exc.code == 10008:
        return EditFailed("the message was deleted", gone=True)
    failed = delivery_failure(exc)
    return EditFailed(failed.reason, gone=failed.permanent, retry_after=failed.retry_after)


# Discord: "A thread has already been created for this message"; that thread has the message's id.
_THREAD_EXISTS = 160004
_GONE_CODES = {
    10003: "the thread or channel no longer exists",
    10008: "the message was deleted",
    50083: "the thread is archived and the bot cannot reopen it",
}


def thread_failure(exc: BaseException) -> ThreadFailed:
    """Classify a failed thread step like a failed post: the message, thread or channel gone or unusable for
    good (never retried), or transient."""
    if isinstance(exc, discord.HTTPException) and exc.code in _GONE_CODES:
        return ThreadFailed(_GONE_CODES[exc.code], gone=True)
    failed = delivery_failure(exc)
    return ThreadFailed(failed.reason, gone=failed.permanent, retry_after=failed.retry_after)


def _carries(message: discord.Message, story: StoryView) -> bool:
    """Whether a message is (one of our) posts of this story: its URL in an embed or the text."""
    urls = {u for u in (story.link_url, story.url, safe_http_url(story.link_url)) if u}
    for embed in message.embeds:
        if embed.url in urls:
            return True
    return any(url in message.content for url in urls)


class DiscordPoster:
    """Posts alerts with discord.py: a message in text/announcement channels, a new post in forums.

    With a `pacer`, every REST request it makes waits for its turn under the process's global budget (and a new
    message under its channel's), hottest story first; without one it sends as fast as discord.py lets it.
    """

    def __init__(
        self,
        client: discord.Client,
        *,
        history_limit: int = HISTORY_LIMIT,
        timeout: float = SEND_TIMEOUT_SECONDS,
        pacer: RestPacer | None = None,
    ) -> None:
        self._client = client
        self._history_limit = history_limit
        self._timeout = timeout
        self._pacer = pacer

    async def _turn(
        self, channel_id: int, story: StoryView | None = None, *, message: bool = False, heat: int | None = None
    ) -> None:
        if self._pacer is not None:
            if story is not None:
                heat = story.heat
            await self._pacer.acquire(channel_id, priority=heat or 0, message=message)

    async def _channel(self, channel_id: int) -> Any:
        channel = self._client.get_channel(channel_id)
        if channel is None:
            await self._turn(channel_id)
            try:
                channel = await self._client.fetch_channel(channel_id)
            except (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise delivery_failure(exc) from exc
        return channel

    async def send(
        self, channel_id: int, story: StoryView, *, ping_roles: Sequence[int] = (), create_tags: bool = False
    ) -> int:
        """Post the story's embed (forums: a post titled by the story, with the forum's tags of its topics;
        `create_tags`: missing ones are added to the forum first); return the message id. `ping_roles` are
        mentioned, and allowed_mentions lists exactly them: nobody else is ever pinged."""
        channel = await self._channel(channel_id)
        embed = story_embed(story)
        content, allowed = role_mentions(ping_roles)
        tags: list[discord.ForumTag] = []
        if isinstance(channel, discord.ForumChannel):
            channel, tags = await self._forum_tags(channel, story, create=create_tags)
        await self._turn(channel_id, story, message=True)
        try:
            async with asyncio.timeout(self._timeout):
                if isinstance(channel, discord.ForumChannel):
                    created = await channel.create_thread(
                        name=forum_title(story),
                        content=content,
                        embed=embed,
                        allowed_mentions=allowed,
                        applied_tags=tags,
                    )
                    return created.message.id
                if isinstance(channel, discord.TextChannel | discord.Thread):
                    message = await channel.send(content=content, embed=embed, allowed_mentions=allowed)
                    return message.id
        except (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise delivery_failure(exc) from exc
        raise DeliveryFailed(_CHANNEL_CODES[50024], permanent=True)

    async def _forum_tags(
        self, forum: discord.ForumChannel, story: StoryView, *, create: bool
    ) -> tuple[discord.ForumChannel, list[discord.ForumTag]]:
        """The forum (as it is after any tags were added) and the tags a post of `story` gets there."""
        me = forum.guild.me
        # A moderated tag can only be applied by members with Manage Threads.
        moderator = me is not None and forum.permissions_for(me).manage_threads
        usable = [t for t in forum.available_tags if moderator or not t.moderated]
        plan = plan_tags([t.name for t in usable], story.topics, create=create, taken=len(forum.available_tags))
        if plan.skipped:
            log.warning(tags_skipped_text(forum.id, plan.skipped, FORUM_TAGS_LIMIT))
        if plan.create:
            await self._turn(forum.id, story)
            try:
                async with asyncio.timeout(self._timeout):
                    edited = await forum.edit(
                        available_tags=[*forum.available_tags, *(discord.ForumTag(name=n) for n in plan.create)]
                    )
                if isinstance(edited, discord.ForumChannel):
                    forum = edited
                    usable = [t for t in forum.available_tags if moderator or not t.moderated]
            except (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError) as exc:
                # The post goes out with the tags the forum has; creating them is tried again with the next post.
                log.warning(
                    "forum %d: could not create tags %s: %s",
                    forum.id,
                    ", ".join(plan.create),
                    delivery_failure(exc).reason,
                )
        by_name = {t.name.casefold(): t for t in usable}
        wanted = [by_name[n.casefold()] for n in (*plan.apply, *plan.create) if n.casefold() in by_name]
        return forum, list(dict.fromkeys(wanted))[:APPLIED_TAGS_LIMIT]

    async def start_thread(self, channel_id: int, message_id: int, name: str, *, heat: int | None) -> int:
        """Start a public thread on our message (POST /channels/{channel}/messages/{message}/threads)."""
        try:
            channel = await self._channel(channel_id)
        except DeliveryFailed as exc:
            raise ThreadFailed(exc.reason, gone=exc.permanent, retry_after=exc.retry_after) from exc
        if not isinstance(channel, discord.TextChannel):
            raise ThreadFailed(_CHANNEL_CODES[50024], gone=True)
        await self._turn(channel_id, heat=heat)
        try:
            async with asyncio.timeout(self._timeout):
                thread = await channel.get_partial_message(message_id).create_thread(
                    name=name, auto_archive_duration=AUTO_ARCHIVE_MINUTES
                )
                return thread.id
        except discord.HTTPException as exc:
            if exc.code == _THREAD_EXISTS:
                # Started by an attempt whose answer was lost (a crash, a timeout): it is the one we want.
                return message_id
            raise thread_failure(exc) from exc
        except (discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise thread_failure(exc) from exc

    async def post_in_thread(self, thread_id: int, text: str, *, heat: int | None) -> int:
        """Send a plain message (no mentions) in a thread; its id."""
        thread = self._client.get_partial_messageable(thread_id)
        await self._turn(thread_id, message=True, heat=heat)
        try:
            async with asyncio.timeout(self._timeout):
                message = await thread.send(text, allowed_mentions=NO_MENTIONS)
                return message.id
        except (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise thread_failure(exc) from exc

    async def find_in_thread(self, thread_id: int, marker: str) -> int | None:
        """Our recent message in the thread whose text contains `marker`."""
        me = self._client.user
        if me is None or not marker:
            return None
        thread = self._client.get_partial_messageable(thread_id)
        await self._turn(thread_id)
        try:
            async with asyncio.timeout(self._timeout):
                async for message in thread.history(limit=self._history_limit):
                    if message.author.id == me.id and marker in message.content:
                        return message.id
        except (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise thread_failure(exc) from exc
        return None

    async def publish(self, channel_id: int, message_id: int) -> None:
        """Crosspost the message to the announcement channel's followers."""
        channel = await self._channel(channel_id)
        if not isinstance(channel, discord.TextChannel) or not channel.is_news():
            raise DeliveryFailed("not an announcement channel any more", permanent=True)
        await self._turn(channel_id)
        try:
            async with asyncio.timeout(self._timeout):
                await channel.get_partial_message(message_id).publish()
        except (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise delivery_failure(exc) from exc

    async def edit(self, channel_id: int, message_id: int, post: LivingPost) -> None:
        """Rewrite one of our alert messages (living posts); `channel_id` is a forum post's thread."""
        message = self._client.get_partial_messageable(channel_id).get_partial_message(message_id)
        await self._turn(channel_id)  # an edit spends the global budget too (its own route, not the send bucket)
        try:
            async with asyncio.timeout(self._timeout):
                await message.edit(embed=living_embed(post), allowed_mentions=NO_MENTIONS)
        except (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise edit_failure(exc) from exc

    async def find_recent(self, channel_id: int, story: StoryView) -> int | None:
        """Our recent message (or forum post) carrying this story, if the channel has one."""
        me = self._client.user
        if me is None:
            return None
        channel = await self._channel(channel_id)
        try:
            async with asyncio.timeout(self._timeout):
                if isinstance(channel, discord.ForumChannel):
                    return await self._find_forum_post(channel, story, me.id)
                if isinstance(channel, discord.TextChannel | discord.Thread):
                    # One page: the history limit is at most what Discord returns per request (100).
                    await self._turn(channel_id, story)
                    async for message in channel.history(limit=self._history_limit):
                        if message.author.id == me.id and _carries(message, story):
                            return message.id
        except (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise delivery_failure(exc) from exc
        return None

    async def send_summary(
        self, channel_id: int, kind: SummaryKind, stories: Sequence[StoryView]
    ) -> list[tuple[int, tuple[int, ...]]]:
        """Post several stories as content text (a forum: one post, the rest as replies in it)."""
        channel = await self._channel(channel_id)
        sent: list[tuple[int, tuple[int, ...]]] = []
        try:
            for text, carried in summary_messages(kind, stories):
                async with asyncio.timeout(self._timeout):
                    if isinstance(channel, discord.ForumChannel):
                        created = await channel.create_thread(
                            name=SUMMARY_TITLES[kind], content=text, allowed_mentions=NO_MENTIONS
                        )
                        channel = created.thread
                        sent.append((created.message.id, carried))
                    elif isinstance(channel, discord.TextChannel | discord.Thread):
                        message = await channel.send(text, allowed_mentions=NO_MENTIONS)
                        sent.append((message.id, carried))
                    else:
                        raise DeliveryFailed(_CHANNEL_CODES[50024], permanent=True)
        except (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise delivery_failure(exc) from exc
        return sent

    async def _find_forum_post(self, forum: discord.ForumChannel, story: StoryView, me: int) -> int | None:
        # A forum has no message history; its posts are threads. Only threads with the story's title can be
        # ours, so the starter message is fetched for those alone.
        title = forum_title(story)
        candidates = [t for t in forum.threads if t.name == title and t.owner_id == me]
        await self._turn(forum.id, story)
        async for thread in forum.archived_threads(limit=self._history_limit):
            if thread.name == title and thread.owner_id == me:
                candidates.append(thread)
        for thread in candidates:
            await self._turn(forum.id, story)
            try:
                starter = await thread.fetch_message(thread.id)
            except discord.NotFound:
                continue
            if _carries(starter, story):
                return starter.id
        return None


class ConsolePoster:
    """The console playground's channels: an alert is printed as the story's text."""

    def __init__(self, write: Callable[[str], None], *, label: Callable[[int], str] | None = None) -> None:
        self._write = write
        self._label = label if label is not None else _console_label
        self._ids = itertools.count(1)
        self._posted: dict[tuple[int, str], int] = {}

    async def send(
        self, channel_id: int, story: StoryView, *, ping_roles: Sequence[int] = (), create_tags: bool = False
    ) -> int:
        """Print the alert; returns a console message number (the console has no roles to ping, nor tags)."""
        message_id = next(self._ids)
        self._write(alert_printed(self._label(channel_id), story))
        self._posted[(channel_id, story.url)] = message_id
        return message_id

    async def publish(self, channel_id: int, message_id: int) -> None:
        """Console channels have no followers."""

    async def edit(self, channel_id: int, message_id: int, post: LivingPost) -> None:
        """Print the alert again as it reads now (a terminal cannot rewrite what it printed)."""
        self._write(alert_reprinted(self._label(channel_id), post))

    async def send_summary(
        self, channel_id: int, kind: SummaryKind, stories: Sequence[StoryView]
    ) -> list[tuple[int, tuple[int, ...]]]:
        """Print several stories as one block."""
        message_id = next(self._ids)
        self._write(summary_printed(self._label(channel_id), kind, stories))
        for story in stories:
            self._posted[(channel_id, story.url)] = message_id
        return [(message_id, tuple(s.id for s in stories))]

    async def find_recent(self, channel_id: int, story: StoryView) -> int | None:
        """What this session printed (a restarted console has no scroll-back to search)."""
        return self._posted.get((channel_id, story.url))


def _console_label(channel_id: int) -> str:
    return "#console" if channel_id == CONSOLE_CHANNEL_ID else f"channel {channel_id}"


# How console text names what Discord mentions: the playground's one channel is #console.
CONSOLE_NAMES = Names(channel=_console_label)


# ----- console playground: /alerts at the prompt --------------------------------------------------------------

_CONSOLE_USAGE = (
    "/alerts add [topic] [min_heat:N|topN%] [min_quality:N] [backfill:N] [dedupe:true|false] | list"
    " | remove [topic] | pause | resume | preview [topic] [backfill:N]"
    " | quiet start:HH:MM end:HH:MM [timezone:Area/City] [breaking:N] | quiet off"
)


def _flag(args: ConsoleArgs, key: str) -> bool | None:
    raw = args.named.get(key)
    if raw is None or not raw.strip():
        return None
    value = raw.strip().casefold()
    if value in ("true", "yes", "on"):
        return True
    if value in ("false", "no", "off"):
        return False
    raise InvalidArgument(f"{key} must be true or false, got “{truncate(clean_text(raw), 20)}”.")


async def _console_quiet(alerts: AlertService, args: ConsoleArgs) -> Reply:
    if [w.casefold() for w in args.positional[1:]] == ["off"]:
        return alerts_text.quiet_off(await alerts.quiet_off(CONSOLE_GUILD_ID, CONSOLE_CHANNEL_ID), CONSOLE_CHANNEL_ID)
    start, end = args.named.get("start"), args.named.get("end")
    if not start or not end:
        raise InvalidArgument(
            "Usage: /alerts quiet start:22:00 end:07:00 [timezone:Europe/Berlin] [breaking:150] or /alerts quiet off"
        )
    window, _ = await alerts.set_quiet(
        guild_id=CONSOLE_GUILD_ID,
        channel_id=CONSOLE_CHANNEL_ID,
        start=start,
        end=end,
        timezone=args.named.get("timezone") or "UTC",
        breaking=args.whole_number("breaking"),
    )
    return alerts_text.quiet_set(window, CONSOLE_CHANNEL_ID, alerts.max_posts_per_tick)


def console_commands(services: Any) -> Iterable[ConsoleCommand]:
    """The playground's /alerts command: the same AlertService, on the console channel (bot.console hook)."""
    from bot.console import ConsoleCommand

    alerts: AlertService = services.alerts

    async def handle(session: ConsoleSession, args: ConsoleArgs) -> None:
        action = args.positional[0].casefold() if args.positional else "list"
        topic = " ".join(args.positional[1:]) or args.named.get("topic") or None
        where: dict[str, Any] = {"guild_id": CONSOLE_GUILD_ID, "channel_id": CONSOLE_CHANNEL_ID}
        if action == "add":
            result = await alerts.add_subscription(
                **where,
                channel_kind="console",
                topic=topic,
                min_heat=args.named.get("min_heat") or None,
                min_quality=args.whole_number("min_quality"),
                backfill=args.whole_number("backfill") or 0,
                dedupe=_flag(args, "dedupe"),
            )
            session.write(alerts_text.added(result, CONSOLE_CHANNEL_ID).plain(CONSOLE_NAMES))
        elif action == "list":
            listing = await alerts.list_subscriptions(CONSOLE_GUILD_ID)
            quiet = await alerts.quiet_hours(CONSOLE_GUILD_ID)
            session.write(alerts_text.listing(listing, quiet).plain(CONSOLE_NAMES))
        elif action == "remove":
            removed = await alerts.remove_subscription(**where, topic=topic)
            session.write(alerts_text.removed(removed.removed, removed.topic, CONSOLE_CHANNEL_ID).plain(CONSOLE_NAMES))
        elif action in ("pause", "resume"):
            pausing = action == "pause"
            change = alerts.pause if pausing else alerts.resume
            outcome = await change(CONSOLE_GUILD_ID, CONSOLE_CHANNEL_ID)
            session.write(alerts_text.paused(outcome, CONSOLE_CHANNEL_ID, pausing=pausing).plain(CONSOLE_NAMES))
        elif action == "preview":
            backfill = args.whole_number("backfill") or 0
            queue = await alerts.preview(**where, topic=topic, backfill=backfill)
            shown = alerts_text.preview(queue, CONSOLE_CHANNEL_ID, alerts.max_posts_per_tick)
            session.write(shown.plain(CONSOLE_NAMES))
        elif action == "quiet":
            session.write((await _console_quiet(alerts, args)).plain(CONSOLE_NAMES))
        else:
            raise InvalidArgument(
                f"Unknown /alerts action “{truncate(clean_text(action), 20)}”. Usage: {_CONSOLE_USAGE}"
            )

    async def why(session: ConsoleSession, args: ConsoleArgs) -> None:
        story = args.named.get("story") or " ".join(args.positional)
        explanation = await services.why.explain(guild_id=CONSOLE_GUILD_ID, channel_id=CONSOLE_CHANNEL_ID, story=story)
        session.write(why_text(explanation, names=CONSOLE_NAMES))

    return [
        ConsoleCommand(
            "/alerts",
            _CONSOLE_USAGE,
            "post new hot stories here",
            handle,
            ("topic", "min_heat", "min_quality", "backfill", "dedupe", "start", "end", "timezone", "breaking"),
        ),
        ConsoleCommand(
            "/why",
            "/why <id | link | title words> [channel:#console]",
            "why a story was or was not posted here: every gate in order",
            why,
            ("story",),
        ),
    ]
