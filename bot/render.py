"""Story -> Discord embed / console text: the one place that knows Discord's limits and escaping rules.

Story text comes from third-party files, so everything here assumes it is hostile: markdown is escaped,
mentions and invite links are defused, only http(s) URLs leave the bot, and every length limit is enforced
after escaping (escaping makes text longer).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
import regex

from bot.errors import InvalidArgument
from bot.schedules import load_zone
from bot.urls import safe_http_url
from db.models import StoryView

if TYPE_CHECKING:
    from bot.services.config_io import ImportPlan
    from bot.services.digests import Digest, DigestItem
    from bot.services.why import Explanation, MessageRef

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
    "digest_embed",
    "digest_text",
    "digest_title",
    "escape",
    "fit",
    "forum_title",
    "heat_label",
    "heat_rule",
    "provider_label",
    "stories_embeds",
    "story_embed",
    "story_text",
    "summary_messages",
    "summary_text",
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


# ----- digests ------------------------------------------------------------------------------------------------

_DIGEST_TITLES = {"hourly": "Hourly digest", "daily": "Daily digest", "weekly": "Weekly digest"}
# Room for the description's lines: Discord allows 4096; a little is kept back for the "and N more" line.
_DIGEST_DESCRIPTION = DESCRIPTION_LIMIT - 96


def digest_title(digest: Digest) -> str:
    """'Daily digest · AI' (the topic as published, cleaned); also a forum post's title."""
    topic = clean_text(digest.topic_name) if digest.topic_name else "every topic"
    return truncate(f"{_DIGEST_TITLES.get(digest.every, 'Digest')} · {topic}", FORUM_TITLE_LIMIT)


def _masked_link_url(url: str | None) -> str | None:
    # Inside [..](..) a bracket or parenthesis in the URL would end the link early; percent-encode them.
    if url is None:
        return None
    return url.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def _digest_line(number: int, item: DigestItem, budget: int) -> str:
    story = item.story
    meta = [f"heat {heat_label(story.heat)}"]
    provider = provider_label(story)
    if provider:
        meta.insert(0, fit(provider, 60))
    topics = ", ".join(clean_text(t) for t in story.topics if clean_text(t))
    if topics:
        meta.append(fit(topics, 80))
    if item.alerted:
        meta.append("already posted here as an alert")
    tail = " · ".join(meta)
    url = _masked_link_url(safe_http_url(story.link_url))
    # The title gets what is left of this line's share; a link too long for the share is left out, not cut.
    room = budget - len(tail) - len(f"{number}. [](<>) — ") - 2
    if url is not None and len(url) > room - 20:
        url = None
    title = fit(_title_text(story), max(20, room - (len(url) if url else 0)))
    shown = f"[{title}]({url})" if url else title
    return f"{number}. {shown} — {tail}"


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
    share = _DIGEST_DESCRIPTION // max(1, len(digest.items))
    lines: list[str] = []
    used = 0
    for number, item in enumerate(digest.items, start=1):
        line = _digest_line(number, item, share)
        if used + len(line) + 1 > _DIGEST_DESCRIPTION:
            lines.append(f"… and {len(digest.items) - number + 1} more")
            break
        lines.append(line)
        used += len(line) + 1
    embed = discord.Embed(
        title=truncate(digest_title(digest), TITLE_LIMIT),
        description="\n".join(lines),
        colour=_colour(max((i.story.heat or 0) for i in digest.items) if digest.items else None),
        timestamp=digest.due_at,
    )
    embed.set_footer(text=truncate(f"Stories first seen {_period(digest)} · {digest.marker}", 200))
    return embed


def digest_text(digest: Digest) -> str:
    """A digest as plain text for the console."""
    lines = [f"{digest_title(digest)} · {_period(digest)}"]
    for number, item in enumerate(digest.items, start=1):
        story = item.story
        meta = [m for m in (provider_label(story), f"heat {heat_label(story.heat)}") if m]
        topics = ", ".join(clean_text(t) for t in story.topics if clean_text(t))
        if topics:
            meta.append(truncate(topics, 80))
        if item.alerted:
            meta.append("already posted here as an alert")
        lines.append(f"  {number}. {truncate(_title_text(story), 200)} — {' · '.join(meta)}")
        link = safe_http_url(story.link_url)
        if link:
            lines.append(f"     {link}")
    if not digest.items:
        lines.append("  Nothing to report: no story reached the line in this period (no message is sent).")
    return "\n".join(lines)


