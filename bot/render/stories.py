"""One story as Discord shows it (an embed, a forum title) and as the console prints it, and what a living alert
message adds on top: the heat now with a rising/cooling marker, when it was updated, a suppression notice, and
the other providers that covered the same event ("Also covered by")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import discord

from bot.render.limits import (
    AUTHOR_LIMIT,
    DESCRIPTION_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELD_VALUE_LIMIT,
    FORUM_TITLE_LIMIT,
    MESSAGE_EMBED_CHARS,
    TITLE_LIMIT,
    clean_text,
    escape,
    fit,
    truncate,
)
from bot.urls import safe_http_url
from db.models import StoryView

_HOT = discord.Colour(0xE8431C)
_WARM = discord.Colour(0xF2A33A)
_COOL = discord.Colour(0x7A8691)


def provider_label(story: StoryView) -> str | None:
    """Who published the story: the provider's name, or its domain when the name is missing."""
    name = clean_text(story.provider_name)
    return name or clean_text(story.provider_domain) or None


def heat_label(value: int | None) -> str:
    """Heat/quality for people: -1 is the publisher's "suppressed" sentinel, None means we were not told."""
    if value is None:
        return "unknown"
    if value < 0:
        return "suppressed"
    return str(value)


def heat_colour(heat: int | None) -> discord.Colour:
    if heat is not None and heat >= 100:
        return _HOT
    if heat is not None and heat >= 70:
        return _WARM
    return _COOL


def title_text(story: StoryView) -> str:
    title = clean_text(story.title) or "Untitled story"
    return f"▶ {title}" if story.kind == "video" else title


