"""A message as plain data, rendered either as Discord markdown or as console text.

A reply is built once, as lines of spans: our own wording (plain `str`), untrusted text (`Untrusted`: escaped for
Discord, cleaned for the console), emphasis, commands, channel/role/user references, moments and links. The two
renderings only differ in how each span looks, so the Discord and console versions of a message say the same
thing. Our own wording must not contain markdown: Discord-only decoration is a span (`Strong`, `Code`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import discord

from bot.render.limits import MESSAGE_CONTENT_LIMIT, clean_text, escape, fit, masked_link, truncate
from bot.urls import safe_http_url


@dataclass(frozen=True, slots=True)
class Untrusted:
    """Text from a story, a member or Discord (names, titles, error reasons): shown literally, cut to `limit`
    characters (on Discord: after escaping)."""

    text: str
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Strong:
    """Emphasis: bold on Discord, unmarked at the console."""

    span: Span


@dataclass(frozen=True, slots=True)
class Quote:
    """Words someone typed, quoted back: bold on Discord, in “quotes” at the console."""

    span: Untrusted


@dataclass(frozen=True, slots=True)
class Code:
    """A command to type: `code` on Discord, as is at the console."""

    text: str


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel: a mention on Discord (it shows the channel's name), its name at the console."""

    id: int


@dataclass(frozen=True, slots=True)
class RoleRef:
    """A role: a mention on Discord (nobody is pinged: allowed_mentions is none), its id at the console."""

    id: int


@dataclass(frozen=True, slots=True)
class UserRef:
    """A member: a mention on Discord (not pinged), their id at the console."""

    id: int


@dataclass(frozen=True, slots=True)
class MessageRef:
    """One of our messages: a jump link on Discord, its number at the console (which has no links to jump to)."""

    guild_id: int
    channel_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class Moment:
    """A point in time: a Discord timestamp (each reader sees it in their own zone; "R" relative, "f" date and
    time), at the console the time in `zone` (UTC by default). None reads "never"."""

    at: datetime | None
    style: Literal["R", "f"] = "R"
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """A linked title: a masked link on Discord (http(s) only), the title and the address at the console.
    `card` lets Discord unfurl a preview of it (only message content unfurls; embeds never do)."""

    title: Untrusted
    url: str | None
    card: bool = True


Span = str | Untrusted | Strong | Quote | Code | ChannelRef | RoleRef | UserRef | MessageRef | Moment | Link
Line = tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a message, with detail lines shown indented under it."""

    line: Line
    details: tuple[Line, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    """A text reply: a heading and entries; what does not fit Discord's 2,000 characters is counted at the end."""

    heading: tuple[Line, ...] = ()
    entries: tuple[Entry, ...] = field(default=())

    def markdown(self, *, limit: int = MESSAGE_CONTENT_LIMIT) -> str:
        """The reply as Discord message content, within `limit` characters."""
        head = [markdown(line) for line in self.heading]
        blocks = ["\n".join([markdown(e.line), *("  " + markdown(d) for d in e.details)]) for e in self.entries]
        return fit_lines([*head, *blocks], limit=limit)

    def plain(self, names: Names) -> str:
        """The reply as console text: entries under a heading are indented."""
        indent = "  " if self.heading else ""
        lines = [plain(line, names) for line in self.heading]
        for entry in self.entries:
            lines.append(indent + plain(entry.line, names))
            lines.extend(f"{indent}  {plain(d, names)}" for d in entry.details)
        return "\n".join(lines)


def reply(*lines: Line, entries: Iterable[Entry] = ()) -> Reply:
    """A reply of these heading lines and entries."""
    return Reply(tuple(lines), tuple(entries))


@dataclass(frozen=True, slots=True)
class Names:
    """How the console names what Discord mentions."""

    channel: Callable[[int], str] = field(default=lambda channel_id: f"channel {channel_id}")


def _plain_moment(moment: Moment) -> str:
    if moment.at is None:
        return "never"
    zone = moment.zone or "UTC"
    try:
        local = moment.at.astimezone(ZoneInfo(zone))
    except (ValueError, KeyError):  # a zone withdrawn from tzdata since it was stored: UTC tells the truth too
        local, zone = moment.at.astimezone(UTC), "UTC"
    return f"{local:%Y-%m-%d %H:%M} {zone}"


def markdown(line: Line | Span) -> str:
    """A line (or one span) as Discord markdown: untrusted text escaped, mentions that ping nobody."""
    if isinstance(line, tuple):
        return "".join(markdown(span) for span in line)
    span = line
    if isinstance(span, str):
        return span
    if isinstance(span, Untrusted):
        # The limit holds for the escaped text (escaping makes it longer), as every Discord limit does.
        return fit(span.text, span.limit) if span.limit is not None else escape(clean_text(span.text))
    if isinstance(span, Strong | Quote):
        return f"**{markdown(span.span)}**"
    if isinstance(span, Code):
        return f"`{span.text}`"
    if isinstance(span, ChannelRef):
        return f"<#{span.id}>"
    if isinstance(span, RoleRef):
        return f"<@&{span.id}>"
    if isinstance(span, UserRef):
        return f"<@{span.id}>"
    if isinstance(span, MessageRef):
        return f"[the message](<https://discord.com/channels/{span.guild_id}/{span.channel_id}/{span.message_id}>)"
    if isinstance(span, Moment):
        return "never" if span.at is None else discord.utils.format_dt(span.at, span.style)
    return masked_link(markdown(span.title), span.url, embed_preview=span.card)


def plain(line: Line | Span, names: Names) -> str:
    """A line (or one span) as console text: control characters dropped, references by name."""
    if isinstance(line, tuple):
        return "".join(plain(span, names) for span in line)
    span = line
    if isinstance(span, str):
        return span
    if isinstance(span, Untrusted):
        text = clean_text(span.text)
        return truncate(text, span.limit) if span.limit is not None else text
    if isinstance(span, Strong):
        return plain(span.span, names)
    if isinstance(span, Quote):
        return f"“{plain(span.span, names)}”"
    if isinstance(span, Code):
        return span.text
    if isinstance(span, ChannelRef):
        return names.channel(span.id)
    if isinstance(span, RoleRef):
        return f"role {span.id}"
    if isinstance(span, UserRef):
        return f"member {span.id}"
    if isinstance(span, MessageRef):
        return f"message {span.message_id}"
    if isinstance(span, Moment):
        return _plain_moment(span)
    title, url = plain(span.title, names), safe_http_url(span.url)
    return f"{title} · {url}" if url else title


def joined(parts: Sequence[Line], separator: str = " · ") -> Line:
    """Parts of a line, separated."""
    out: list[Span] = []
    for index, part in enumerate(parts):
        if index:
            out.append(separator)
        out.extend(part)
    return tuple(out)


def fit_lines(lines: Sequence[str], *, limit: int = MESSAGE_CONTENT_LIMIT) -> str:
    """Join lines into one message, dropping the tail (and saying how many were left out) at `limit`. Whole lines
    only, so no markdown or link is cut in half; a first line too long on its own is cut (a message is never
    empty)."""
    room = limit - 40
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > room:
            if not kept:
                kept.append(truncate(line, room))
                index += 1
            if index < len(lines):
                kept.append(f"… and {len(lines) - index} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)