# ----- summaries: several alerts in one message ---------------------------------------------------------------

_SUMMARY_HEADINGS = {
    "away": "🌙 **While you were away** · the hottest {n} held during quiet hours:",
    "paused": "⏸ **While alerts were paused** · the hottest {n} that turned hot meanwhile:",
    "rollup": "📚 **{n} more stories above your line:**",
}
_SUMMARY_TITLE = 120  # a summary line's title share; long titles are cut so more stories fit a message


def _summary_line(number: int, story: StoryView) -> str:
    meta = [f"heat {heat_label(story.heat)}"]
    provider = provider_label(story)
    if provider:
        meta.append(fit(provider, 40))
    title = fit(_title_text(story), _SUMMARY_TITLE)
    url = _masked_link_url(safe_http_url(story.link_url))
    # <...> keeps Discord from unfurling a preview card for every line; a URL too long to share a message with
    # its neighbours is left out rather than cut (a cut URL is a broken link).
    shown = f"[{title}](<{url}>)" if url and len(url) <= 400 else title
    return f"{number}. {shown} · {' · '.join(meta)}"


def summary_messages(kind: str, stories: Sequence[StoryView]) -> list[tuple[str, tuple[int, ...]]]:
    """One message (or, only when one cannot hold them all, several) of numbered, linked stories under a heading;
    each with the ids of the stories it carries. Content text, so every link is in the message itself (crash
    recovery finds a story by its URL there)."""
    heading = _SUMMARY_HEADINGS.get(kind, "{n} stories:").format(n=len(stories))
    messages: list[tuple[str, tuple[int, ...]]] = []
    lines = [heading]
    carried: list[int] = []
    for number, story in enumerate(stories, start=1):
        line = _summary_line(number, story)
        if len("\n".join([*lines, line])) > MESSAGE_CONTENT_LIMIT:
            messages.append(("\n".join(lines), tuple(carried)))
            lines, carried = [], []
        lines.append(line)
        carried.append(story.id)
    if carried:
        messages.append(("\n".join(lines), tuple(carried)))
    return messages


def summary_text(kind: str, stories: Sequence[StoryView]) -> str:
    """A summary as plain text for the console."""
    heading = _SUMMARY_HEADINGS.get(kind, "{n} stories:").format(n=len(stories)).replace("**", "")
    lines = [heading]
    for number, story in enumerate(stories, start=1):
        lines.append(f"  {number}. {truncate(_title_text(story), 200)} · heat {heat_label(story.heat)}")
        link = safe_http_url(story.link_url)
        if link:
            lines.append(f"     {link}")
    return "\n".join(lines)


def heat_rule(min_heat: int, percentile: int | None) -> str:
    """'heat ≥ 80', or for a topic-relative line 'heat ≥ 112 (top 10% of the last 30 days)': the rule and today's
    number."""
    if percentile is None:
        return f"heat ≥ {min_heat}"
    return f"heat ≥ {min_heat} (top {percentile}% of the last 30 days)"


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


def admin_log_source_failing(source: str, reason: str, failures: int) -> str:
    """A news source (a git repository) cannot be synced (told at most once an hour)."""
    return truncate(
        f"⚠ The news source {escape(source)} is failing ({failures} in a row): {escape(reason)}. Its stories so far "
        "stay; it is retried with backoff, and `heatwave stats` on the server shows its state.",
        MESSAGE_CONTENT_LIMIT,
    )


def admin_log_source_recovered(source: str) -> str:
    """A news source that was reported failing synced again."""
    return truncate(f"✅ The news source {escape(source)} is syncing again.", MESSAGE_CONTENT_LIMIT)


def admin_log_change(actor_id: int, what: str) -> str:
    """Someone changed the alerts (`what` is already rendered and escaped)."""
    return truncate(f"🛠 <@{actor_id}> {what}", MESSAGE_CONTENT_LIMIT)


# ----- /why (bot.services.why) ----------------------------------------------------------------------------------