def story_embed(story: StoryView, *, budget: int = MESSAGE_EMBED_CHARS) -> discord.Embed:
    """One story as an embed within every Discord limit; `budget` caps its total characters (for lists)."""
    budget = max(200, min(budget, MESSAGE_EMBED_CHARS))
    embed = discord.Embed(
        title=fit(title_text(story), min(TITLE_LIMIT, budget // 4)),
        url=safe_http_url(story.link_url),
        colour=heat_colour(story.heat),
        timestamp=story.published_at,
    )

    provider = provider_label(story)
    if provider:
        # Author and footer text are shown literally by Discord (no markdown, no mentions): clean + cut only.
        embed.set_author(name=truncate(provider, min(AUTHOR_LIMIT, 100)))
    footer_bits = ["Video" if story.kind == "video" else "Article"]
    domain = clean_text(story.provider_domain)
    if domain and domain != provider:
        footer_bits.append(domain)
    footer_bits.append(f"story {story.id}")
    embed.set_footer(text=truncate(" · ".join(footer_bits), 200))

    thumbnail = safe_http_url(story.image_url)
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)

    topics = ", ".join(clean_text(t) for t in story.topics if clean_text(t))
    embed.add_field(name="Topics", value=fit(topics, min(FIELD_VALUE_LIMIT, budget // 5)) or "none", inline=True)
    embed.add_field(name="Heat", value=heat_label(story.heat), inline=True)
    embed.add_field(name="Quality", value=heat_label(story.quality), inline=True)

    remaining = budget - len(embed)
    embed.description = fit(story.excerpt, max(0, min(DESCRIPTION_LIMIT, remaining))) or None
    return embed


def stories_embeds(stories: Sequence[StoryView]) -> list[discord.Embed]:
    """Embeds for one page of stories, sized so they all fit in a single message (<= 10 stories)."""
    if len(stories) > EMBEDS_PER_MESSAGE:
        raise ValueError(f"a message holds at most {EMBEDS_PER_MESSAGE} embeds, got {len(stories)}")
    if not stories:
        return []
    # A small reserve keeps room for rounding; each embed gets an equal share of the message's 6000 characters.
    share = (MESSAGE_EMBED_CHARS - 50) // len(stories)
    return [story_embed(s, budget=share) for s in stories]


def forum_title(story: StoryView) -> str:
    """A forum post title for the story (Discord allows 100 characters; markdown is not rendered there)."""
    return truncate(clean_text(story.title) or "Untitled story", FORUM_TITLE_LIMIT)


def utc_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def story_text(story: StoryView) -> str:
    """The story as readable plain text for the console (control characters removed)."""
    lines = [f"#{story.id} {truncate(title_text(story), 300)}"]
    meta = [m for m in (provider_label(story), utc_time(story.published_at)) if m]
    meta.append(f"heat {heat_label(story.heat)}")
    meta.append(f"quality {heat_label(story.quality)}")
    lines.append("   " + " · ".join(meta))
    topics = ", ".join(clean_text(t) for t in story.topics if clean_text(t))
    if topics:
        lines.append(f"   topics: {truncate(topics, 300)}")
    excerpt = truncate(clean_text(story.excerpt), 400)
    if excerpt:
        lines.append(f"   {excerpt}")
    link = safe_http_url(story.link_url)
    if link:
        lines.append(f"   {link}")
    return "\n".join(lines)


# ----- living posts -------------------------------------------------------------------------------------------
# "Also covered by" names this many providers, then "+N more".
ALSO_COVERED_SHOWN = 5
# Room kept in the message's 6,000 embed characters for what living posts add to the story's embed.
_RESERVE = 1_400
_MORE_ROOM = " · +9999 more"
SUPPRESSED_NOTICE = "⚠ The publisher has since withdrawn this story (heat suppressed)."


@dataclass(frozen=True, slots=True)
class LivingPost:
    """What an alert message shows now."""

    story: StoryView
    previous_heat: int | None = None  # the heat the message showed before this edit (None: first version)
    updated_at: datetime | None = None  # when it was edited (None: as posted)
    also_covered: tuple[StoryView, ...] = ()  # in the order they came
    more: int = 0  # further coverage not named

    @classmethod
    def of(
        cls,
        story: StoryView,
        coverage: Sequence[StoryView],
        *,
        previous_heat: int | None = None,
        updated_at: datetime | None = None,
    ) -> LivingPost:
        shown = tuple(coverage[:ALSO_COVERED_SHOWN])
        return cls(story, previous_heat, updated_at, shown, max(0, len(coverage) - len(shown)))


def heat_change(previous: int | None, now: int | None) -> str:
    """ "▲ rising from 104", "▼ cooling from 120", or "" when there is nothing to compare."""
    if previous is None or now is None or previous < 0 or now < 0 or previous == now:
        return ""
    return f"▲ rising from {previous}" if now > previous else f"▼ cooling from {previous}"


def _suppressed(post: LivingPost) -> bool:
    return post.story.heat is not None and post.story.heat < 0


def also_covered_text(post: LivingPost, *, markdown: bool = True, limit: int = FIELD_VALUE_LIMIT) -> str:
    """ "[Provider](link) · [Other](link) · +N more": who else reported the event (only http(s) links), whole
    entries only, within `limit` characters (what does not fit is counted in "+N more")."""
    parts: list[str] = []
    more = post.more
    for index, story in enumerate(post.also_covered):
        name = truncate(provider_label(story) or "another source", 60)
        link = safe_http_url(story.link_url)
        if markdown:
            label = escape(name)
            part = f"[{label}]({link.replace('(', '%28').replace(')', '%29')})" if link else label
        else:
            part = f"{name} {link}" if link else name
        # Room is always kept for a " · +N more" tail, so whatever is cut can still be counted.
        if len(" · ".join([*parts, part])) + len(_MORE_ROOM) > limit:
            more += len(post.also_covered) - index
            break
        parts.append(part)
    if more:
        parts.append(f"+{more} more")
    return " · ".join(parts)


def living_embed(post: LivingPost) -> discord.Embed:
    """The story's embed with the living additions, within Discord's limits."""
    embed = story_embed(post.story, budget=MESSAGE_EMBED_CHARS - _RESERVE)
    heat = heat_label(post.story.heat)
    change = heat_change(post.previous_heat, post.story.heat)
    if change:
        heat = f"{heat} {change}"
    for index, field in enumerate(embed.fields):
        if field.name == "Heat":
            embed.set_field_at(index, name="Heat", value=heat, inline=True)
    if _suppressed(post):
        embed.description = f"{SUPPRESSED_NOTICE}\n{embed.description or ''}".strip()
    if post.updated_at is not None and embed.footer.text:
        embed.set_footer(text=f"{embed.footer.text} · updated {post.updated_at:%H:%M} UTC")
    covered = also_covered_text(post)
    if covered:
        embed.add_field(name="Also covered by", value=covered, inline=False)
    return embed


def living_text(post: LivingPost) -> str:
    """The console version of the same message."""
    lines = [story_text(post.story)]
    change = heat_change(post.previous_heat, post.story.heat)
    if change:
        lines.append(f"   heat {heat_label(post.story.heat)} {change}")
    if _suppressed(post):
        lines.append(f"   {SUPPRESSED_NOTICE}")
    covered = also_covered_text(post, markdown=False)
    if covered:
        lines.append(f"   also covered by: {clean_text(covered)}")
    if post.updated_at is not None:
        lines.append(f"   updated {post.updated_at:%H:%M} UTC")
    return "\n".join(lines)


def alert_printed(where: str, story: StoryView) -> str:
    """An alert as the console prints it above the prompt."""
    return f"\n🔥 alert in {where}:\n{story_text(story)}"


def alert_reprinted(where: str, post: LivingPost) -> str:
    """An edited alert as the console prints it again (a terminal cannot rewrite what it printed)."""
    return f"\n✏️ alert updated in {where}:\n{living_text(post)}"
