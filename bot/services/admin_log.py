"""The admin log channel: problems and changes of a server's alerts, told in a channel its managers choose.

Problems (a channel failing, paused automatically) are told at most once an hour each, across restarts and
processes (the store keeps when each was last told); "recovered" is told only for a problem that was told. When
all is well nothing is posted. Without a log channel nothing is recorded or posted: `/alerts list` still shows
failures as before. No Discord types here: a `TextPoster` sends the rendered text.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

from bot.clock import Clock
from bot.render.admin_log import (
    admin_log_failing,
    admin_log_paused,
    admin_log_recovered,
    admin_log_source_failing,
    admin_log_source_recovered,
)
from db.interfaces import Store
from db.models import LogChannelRecord

log = logging.getLogger(__name__)

# "One message per problem per hour at most" (issue 11): a channel failing every tick must not flood the log.
PROBLEM_REPEAT = timedelta(hours=1)


class TextPoster(Protocol):
    """Sends a plain text message (no pings) to a channel; raises on failure."""

    async def post_text(self, channel_id: int, text: str) -> None: ...


def _failing(channel_id: int) -> str:
    return f"failing:{channel_id}"


def _paused(channel_id: int) -> str:
    return f"paused:{channel_id}"


def _source(source_key: str) -> str:
    return f"source:{source_key}"


class AdminLog:
    """Which channel of a guild is its log, and what gets told there. Also an AlertService listener."""

    def __init__(self, store: Store, clock: Clock, *, repeat_after: timedelta = PROBLEM_REPEAT) -> None:
        self._log = store.admin_log
        self._clock = clock
        self._repeat_after = repeat_after
        # Set by the front end that can post (HeatwaveBot); without one (the console), nothing is posted.
        self.poster: TextPoster | None = None

    async def current(self, guild_id: int) -> LogChannelRecord | None:
        """The guild's log channel, if one is set."""
        return await self._log.get(guild_id)

    async def set_channel(self, guild_id: int, channel_id: int, actor_id: int) -> LogChannelRecord:
        """Make `channel_id` the guild's log channel."""
        now = self._clock.now()
        await self._log.set(guild_id, channel_id, actor_id, now)
        log.info("admin log of guild %d: channel %d", guild_id, channel_id, extra={"guild": guild_id})
        return LogChannelRecord(guild_id, channel_id, actor_id, now)

    async def turn_off(self, guild_id: int) -> bool:
        """Stop the guild's log; returns whether one was set."""
        return await self._log.clear(guild_id)

    # --- what is told ---------------------------------------------------------------------------------------

    async def changed(self, guild_id: int, text: str) -> None:
        """A change someone made (rendered: who and what); told every time, never rate limited."""
        await self._post(guild_id, text)

    async def channel_failing(self, guild_id: int, channel_id: int, reason: str, failures: int, limit: int) -> None:
        """An alert channel refused a post for a reason of its own (deleted, missing permission)."""
        if await self._claim(guild_id, _failing(channel_id)):
            await self._post(guild_id, admin_log_failing(channel_id, reason, failures, limit))

    async def channel_auto_paused(self, guild_id: int, channel_id: int, reason: str) -> None:
        """An alert channel paused itself after repeated failures."""
        if await self._claim(guild_id, _paused(channel_id)):
            await self._post(guild_id, admin_log_paused(channel_id, reason))

    async def channel_delivered(self, guild_id: int, channel_id: int) -> None:
        """An alert channel took a post: tell "recovered" when a problem of it was told and is still open."""
        if await self._log.get(guild_id) is None:
            return
        resolved = await self._log.resolve_notices(
            guild_id, [_failing(channel_id), _paused(channel_id)], self._clock.now()
        )
        if resolved:
            await self._post(guild_id, admin_log_recovered(channel_id))

    async def source_failing(self, source_key: str, source_name: str, reason: str, failures: int) -> None:
        """A news source failed to sync: every server with a log hears of it (once an hour per server)."""
        for guild_id in await self._log.logged_guilds():
            if await self._claim(guild_id, _source(source_key)):
                await self._post(guild_id, admin_log_source_failing(source_name, reason, failures))

    async def source_synced(self, source_key: str, source_name: str) -> None:
        """A news source synced: "syncing again" wherever its failure was told."""
        for guild_id in await self._log.logged_guilds():
            if await self._log.resolve_notices(guild_id, [_source(source_key)], self._clock.now()):
                await self._post(guild_id, admin_log_source_recovered(source_name))

    async def _claim(self, guild_id: int, problem: str) -> bool:
        if await self._log.get(guild_id) is None:
            return False
        now = self._clock.now()
        return await self._log.claim_notice(guild_id, problem, now, now - self._repeat_after)

    async def _post(self, guild_id: int, text: str) -> None:
        target = await self._log.get(guild_id)
        if target is None or self.poster is None:
            return
        try:
            await self.poster.post_text(target.channel_id, text)
        except Exception as exc:
            # The log is a courtesy: its own failure must not stop alerts or commands. /alerts log says how to
            # fix it when set, and the bot's log keeps the reason.
            log.warning(
                "could not post to the admin log channel %d of guild %d: %s",
                target.channel_id,
                guild_id,
                exc,
                extra={"guild": guild_id, "channel": target.channel_id},
            )
