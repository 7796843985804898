"""Story -> Discord embed / console text: the one place that knows Discord's limits and escaping rules.

Story text comes from third-party files, so everything here assumes it is hostile: markdown is escaped,
mentions and invite links are defused, only http(s) URLs leave the bot, and every length limit is enforced
after escaping (escaping makes text longer).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

import discord
import regex

from bot.urls import safe_http_url
from db.models import StoryView

__all__ = [
    "AUTHOR_LIMIT",
    "DESCRIPTION_LIMIT",
    "EMBEDS_PER_MESSAGE",
    "FIELD_NAME_LIMIT",
    "FIELD_VALUE_LIMIT",
    "FOOTER_LIMIT",
    "FORUM_TITLE_LIMIT",
    "MESSAGE_CONTENT_LIMIT",
    "MESSAGE_EMBED_CHARS",
    "NO_MENTIONS",
    "TITLE_LIMIT",
    "clean_text",
    "escape",
    "fit",
    "forum_title",
    "heat_label",
    "provider_label",
    "stories_embeds",
    "story_embed",
    "story_text",
    "truncate",
]

# Discord's documented limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
MESSAGE_EMBED_CHARS = 6000  # title + description + field names/values + footer + author, across a message
EMBEDS_PER_MESSAGE = 10
MESSAGE_CONTENT_LIMIT = 2000
FORUM_TITLE_LIMIT = 100

# Story text must never ping anyone, whatever it contains: every send and edit passes this.
NO_MENTIONS = discord.AllowedMentions.none()

ELLIPSIS = "…"
_ZWSP = "\u200b"

_HOT = discord.Colour(0xE8431C)
_WARM = discord.Colour(0xF2A33A)
_COOL = discord.Colour(0x7A8691)

# Characters that start markdown anywhere in a line. `[` and `]` are escaped individually (not only as a
# whole `[..](..)`) because the URL inside a masked link is kept out of escaping, which splits the pattern.
_INLINE_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
# Block markdown only matters at the start of a line: headings / subtext, quotes, lists.
_LINE_START_MARKDOWN = re.compile(r"^([ \t]*)(?:([#>+-])|(\d+)\.)", re.MULTILINE)
_URL = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
_MENTION = re.compile(r"<(?=[@#]|/[\w-])")  # <@id> <@!id> <@&id> <#id> </command:id>
_EVERYONE = re.compile(r"@(?=(?:everyone|here)\b)", re.IGNORECASE)
# Discord turns invite links (even without a scheme) into join cards; a zero-width space after the slash
# keeps the text readable while the invite parser no longer matches it.
_INVITE = re.compile(r"((?:discord(?:app)?\.com/invite|discord\.(?:gg|io|me|li))/)", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_GRAPHEME = regex.compile(r"\X")

# Code points that continue the previous grapheme: cutting before them splits a character visually.
_JOINERS = {"\u200c", "\u200d", "\u034f"}


def clean_text(text: str | None) -> str:
    """Decode HTML entities, drop control characters and collapse whitespace to single spaces."""
    if not text:
        return ""
    decoded = html.unescape(text)
    # Control and format characters (terminal escapes, bidi overrides) are dropped; joiners and variation
    # selectors stay because emoji need them.
    kept = "".join(
        ch
        for ch in decoded
        if ch.isspace()
        or ch in _JOINERS
        or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
        or _is_emoji_tag(ch)
    )
    return _WHITESPACE.sub(" ", kept).strip()


def _is_emoji_tag(ch: str) -> bool:
    # Tag characters (U+E0020..U+E007F) spell subdivision flags such as England's.
    return 0xE0020 <= ord(ch) <= 0xE007F


def _safe_cut(text: str, index: int) -> int:
    """The largest cut position <= index that does not split a grapheme cluster (a flag, a family emoji, an
    accented letter): Unicode's segmentation rules (UAX #29) as the `regex` module implements them."""
    index = max(0, min(index, len(text)))
    cut = 0
    for cluster in _GRAPHEME.finditer(text):
        if cluster.end() > index:
            break
        cut = cluster.end()
    return cut