_VERDICT_MARK = {"pass": "✓", "block": "✗", "info": "•"}


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    """The jump link of a Discord message."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _why_verdict(explanation: Explanation) -> str:
    blocked = explanation.blocked_by
    ledger = next((g for g in explanation.gates if g.name == "ledger"), None)
    if ledger is not None and ledger.verdict == "pass":
        return "posted"
    if blocked is None:
        return "nothing stops it"
    return f"stopped at {blocked.name}"


def why_reply(explanation: Explanation) -> str:
    """The /why message: one line per gate in the engine's order, escaped, a link to the posted alert."""
    story = explanation.story
    lines = [
        f"Why **{escape(truncate(clean_text(story.title), 150))}** (heat {heat_label(story.heat)}, quality "
        f"{heat_label(story.quality)}) in <#{explanation.channel_id}>: {_why_verdict(explanation)}."
    ]
    for gate in explanation.gates:
        who = f" [{escape(gate.subscription.topic_name or 'every topic')}]" if gate.subscription else ""
        line = f"{_VERDICT_MARK[gate.verdict]} **{gate.name}**{who}: {escape(clean_text(gate.text))}"
        if gate.message is not None:
            line += f" · [the message](<{message_link(*_ref(gate.message))}>)"
        lines.append(line)
    return truncate("\n".join(lines), MESSAGE_CONTENT_LIMIT)


def _ref(ref: MessageRef) -> tuple[int, int, int]:
    return ref.guild_id, ref.channel_id, ref.message_id


def why_text(explanation: Explanation, *, channel: str) -> str:
    """The same explanation as plain console text."""
    story = explanation.story
    lines = [
        f"Why “{truncate(clean_text(story.title), 150)}” (#{story.id}, heat {heat_label(story.heat)}, quality "
        f"{heat_label(story.quality)}) in {channel}: {_why_verdict(explanation)}."
    ]
    for gate in explanation.gates:
        who = f" [{clean_text(gate.subscription.topic_name or 'every topic')}]" if gate.subscription else ""
        line = f"  {_VERDICT_MARK[gate.verdict]} {gate.name}{who}: {clean_text(gate.text)}"
        if gate.message is not None:
            line += f" (message {gate.message.message_id})"
        lines.append(line)
    return "\n".join(lines)


# ----- configuration import (bot.services.config_io) -----------------------------------------------------------


def _rule(values: tuple[int, int | None], percentile: int | None = None) -> str:
    heat, quality = values
    line = f"top {percentile}% ({heat} today)" if percentile is not None else str(heat)
    return f"heat ≥ {line}" + (f", quality ≥ {quality}" if quality is not None else "")


def import_plan_text(
    plan: ImportPlan, channel: Callable[[int], str], *, applied: bool, markdown: bool, how_to_apply: str
) -> str:
    """What an import changes (dry run) or changed (applied); `channel` names a channel id (<#id> or #name)."""
    show = escape if markdown else clean_text
    lines = []
    for diff in plan.subscriptions:
        topic = show(diff.topic) if diff.topic else "every topic"
        where = f"{channel(diff.channel_id)} · {topic}"
        before = None if diff.before is None else _rule(diff.before, diff.percentile_before)
        after = None if diff.after is None else _rule(diff.after, diff.percentile_after)
        if diff.action == "add" and after is not None:
            lines.append(f"+ add {where} ({after})")
        elif diff.action == "change" and before is not None and after is not None:
            lines.append(f"~ change {where}: {before} → {after}")
        elif diff.action == "remove" and before is not None:
            lines.append(f"- remove {where} ({before})")
        elif after is not None:
            lines.append(f"= keep {where} ({after})")
    if plan.log_given and plan.log_before != plan.log_after:
        log_before = channel(plan.log_before) if plan.log_before is not None else "off"
        log_after = channel(plan.log_after) if plan.log_after is not None else "off"
        lines.append(f"~ alerts log: {log_before} → {log_after}")
    for setting in plan.settings:
        what = channel(setting.channel_id) if setting.channel_id is not None else show(setting.label or "")
        where = f"{setting.section} {what}"
        if setting.before is None and setting.after is not None:
            lines.append(f"+ {where}: {show(setting.after)}")
        elif setting.after is None and setting.before is not None:
            lines.append(f"- {where} ({show(setting.before)})")
        elif setting.before is not None and setting.after is not None:
            lines.append(f"~ {where}: {show(setting.before)} → {show(setting.after)}")
    count = plan.changes
    if count == 0:
        head = "The file matches this server's alerts: nothing to change."
    elif applied:
        head = f"Imported: {count} {'change' if count == 1 else 'changes'} made."
    else:
        head = (
            f"Dry run: {count} {'change' if count == 1 else 'changes'} would be made (nothing was changed yet; "
            f"{how_to_apply} to apply)."
        )
    return truncate("\n".join([head, *lines]), MESSAGE_CONTENT_LIMIT)
