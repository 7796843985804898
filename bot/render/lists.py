"""The lookups — /topic, /topics, /search, /trending, /related — as Discord messages and as console text.

Each result becomes a `Listing` first (its heading, the stories or lines it shows, its page), written once; the
Discord form is message content plus embeds, the console form is the same heading and lines as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.render.limits import DESCRIPTION_LIMIT, MESSAGE_CONTENT_LIMIT, MESSAGE_EMBED_CHARS, truncate
from bot.render.message import Line, Link, Names, Quote, Strong, Untrusted, joined, markdown, plain
from bot.render.stories import provider_label, stories_embeds, story_embed, story_text
from bot.services.lookups import StorySort

if TYPE_CHECKING:
    from bot.services.lookups import (
        Page,
        RelatedResult,
        SearchResult,
        TopicResult,
        TopicsResult,
        TrendingResult,
    )
    from db.models import StoryView

_RULE = "─" * 60
_TITLE = 180  # a linked title's share of a /related line
_NAMES = Names()
_PLURALS = {"story": "stories", "match": "matches", "topic": "topics"}


@dataclass(frozen=True, slots=True)
class LookupReply:
    """What one lookup message shows on Discord; `page` is set when there is more than one page."""

    content: str
    embeds: list[discord.Embed]
    page: Page[Any] | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a lookup, before it is rendered: a heading, and either stories or lines (with a title)."""

    heading: Line
    page: Page[Any] | None = None
    stories: tuple[StoryView, ...] = ()
    title: str = ""
    lines: tuple[Line, ...] = ()
    footer: Line = ()


def count(total: int, capped: bool, noun: str) -> str:
    """`1 story`, `2 stories`, `100+ stories`."""
    word = noun if total == 1 and not capped else _PLURALS[noun]
    return f"{total}{'+' if capped else ''} {word}"


def _order(sort: StorySort) -> str:
    return "hottest first" if sort is StorySort.HOT else "newest first"


def topic_listing(result: TopicResult) -> Listing:
    """/topic: the stories on a topic."""
    page = result.page
    heading = joined(
        [
            ("Topic ", Strong(Untrusted(result.topic.name))),
            (_order(result.sort),),
            (count(page.total, page.capped, "story"),),
        ]
    )
    return Listing(heading, page, page.items)


def search_listing(result: SearchResult) -> Listing:
    """/search: stories matching the words, most relevant first."""
    page = result.page
    query = Quote(Untrusted(result.query, 100))
    lead: Line = (
        ("Search ", query) if result.matched_all else ("No story has every word of ", query, "; closest matches")
    )
    return Listing(
        joined([lead, ("most relevant first",), (count(page.total, page.capped, "match"),)]), page, page.items
    )


def trending_listing(result: TrendingResult) -> Listing:
    """/trending: the hottest stories first seen lately."""
    page = result.page
    where: Line = (" on ", Strong(Untrusted(result.topic.name))) if result.topic else ()
    window = "hour" if result.hours == 1 else f"{result.hours} hours"
    lead: Line = ("Trending", *where, f": first seen in the last {window}")
    return Listing(joined([lead, ("hottest first",), (count(page.total, page.capped, "story"),)]), page, page.items)


def topics_listing(result: TopicsResult) -> Listing:
    """/topics: every topic with its number of stories."""
    page = result.page
    lines = tuple(
        (f"{page.first_position + i}. ", Strong(Untrusted(t.name)), f" · {count(t.story_count, False, 'story')}")
        for i, t in enumerate(page.items)
    )
    footer: Line = (f"{count(page.total, False, 'topic')} · {page.label} · /topic name:<topic>",)
    return Listing((), page, title="Topics", lines=lines, footer=footer)


def _story_line(story: StoryView) -> Line:
    extra = [(Untrusted(p),) for p in (provider_label(story),) if p]
    return ("• ", Link(Untrusted(story.title, _TITLE), story.link_url), *joined([(), *extra, (f"story {story.id}",)]))


def related_listing(result: RelatedResult) -> Listing:
    """/related: the story, its own related list, stories listing it, other coverage, similar stories."""
    lines: list[Line] = []

    def section(title: str, items: list[Line]) -> None:
        if items:
            lines.extend([*([("",)] if lines else []), (Strong(title),), *items])

    own: list[Line] = []
    for entry in result.entries:
        provider = entry.provider_name or entry.provider_domain or ""
        link = entry.story.link_url if entry.story else entry.link_url
        extra: list[Line] = [(Untrusted(provider),)] if provider.strip() else []
        if entry.story:
            extra.append((f"our story {entry.story.id}",))
        own.append(("• ", Link(Untrusted(entry.title, _TITLE), link), *joined([(), *extra])))
    section("From the story's own related list", own)
    section("Also covered by", [_story_line(s) for s in result.also_covered])
    section("Stories that list this one as related", [_story_line(s) for s in result.linking])
    section("Similar stories", [_story_line(s) for s in result.similar])
    heading: Line = () if lines else ("No related or similar stories found for this one yet.",)
    return Listing(heading, None, (result.story,), title="Related stories", lines=tuple(lines))


