"""/topic, /topics, /related, /search and /trending: a thin adapter over LookupService.

Replies are public (a lookup is usually asked to share stories with the channel); errors are ephemeral (the
bot's one error handler). Paging uses Previous/Next buttons that only the person who asked can press.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import HeatwaveError
from bot.render import (
    DESCRIPTION_LIMIT,
    MESSAGE_CONTENT_LIMIT,
    MESSAGE_EMBED_CHARS,
    NO_MENTIONS,
    clean_text,
    escape,
    fit,
    provider_label,
    stories_embeds,
    story_embed,
    truncate,
)
from bot.services.lookups import (
    MAX_HOURS,
    MIN_HOURS,
    Choice,
    LookupService,
    Page,
    RelatedResult,
    SearchResult,
    StorySort,
    TopicResult,
    TopicsResult,
    TrendingResult,
)
from bot.urls import safe_http_url
from db.models import StoryView

log = logging.getLogger(__name__)

# Buttons stop after this long without a press; the message stays, the buttons are removed.
PAGE_TIMEOUT_SECONDS = 180.0
# Discord allows 3 s for the first answer. Lookups take milliseconds, but if the database is busy (a big
# ingest) we defer before that deadline instead of failing.
_DEFER_AFTER_SECONDS = 1.5

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reply:
    """What one lookup message shows; `page` is set when there is more than one page."""

    content: str
    embeds: list[discord.Embed]
    page: Page[Any] | None = None


# ----- rendering results into messages ----------------------------------------------------------------------


def _content(*parts: str) -> str:
    return truncate(" · ".join(p for p in parts if p), MESSAGE_CONTENT_LIMIT)


_PLURALS = {"story": "stories", "match": "matches", "topic": "topics"}


def _count(total: int, capped: bool, noun: str) -> str:
    word = noun if total == 1 and not capped else _PLURALS[noun]
    return f"{total}{'+' if capped else ''} {word}"


def topic_reply(result: TopicResult) -> Reply:
    """The message for one page of /topic."""
    order = "hottest first" if result.sort is StorySort.HOT else "newest first"
    page = result.page
    content = _content(
        f"**{escape(result.topic.name)}**", order, _count(page.total, page.capped, "story"), page.label
    )
    return Reply(content, stories_embeds(page.items), page)


def search_reply(result: SearchResult) -> Reply:
    """The message for one page of /search."""
    page = result.page
    query = escape(truncate(clean_text(result.query), 100))
    lead = f"Search **{query}**" if result.matched_all else f"No story has every word of **{query}**; closest matches"
    content = _content(lead, "most relevant first", _count(page.total, page.capped, "match"), page.label)
    return Reply(content, stories_embeds(page.items), page)


def trending_reply(result: TrendingResult) -> Reply:
    """The message for one page of /trending."""
    page = result.page
    where = f" on **{escape(result.topic.name)}**" if result.topic else ""
    window = "hour" if result.hours == 1 else f"{result.hours} hours"
    content = _content(
        f"Trending{where}: first seen in the last {window}", "hottest first",
        _count(page.total, page.capped, "story"), page.label,
    )
    return Reply(content, stories_embeds(page.items), page)


def topics_reply(result: TopicsResult) -> Reply:
    """The message for one page of /topics: one embed listing names and story counts."""
    page = result.page
    lines = [
        f"{page.first_position + i}. **{escape(t.name)}** · {_count(t.story_count, False, 'story')}"
        for i, t in enumerate(page.items)
    ]
    embed = discord.Embed(title="Topics", description=truncate("\n".join(lines), DESCRIPTION_LIMIT))
    embed.set_footer(text=f"{_count(page.total, False, 'topic')} · {page.label} · /topic name:<topic>")
    return Reply("", [embed], page)


def _link_line(title: str, url: str | None, extra: str) -> str:
    # Parentheses would end a masked link early; percent-encoding keeps the URL the same for a browser.
    shown = fit(title, 180) or "Untitled"
    link = safe_http_url(url)
    head = f"[{shown}]({link.replace('(', '%28').replace(')', '%29')})" if link else shown
    return f"• {head}{' · ' + extra if extra else ''}"


def _story_line(story: StoryView) -> str:
    extra = [escape(provider_label(story) or ""), f"story {story.id}"]
    return _link_line(story.title, story.link_url, " · ".join(x for x in extra if x))


def related_reply(result: RelatedResult) -> Reply:
    """The /related message: the story itself, then its own related list, stories linking to it, similar ones."""
    sections: list[tuple[str, list[str]]] = []
    if result.entries:
        lines = []
        for entry in result.entries:
            ours = f"our story {entry.story.id}" if entry.story else ""
            provider = clean_text(entry.provider_name) or clean_text(entry.provider_domain)
            link = entry.story.link_url if entry.story else entry.link_url
            lines.append(_link_line(entry.title, link, " · ".join(x for x in (escape(provider), ours) if x)))
        sections.append(("From the story's own related list", lines))
    if result.also_covered:
        sections.append(("Also covered by", [_story_line(s) for s in result.also_covered]))
    if result.linking:
        sections.append(("Stories that list this one as related", [_story_line(s) for s in result.linking]))
    if result.similar:
        sections.append(("Similar stories", [_story_line(s) for s in result.similar]))
    embeds = [story_embed(result.story, budget=MESSAGE_EMBED_CHARS // 2)]
    if sections:
        room = MESSAGE_EMBED_CHARS - len(embeds[0]) - 100
        text = "\n\n".join(f"**{title}**\n" + "\n".join(lines) for title, lines in sections)
        related = discord.Embed(title="Related stories", description=_cut_lines(text, min(room, DESCRIPTION_LIMIT)))
        embeds.append(related)
        content = ""
    else:
        content = "No related or similar stories found for this one yet."
    return Reply(content, embeds, None)


def _cut_lines(text: str, limit: int) -> str:
    # Cutting mid-line could split a masked link and show raw markdown; drop whole lines instead.
    if len(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        if used + len(line) + 2 > limit:
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join([*kept, "…"])


def to_app_choices(choices: list[Choice]) -> list[app_commands.Choice[str]]:
    """Service suggestions as Discord choices (the service already keeps both sides within 100 characters)."""
    return [app_commands.Choice(name=c.name[:100], value=c.value[:100]) for c in choices[:25]]


# ----- paging -------------------------------------------------------------------------------------------------


class Pager(discord.ui.View):
    """Previous / page x of y / Next under a lookup reply; only the person who asked can turn pages."""

    def __init__(
        self,
        owner: discord.abc.User,
        fetch: Callable[[int], Awaitable[Reply]],
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
            f"Only {escape(self.owner_name)} can page this list; run the command yourself to get your own.",
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
    interaction: discord.Interaction[Any], build: Callable[[int], Awaitable[Reply]], *, page: int = 0
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

        async def build(page: int) -> Reply:
            return topic_reply(await self.lookups.topic(name, sort=sort, page=page))

        await _answer(interaction, build)

    @app_commands.command(name="topics")
    async def topics(self, interaction: discord.Interaction[Any]) -> None:
        """Every topic with its number of stories."""

        async def build(page: int) -> Reply:
            return topics_reply(await self.lookups.topics(page=page))

        await _answer(interaction, build)

    @app_commands.command(name="related")
    @app_commands.describe(story="Pick a story as you type its title, or paste its link")
    @app_commands.autocomplete(story=story_autocomplete)
    async def related(self, interaction: discord.Interaction[Any], story: app_commands.Range[str, 1, 300]) -> None:
        """A story with its related and similar stories."""

        async def build(_page: int) -> Reply:
            return related_reply(await self.lookups.related(story))

        await _answer(interaction, build)

    @app_commands.command(name="search")
    @app_commands.describe(query="Words to look for in titles and excerpts")
    async def search(self, interaction: discord.Interaction[Any], query: app_commands.Range[str, 1, 300]) -> None:
        """Search story titles and excerpts, most relevant first."""

        async def build(page: int) -> Reply:
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

        async def build(page: int) -> Reply:
            return trending_reply(await self.lookups.trending(hours=hours, topic=topic, page=page))

        await _answer(interaction, build)


async def setup(bot: commands.Bot) -> None:
    """Add the lookup commands, using the LookupService the runtime built (`bot.services.lookups`)."""
    services = getattr(bot, "services", None)
    lookups = getattr(services, "lookups", None)
    if not isinstance(lookups, LookupService):
        raise RuntimeError("cogs.lookups needs bot.services.lookups (a LookupService); build the bot with bot.app")
    await bot.add_cog(LookupsCog(lookups))
