"""Discord's limits and the rules for untrusted text: cleaning, escaping, truncation, mentions, links.

Story text comes from third-party files, so everything here assumes it is hostile: markdown is escaped,
mentions and invite links are defused, only http(s) URLs leave the bot, and every length limit is enforced
after escaping (escaping makes text longer).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence

import discord
import regex

from bot.urls import safe_http_url

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


def masked_link_url(url: str | None) -> str | None:
    """`url` made safe inside [..](..): a bracket or parenthesis in it would end the link early, so they are
    percent-encoded (a browser reads the same address)."""
    if url is None:
        return None
    return url.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def masked_link(title: str, url: str | None, *, embed_preview: bool = True) -> str:
    """`[title](url)` for an http(s) `url` (the title already escaped), else the title alone. Without
    `embed_preview` the URL is wrapped in <...> so Discord does not unfurl a card for it."""
    safe = masked_link_url(safe_http_url(url))
    if safe is None:
        return title
    return f"[{title}](<{safe}>)" if not embed_preview else f"[{title}]({safe})"


def role_mentions(role_ids: Sequence[int]) -> tuple[str | None, discord.AllowedMentions]:
    """Message content mentioning these roles, and allowed_mentions that lets exactly them ping (nobody else:
    not @everyone, no user, no role named in story text)."""
    if not role_ids:
        return None, NO_MENTIONS
    content = " ".join(f"<@&{int(r)}>" for r in role_ids)
    return content, discord.AllowedMentions(
        everyone=False, users=False, roles=[discord.Object(id=int(r)) for r in role_ids], replied_user=False
    )