def truncate(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """`text` itself if it fits in `limit` characters, else cut on a grapheme boundary and end with "…"."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return ellipsis[:limit]
    cut = _safe_cut(text, limit - len(ellipsis))
    head = text[:cut].rstrip()
    # A dangling backslash would escape the ellipsis and show itself; drop it.
    while head.endswith("\\") and (len(head) - len(head.rstrip("\\"))) % 2 == 1:
        head = head[:-1].rstrip()
    return head + ellipsis


def _defuse(text: str) -> str:
    text = _MENTION.sub("<" + _ZWSP, text)
    text = _EVERYONE.sub("@" + _ZWSP, text)
    return _INVITE.sub(r"\1" + _ZWSP, text)


def escape(text: str) -> str:
    """Escape Discord markdown and neutralise mentions and invite links so `text` shows literally.

    Not `discord.utils.escape_markdown` alone: it escapes `_` inside bare URLs (which breaks the link)
    and only spots a masked link when the whole `[..](..)` is in one piece. Bare URLs are kept intact here,
    everything between them has every markdown character escaped.
    """
    pieces: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        pieces.append(_escape_plain(text[last : match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_escape_plain(text[last:]))
    return _defuse("".join(pieces))


def _escape_plain(text: str) -> str:
    text = _INLINE_MARKDOWN.sub(r"\\\1", text)
    return _LINE_START_MARKDOWN.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, marker, number = match.groups()
    # Discord only honours a backslash before punctuation, so a numbered list is defused at its dot.
    return f"{indent}\\{marker}" if marker else f"{indent}{number}\\."


def fit(text: str | None, limit: int) -> str:
    """Clean, escape and truncate story text so the escaped result is at most `limit` characters."""
    raw = clean_text(text)
    keep = limit
    # Escaping only adds characters, so cut the raw text (never the escaped one, which could leave half an
    # escape sequence behind) by the overflow until the escaped form fits; this converges in a few rounds.
    while keep > 0:
        escaped = escape(truncate(raw, keep))
        if len(escaped) <= limit:
            return escaped
        keep -= len(escaped) - limit
    return ""


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


def _colour(heat: int | None) -> discord.Colour:
    if heat is not None and heat >= 100:
        return _HOT
    if heat is not None and heat >= 70:
        return _WARM
    return _COOL


def _title_text(story: StoryView) -> str:
    title = clean_text(story.title) or "Untitled story"
    return f"▶ {title}" if story.kind == "video" else title


def story_embed(story: StoryView, *, budget: int = MESSAGE_EMBED_CHARS) -> discord.Embed:
    """One story as an embed within every Discord limit; `budget` caps its total characters (for lists)."""
    budget = max(200, min(budget, MESSAGE_EMBED_CHARS))
    embed = discord.Embed(
        title=fit(_title_text(story), min(TITLE_LIMIT, budget // 4)),
        url=safe_http_url(story.link_url),
        colour=_colour(story.heat),
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


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def story_text(story: StoryView) -> str:
    """The story as readable plain text for the console (control characters removed)."""
    lines = [f"#{story.id} {truncate(_title_text(story), 300)}"]
    meta = [m for m in (provider_label(story), _when(story.published_at)) if m]
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


# ----- the admin log channel (bot.services.admin_log) ---------------------------------------------------------


def admin_log_failing(channel_id: int, reason: str, failures: int, limit: int) -> str:
    """A channel cannot take alerts (told at most once an hour)."""
    return truncate(
        f"⚠ Alerts to <#{channel_id}> are failing: {escape(reason)} (failure {failures} of {limit}; the channel "
        f"pauses itself after {limit}). Give the bot's role what it lacks there, or `/alerts remove` a channel that is "
        "gone.",
        MESSAGE_CONTENT_LIMIT,
    )


def admin_log_paused(channel_id: int, reason: str) -> str:
    """A channel paused itself after repeated failures."""
    return truncate(
        f"⏸ Alerts to <#{channel_id}> paused automatically after repeated failures: {escape(reason)}. "
        f"Fix the cause, then `/alerts resume channel:` <#{channel_id}>.",
        MESSAGE_CONTENT_LIMIT,
    )


def admin_log_recovered(channel_id: int) -> str:
    """A channel that was reported failing took a post again."""
    return f"✅ Alerts to <#{channel_id}> are posting again."


def admin_log_change(actor_id: int, what: str) -> str:
    """Someone changed the alerts (`what` is already rendered and escaped)."""
    return truncate(f"🛠 <@{actor_id}> {what}", MESSAGE_CONTENT_LIMIT)
