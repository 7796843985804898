"""The end-to-end harness: the Discord stand-in, a real store (SQLite unless a location is given) and the real
HeatwaveBot, wired as in production.

`start_harness` is an async context manager (fixtures in tests/e2e/conftest.py wrap it; other test folders can
use it directly). It starts the stand-in with one guild, a #general text channel, an ordinary member and a
member with Manage Server; writes the fixed story set (tests/e2e/stories.py) into a news folder and ingests it
with the injected ManualClock; builds Services exactly as `heatwave run` does; points discord.py at the stand-in
through DISCORD_API_BASE / DISCORD_GATEWAY_URL (bot.discord_env); starts the bot as a task and waits for READY.
On exit everything is torn down in reverse and discord.py's endpoints are restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import discord_env
from bot.app import Services, build_services
from bot.client import EXTENSIONS, HeatwaveBot
from bot.clock import ManualClock
from bot.ingest.pipeline import IngestReport, ingest_paths
from bot.scheduling import IngestFunction
from bot.settings import Settings
from db import StoreLocation, parse_location
from tests.discord_standin import Channel, ChannelType, Guild, InteractionResult, Member, StandIn
from tests.e2e.stories import STORIES, Story, write_story, write_story_set

READY_TIMEOUT = 15.0


@dataclass
class Harness:
    """One running bot against the stand-in. Defaults: commands run in `channel` as `member`."""

    standin: StandIn
    settings: Settings
    services: Services
    bot: HeatwaveBot
    guild: Guild
    channel: Channel
    member: Member
    admin: Member
    news_dir: Path
    clock: ManualClock
    # Set to False in a test that provokes stand-in "problems" on purpose (teardown asserts none otherwise).
    check_clean: bool = True
    _bot_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _bot_options: dict[str, Any] = field(default_factory=dict, repr=False)

    async def invoke(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: Member | None = None,
        channel: Channel | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - passed through to the stand-in
        validate: bool = True,
    ) -> InteractionResult:
        """Run a slash command ("topic", "alerts add") and wait for the answer the user sees."""
        return await self.standin.invoke(
            self.guild.id,
            (channel or self.channel).id,
            (user or self.member).id,
            command,
            options or {},
            timeout=timeout,
            validate=validate,
        )

    async def autocomplete(
        self,
        command: str,
        options: Mapping[str, Any],
        *,
        focused: str | None = None,
        user: Member | None = None,
        channel: Channel | None = None,
    ) -> list[dict[str, Any]]:
        """Type into an option and return the bot's choices (the last option given is focused by default)."""
        return await self.standin.autocomplete(
            self.guild.id, (channel or self.channel).id, (user or self.member).id, command, options, focused=focused
        )

    async def click(
        self, result: InteractionResult, custom_id: str, *, user: Member | None = None
    ) -> InteractionResult:
        """Press a button on the message of `result` as `user` (default: the ordinary member)."""
        return await self.standin.click(result, custom_id, (user or self.member).id)

    def add_story(self, story: Story) -> Path:
        """Drop a story file into the news folder (picked up by the next rescan)."""
        return write_story(self.news_dir, story)

    async def rescan_now(self, *, kick_alerts: bool = False) -> IngestReport | None:
        """Run the rescan job body right away. Unlike the scheduled run it does not start an alert tick by
        itself unless `kick_alerts=True`, so a test decides when ticks happen (`await h.bot.jobs.post_alerts()`)."""
        report = await self.bot.jobs.rescan(kick_alerts=kick_alerts)
        await self.bot.jobs.wait_idle()
        return report

    async def restart(self, **bot_options: Any) -> HeatwaveBot:
        """Stop the bot and start a fresh one on the same database, stand-in and settings."""
        await self._stop_bot()
        options = {**self._bot_options, **bot_options}
        await self._start_bot(**options)
        return self.bot

    async def _start_bot(self, **bot_options: Any) -> None:
        self._bot_options = dict(bot_options)
        self.bot = HeatwaveBot(self.services, guild_ready_timeout=0.05, **bot_options)
        self._bot_task = asyncio.create_task(self.bot.start(self.standin.token), name="heatwave-bot")
        ready = asyncio.create_task(self.bot.wait_until_ready())
        done, _ = await asyncio.wait({self._bot_task, ready}, timeout=READY_TIMEOUT, return_when="FIRST_COMPLETED")
        if ready not in done:
            ready.cancel()
            if self._bot_task in done:
                self._bot_task.result()  # login/setup failure: raise it here, with its own traceback
            raise TimeoutError(f"the bot was not ready within {READY_TIMEOUT} s")
        # on_ready asks for an alert tick (recovery first); let it finish so tests start from a quiet bot.
        await asyncio.wait_for(self.bot.jobs.wait_idle(), timeout=READY_TIMEOUT)

    async def _stop_bot(self) -> None:
        await self.bot.close()
        if self._bot_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._bot_task, timeout=10)
            self._bot_task = None