# ----- Discord ------------------------------------------------------------------------------------------------


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


def discord_reply(listing: Listing) -> LookupReply:
    """The listing as one Discord message: content (heading · page), story embeds, or an embed of its lines."""
    parts = [markdown(listing.heading)] if listing.heading else []
    if listing.page is not None and listing.heading:
        parts.append(listing.page.label)
    content = truncate(" · ".join(p for p in parts if p), MESSAGE_CONTENT_LIMIT)
    if listing.title and listing.stories:  # a story with lines under it (/related)
        embeds = [story_embed(listing.stories[0], budget=MESSAGE_EMBED_CHARS // 2)]
        if listing.lines:
            room = MESSAGE_EMBED_CHARS - len(embeds[0]) - 100
            text = "\n".join(markdown(line) for line in listing.lines)
            embeds.append(
                discord.Embed(title=listing.title, description=_cut_lines(text, min(room, DESCRIPTION_LIMIT)))
            )
        return LookupReply(content, embeds, None)
    if listing.title:
        embed = discord.Embed(
            title=listing.title,
            description=truncate("\n".join(markdown(line) for line in listing.lines), DESCRIPTION_LIMIT),
        )
        if listing.footer:
            embed.set_footer(text=plain(listing.footer, _NAMES))
        return LookupReply(content, [embed], listing.page)
    return LookupReply(content, stories_embeds(listing.stories), listing.page)


# ----- console ------------------------------------------------------------------------------------------------


def _page_footer(page: Page[Any]) -> str:
    hints = [h for h, ok in (("prev", page.has_previous), ("next", page.has_next)) if ok]
    return page.label + (f" · type {' or '.join(hints)}" if hints else "")


def console_text(listing: Listing) -> str:
    """The listing as console text: the same heading and lines, stories as text blocks between rules."""
    blocks: list[str] = []
    if listing.title and listing.stories:  # /related: the story, then its lines
        blocks.append(story_text(listing.stories[0]))
        if listing.heading:
            blocks.append(plain(listing.heading, _NAMES))
        if listing.lines:
            blocks.append("\n".join([listing.title, *(plain(line, _NAMES) for line in listing.lines)]))
        return f"\n{_RULE}\n".join(blocks)
    if listing.title:
        tail = [plain(listing.footer, _NAMES)] if listing.footer else []
        return "\n".join([listing.title, *(plain(line, _NAMES) for line in listing.lines), *tail])
    body = f"\n{_RULE}\n".join(story_text(s) for s in listing.stories)
    footer = _page_footer(listing.page) if listing.page is not None else ""
    return f"{plain(listing.heading, _NAMES)}\n{_RULE}\n{body}\n{_RULE}\n{footer}"


# ----- each lookup, both ways ---------------------------------------------------------------------------------


def topic_reply(result: TopicResult) -> LookupReply:
    """/topic on Discord."""
    return discord_reply(topic_listing(result))


def topic_text(result: TopicResult) -> str:
    """/topic at the console."""
    return console_text(topic_listing(result))


def topics_reply(result: TopicsResult) -> LookupReply:
    """/topics on Discord."""
    return discord_reply(topics_listing(result))


def topics_text(result: TopicsResult) -> str:
    """/topics at the console."""
    return console_text(topics_listing(result))


def search_reply(result: SearchResult) -> LookupReply:
    """/search on Discord."""
    return discord_reply(search_listing(result))


def search_text(result: SearchResult) -> str:
    """/search at the console."""
    return console_text(search_listing(result))


def trending_reply(result: TrendingResult) -> LookupReply:
    """/trending on Discord."""
    return discord_reply(trending_listing(result))


def trending_text(result: TrendingResult) -> str:
    """/trending at the console."""
    return console_text(trending_listing(result))


def related_reply(result: RelatedResult) -> LookupReply:
    """/related on Discord."""
    return discord_reply(related_listing(result))


def related_text(result: RelatedResult) -> str:
    """/related at the console."""
    return console_text(related_listing(result))


def not_your_pages(owner_name: str) -> str:
    """The answer to someone pressing another member's paging buttons."""
    return markdown(("Only ", Untrusted(owner_name), " can page this list; run the command yourself to get your own."))
