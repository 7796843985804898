"""How a living alert message looks: the story's embed (`bot.render.story_embed`) plus what changed since it
was posted — the heat now with a rising/cooling marker, when it was updated, a suppression notice, and the other
providers that covered the same event ("Also covered by"). Same escaping and limits as every other message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import discord

from bot.render import (
    FIELD_VALUE_LIMIT,
    MESSAGE_EMBED_CHARS,
    clean_text,
    escape,
    heat_label,
    provider_label,
    story_embed,
    story_text,
    truncate,
)
from bot.urls import safe_http_url
from db.models import StoryView

__all__ = ["ALSO_COVERED_SHOWN", "LivingPost", "also_covered_text", "heat_change", "living_embed", "living_text"]

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
    """"[Provider](link) · [Other](link) · +N more": who else reported the event (only http(s) links), whole
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
