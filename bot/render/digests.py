"""A digest as Discord shows it (one embed, a forum title) and as the console prints it, and the /digest replies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING

import discord

from bot.errors import InvalidArgument
from bot.render.alerts import heat_rule
from bot.render.limits import (
    DESCRIPTION_LIMIT,
    FORUM_TITLE_LIMIT,
    TITLE_LIMIT,
    clean_text,
    masked_link_url,
    truncate,
)
from bot.render.message import (
    ChannelRef,
    Code,
    Entry,
    Line,
    Link,
    Moment,
    Names,
    Reply,
    Span,
    Strong,
    Untrusted,
    joined,
    markdown,
    plain,
    reply,
)
from bot.render.stories import heat_colour, heat_label, provider_label, title_text
from bot.schedules import load_zone
from bot.services.digests import schedule_of

if TYPE_CHECKING:
    from bot.services.digests import Digest, DigestAddResult, DigestItem
    from db.models import DigestRecord
from bot.urls import safe_http_url

_DIGEST_TITLES = {"hourly": "Hourly digest", "daily": "Daily digest", "weekly": "Weekly digest"}
# Room for the description's lines: Discord allows 4096; a little is kept back for the "and N more" line.
_DIGEST_DESCRIPTION = DESCRIPTION_LIMIT - 96


def digest_title(digest: Digest) -> str:
    """'Daily digest · AI' (the topic as published, cleaned); also a forum post's title."""
    topic = clean_text(digest.topic_name) if digest.topic_name else "every topic"
    return truncate(f"{_DIGEST_TITLES.get(digest.every, 'Digest')} · {topic}", FORUM_TITLE_LIMIT)


def _digest_line(number: int, item: DigestItem, budget: int) -> Line:
    story = item.story
    meta: list[Line] = []
    provider = provider_label(story)
    if provider:
        meta.append((Untrusted(provider, 60),))
    meta.append((f"heat {heat_label(story.heat)}",))
    topics = ", ".join(clean_text(t) for t in story.topics if clean_text(t))
    if topics:
        meta.append((Untrusted(topics, 80),))
    if item.alerted:
        meta.append(("already posted here as an alert",))
    tail = joined(meta)
    url = safe_http_url(story.link_url)
    encoded = len(masked_link_url(url) or "")
    # The title gets what is left of this line's share; a link too long for the share is left out, not cut.
    room = budget - len(markdown(tail)) - len(f"{number}. [](<>) — ") - 2
    if encoded > room - 20:
        url, encoded = None, 0
    title = Untrusted(title_text(story), max(20, room - encoded))
    return (f"{number}. ", Link(title, url), " — ", *tail)


def _digest_lines(digest: Digest) -> list[Line]:
    share = _DIGEST_DESCRIPTION // max(1, len(digest.items))
    return [_digest_line(number, item, share) for number, item in enumerate(digest.items, start=1)]


def _period(digest: Digest) -> str:
    """The period a digest covers, in its own time zone: '26 Nov 09:00 – 27 Nov 09:00 Europe/Berlin'."""
    try:
        zone = load_zone(digest.timezone)
    except InvalidArgument:  # stored before the zone was withdrawn from tzdata: UTC says the truth too
        zone, name = UTC, "UTC"
    else:
        name = digest.timezone
    start, end = digest.covers_from.astimezone(zone), digest.due_at.astimezone(zone)
    return f"{start:%d %b %H:%M} – {end:%d %b %H:%M} {name}"