@contextlib.asynccontextmanager
async def start_harness(
    tmp_path: Path,
    clock: ManualClock,
    *,
    location: StoreLocation | None = None,
    stories: Sequence[Story] = STORIES,
    token: str = "standin-token",
    guild_sync: bool = False,
    extensions: Sequence[str] = EXTENSIONS,
    ingest: IngestFunction | None = None,
    standin_options: Mapping[str, Any] | None = None,
    bot_options: Mapping[str, Any] | None = None,
    **settings_overrides: Any,
) -> AsyncIterator[Harness]:
    """Start stand-in + store + bot; see the module docstring. `settings_overrides` are Settings fields;
    `bot_options` go to HeatwaveBot (e.g. {"max_ratelimit_timeout": 30.0}); `standin_options` to StandIn."""
    news_dir = tmp_path / "news"
    news_dir.mkdir(parents=True, exist_ok=True)
    write_story_set(news_dir, stories)
    if location is None:
        location = parse_location(tmp_path / "heatwave.db")
    async with StandIn(token=token, heartbeat_interval=0.25, **dict(standin_options or {})) as standin:
        guild = standin.add_guild("Heatwave Test")
        channel = standin.add_channel(guild.id, "general", ChannelType.TEXT)
        member = standin.add_member(guild.id, "alice")
        admin = standin.add_member(guild.id, "morgan", manage_guild=True)
        settings = dataclasses.replace(
            Settings(),
            store=location,
            news_dir=news_dir,
            scan_seconds=3600,
            post_seconds=3600,
            discord_token=token,
            discord_api_base=standin.base_url,
            discord_gateway_url=standin.gateway_url,
            discord_guild_id=guild.id if guild_sync else None,
            # Tests decide when rescans happen (`rescan_now`); a test of the watcher passes watch=True.
            watch=False,
            data_dir=tmp_path / "data",
        )
        settings = dataclasses.replace(settings, **settings_overrides)
        await asyncio.to_thread(ingest_paths, [news_dir], location, clock=clock, max_file_bytes=settings.max_file_bytes)
        # Exactly what `heatwave run` does with DISCORD_API_BASE / DISCORD_GATEWAY_URL set.
        previous = discord_env.apply(settings.discord_api_base, settings.discord_gateway_url)
        services = await build_services(settings, store=location, clock=clock)
        harness = Harness(
            standin=standin,
            settings=settings,
            services=services,
            bot=None,  # type: ignore[arg-type]  # set by _start_bot just below
            guild=guild,
            channel=channel,
            member=member,
            admin=admin,
            news_dir=news_dir,
            clock=clock,
        )
        try:
            await harness._start_bot(extensions=extensions, ingest=ingest, **dict(bot_options or {}))
            yield harness
            if harness.check_clean:
                standin.assert_clean()
        finally:
            try:
                if harness.bot is not None:
                    await harness._stop_bot()
            finally:
                await services.close()
                discord_env.restore(previous)
