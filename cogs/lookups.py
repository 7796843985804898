"""/topic, /topics, /related, /search and /trending: a thin adapter over LookupService.

Replies are public (a lookup is usually asked to share stories with the channel); errors are ephemeral (the
bot's one error handler). Paging uses Previous/Next buttons that only the person who asked can press.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import HeatwaveError
from bot.render.limits import NO_MENTIONS
from bot.render.lists import (
    LookupReply,
    not_your_pages,
    related_reply,
    search_reply,
    topic_reply,
    topics_reply,
    trending_reply,
)
from bot.services.lookups import (
    MAX_HOURS,
    MIN_HOURS,
    Choice,
    LookupService,
    Page,
)

log = logging.getLogger(__name__)

# Buttons stop after this long without a press; the message stays, the buttons are removed.
PAGE_TIMEOUT_SECONDS = 180.0
# Discord allows 3 s for the first answer. Lookups take milliseconds, but if the database is busy (a big
# ingest) we defer before that deadline instead of failing.
_DEFER_AFTER_SECONDS = 1.5

T = TypeVar("T")


def to_app_choices(choices: list[Choice]) -> list[app_commands.Choice[str]]:
    """Service suggestions as Discord choices (the service already keeps both sides within 100 characters)."""
    return [app_commands.Choice(name=c.name[:100], value=c.value[:100]) for c in choices[:25]]


# ----- paging -------------------------------------------------------------------------------------------------


class Pager(discord.ui.View):
    """Previous / page x of y / Next under a lookup reply; only the person who asked can turn pages."""

    def __init__(
        self,
        owner: discord.abc.User,
        fetch: Callable[[int], Awaitable[LookupReply]],
        page: Page[Any],
        *,
        timeout: float = PAGE_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner.id
        self.owner_name = owner.display_name
        self.fetch = fetch
        self.number = page.number
        self.message: discord.Message | discord.InteractionMessage | discord.WebhookMessage | None = None
        self._sync(page)

    def _sync(self, page: Page[Any]) -> None:
        self.number = page.number
        self.previous_page.disabled = not page.has_previous
        self.next_page.disabled = not page.has_next
        self.indicator.label = page.label

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            not_your_pages(self.owner_name),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        return False

    async def _turn(self, interaction: discord.Interaction[Any], number: int) -> None:
        reply = await self.fetch(number)
        if reply.page is not None:
            self._sync(reply.page)
        await interaction.response.edit_message(
            content=reply.content or None, embeds=reply.embeds, view=self, allowed_mentions=NO_MENTIONS
        )

    @discord.ui.button(label="Previous", emoji="◀", style=discord.ButtonStyle.secondary)
    async def previous_page(self, interaction: discord.Interaction[Any], _button: discord.ui.Button[Pager]) -> None:
        await self._turn(interaction, self.number - 1)

    @discord.ui.button(label="page 1/1", style=discord.ButtonStyle.secondary, disabled=True)
    async def indicator(self, interaction: discord.Interaction[Any], _button: discord.ui.Button[Pager]) -> None:
        await interaction.response.defer()  # never enabled; here only to show the page number

    @discord.ui.button(label="Next", emoji="▶", style=discord.ButtonStyle.secondary)
    async def next_page(self, interaction: discord.Interaction[Any], _button: discord.ui.Button[Pager]) -> None:
        await self._turn(interaction, self.number + 1)

    async def on_timeout(self) -> None:
        # Remove the buttons so nobody presses a control that no longer answers.
        if self.message is None:
            return
        try:
            await self.message.edit(view=None, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.debug("could not remove paging buttons: %s", exc)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        # Button presses do not reach the command tree's error handler; answer the same way it does.
        if isinstance(error, HeatwaveError):
            text = error.user_message
        else:
            log.error("paging failed", exc_info=error)
            text = "Sorry, something went wrong turning the page; please run the command again."
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


# ----- the cog ------------------------------------------------------------------------------------------------


async def _answer(
    interaction: discord.Interaction[Any], build: Callable[[int], Awaitable[LookupReply]], *, page: int = 0
) -> None:
    """Run the lookup, defer only if it is slow, then send the reply (with a pager when it has pages)."""
    task = asyncio.ensure_future(build(page))
    done, _ = await asyncio.wait({task}, timeout=_DEFER_AFTER_SECONDS)
    if not done:
        await interaction.response.defer(thinking=True)
    reply = await task  # a HeatwaveError propagates to the bot's error handler (an ephemeral reply)
    view = Pager(interaction.user, build, reply.page) if reply.page is not None and reply.page.count > 1 else None
    kwargs: dict[str, Any] = {"embeds": reply.embeds, "allowed_mentions": NO_MENTIONS}
    if view is not None:
        kwargs["view"] = view
    view_message: discord.WebhookMessage | discord.InteractionMessage | None
    if interaction.response.is_done():
        view_message = await interaction.followup.send(reply.content or discord.utils.MISSING, wait=True, **kwargs)
    else:
        await interaction.response.send_message(reply.content or None, **kwargs)
        view_message = await interaction.original_response() if view is not None else None
    if view is not None:
        view.message = view_message


async def _suggest(kind: str, source: Coroutine[Any, Any, list[Choice]]) -> list[app_commands.Choice[str]]:
    # An autocomplete that raises shows the user "loading options failed"; an empty list is the better answer.
    try:
        return to_app_choices(await source)
    except Exception:
        log.exception("%s autocomplete failed", kind)
        return []


class LookupsCog(commands.Cog, name="Lookups"):
    """Finding stories: by topic, by words, by what is hot, and what is related."""

    def __init__(self, lookups: LookupService) -> None:
        self.lookups = lookups

    async def topic_autocomplete(
        self, _interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await _suggest("topic", self.lookups.topic_choices(current))

    async def story_autocomplete(
        self, _interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await _suggest("story", self.lookups.story_choices(current))

    @app_commands.command(name="topic")
    @app_commands.describe(name="The topic, e.g. AI (start typing to pick one)", sort="Hottest or newest first")
    @app_commands.choices(
        sort=[
            app_commands.Choice(name="hottest first", value="hot"),
            app_commands.Choice(name="newest first", value="new"),
        ]
    )
    @app_commands.autocomplete(name=topic_autocomplete)
    async def topic(
        self, interaction: discord.Interaction[Any], name: app_commands.Range[str, 1, 100], sort: str = "hot"
    ) -> None:
        """Stories on a topic, hottest first (or newest)."""

        async def build(page: int) -> LookupReply:
            return topic_reply(await self.lookups.topic(name, sort=sort, page=page))

        await _answer(interaction, build)

    @app_commands.command(name="topics")
    async def topics(self, interaction: discord.Interaction[Any]) -> None:
        """Every topic with its number of stories."""

        async def build(page: int) -> LookupReply:
            return topics_reply(await self.lookups.topics(page=page))

        await _answer(interaction, build)

    @app_commands.command(name="related")
    @app_commands.describe(story="Pick a story as you type its title, or paste its link")
    @app_commands.autocomplete(story=story_autocomplete)
    async def related(self, interaction: discord.Interaction[Any], story: app_commands.Range[str, 1, 300]) -> None:
        """A story with its related and similar stories."""

        async def build(_page: int) -> LookupReply:
            return related_reply(await self.lookups.related(story))

        await _answer(interaction, build)

    @app_commands.command(name="search")
    @app_commands.describe(query="Words to look for in titles and excerpts")
    async def search(self, interaction: discord.Interaction[Any], query: app_commands.Range[str, 1, 300]) -> None:
        """Search story titles and excerpts, most relevant first."""

        async def build(page: int) -> LookupReply:
            return search_reply(await self.lookups.search(query, page=page))

        await _answer(interaction, build)

    @app_commands.command(name="trending")
    @app_commands.describe(hours="How far back to look, in hours (1-720, default 24)", topic="Only this topic")
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def trending(
        self,
        interaction: discord.Interaction[Any],
        hours: app_commands.Range[int, MIN_HOURS, MAX_HOURS] = 24,
        topic: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """The hottest stories first seen recently."""

        async def build(page: int) -> LookupReply:
            return trending_reply(await self.lookups.trending(hours=hours, topic=topic, page=page))

        await _answer(interaction, build)


async def setup(bot: commands.Bot) -> None:
    """Add the lookup commands, using the LookupService the runtime built (`bot.services.lookups`)."""
    services = getattr(bot, "services", None)
    lookups = getattr(services, "lookups", None)
    if not isinstance(lookups, LookupService):
        raise RuntimeError("cogs.lookups needs bot.services.lookups (a LookupService); build the bot with bot.app")
    await bot.add_cog(LookupsCog(lookups))