def digest_embed(digest: Digest) -> discord.Embed:
    """A digest as one embed within Discord's limits: numbered lines, each with the title linked (http(s)
    only), provider, heat and topics; the footer carries the digest's marker (crash recovery looks for it)."""
    lines: list[str] = []
    used = 0
    for number, shown in enumerate(_digest_lines(digest), start=1):
        line = markdown(shown)
        if used + len(line) + 1 > _DIGEST_DESCRIPTION:
            lines.append(f"… and {len(digest.items) - number + 1} more")
            break
        lines.append(line)
        used += len(line) + 1
    embed = discord.Embed(
        title=truncate(digest_title(digest), TITLE_LIMIT),
        description="\n".join(lines),
        colour=heat_colour(max((i.story.heat or 0) for i in digest.items) if digest.items else None),
        timestamp=digest.due_at,
    )
    embed.set_footer(text=truncate(f"Stories first seen {_period(digest)} · {digest.marker}", 200))
    return embed


def digest_text(digest: Digest) -> str:
    """A digest as plain text for the console."""
    lines = [f"{digest_title(digest)} · {_period(digest)}"]
    lines.extend(f"  {plain(line, Names())}" for line in _digest_lines(digest))
    if not digest.items:
        lines.append("  Nothing to report: no story reached the line in this period (no message is sent).")
    return "\n".join(lines)


# ----- the /digest replies ------------------------------------------------------------------------------------


def _topic(name: str | None) -> Span:
    return Strong(Untrusted(name) if name else "every topic")


def digest_entry(record: DigestRecord) -> Entry:
    """One /digest list entry: where, what, when, next and last digest; then the last error."""
    zone = record.timezone
    parts: list[Line] = [
        (ChannelRef(record.channel_id),),
        (_topic(record.topic_name),),
        (schedule_of(record).label(),),
        (f"top {record.top}",),
        (heat_rule(record.min_heat, record.heat_percentile),),
        ("next ", Moment(record.next_due_at, "f", zone)),
        ("last sent ", Moment(record.last_sent_at, "R", zone)),
    ]
    details: tuple[Line, ...] = ()
    if record.last_error:
        details = (("⚠ last error ", Moment(record.last_error_at, "R", zone), ": ", Untrusted(record.last_error)),)
    return Entry(joined(parts), details)


def digest_listing(records: Sequence[DigestRecord]) -> Reply:
    """/digest list."""
    if not records:
        return reply(("No digests in this server yet. Add one with ", Code("/digest add"), "."))
    return reply(entries=[digest_entry(r) for r in records])


def digest_added(result: DigestAddResult, channel_id: int) -> Reply:
    """/digest add: what the channel gets, when, and when the first one comes."""
    record = result.digest
    verb = "will get" if result.created else "now gets"
    return reply(
        (
            ChannelRef(channel_id),
            f" {verb} a digest of the {record.top} hottest stories on ",
            _topic(record.topic_name),
            f" with {heat_rule(record.min_heat, record.heat_percentile)}, {result.schedule.label()}. Next: ",
            Moment(record.next_due_at, "f", record.timezone),
            " (",
            Moment(record.next_due_at, "R", record.timezone),
            "). Nothing to report → no message.",
        )
    )


def digest_removed(count: int, topic: str | None, channel_id: int) -> Reply:
    """/digest remove."""
    what: Line = (" for ", Strong(Untrusted(topic))) if topic is not None else ()
    return reply((f"Removed {count} digest(s)", *what, " from ", ChannelRef(channel_id), "."))


def digest_preview(record: DigestRecord, digest: Digest, channel_id: int) -> Reply:
    """/digest preview's words (the digest itself follows: an embed, or its console text)."""
    if not digest.items:
        return reply(
            (
                "The next digest in ",
                ChannelRef(channel_id),
                " would have nothing to report yet (no message is sent"
                f" then): no story at heat ≥ {record.min_heat} first seen since ",
                Moment(record.covers_from, "f", record.timezone),
                ".",
            )
        )
    return reply(
        (
            "What the next digest in ",
            ChannelRef(channel_id),
            " would say now (due ",
            Moment(record.next_due_at, "f", record.timezone),
            "; nothing is sent):",
        )
    )


def digest_printed(where: str, digest: Digest) -> str:
    """A digest as the console prints it above the prompt."""
    return f"\n🗞 digest in {where}:\n{digest_text(digest)}"
