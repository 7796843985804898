"""Related-story threads and forum tags as Discord shows them: the thread's name, the related list and the
"also covered by" messages posted in it, and the names of forum tags made from topics.

Story text is untrusted: titles and providers are cleaned and escaped, links are http(s) only or left out, and
every message fits Discord's 2,000 characters (the poster sends them with allowed_mentions none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.render.limits import MESSAGE_CONTENT_LIMIT, clean_text, escape, truncate
from bot.render.message import ChannelRef, Entry
from bot.render.stories import forum_title
from bot.urls import safe_http_url
from db.models import ChannelKind, RelatedLink, StoryView, ThreadOptions

__all__ = [
    "RELATED_HEADING",
    "TAG_NAME_LIMIT",
    "coverage_marker",
    "coverage_message",
    "jump_url",
    "related_message",
    "tag_name",
    "tags_skipped_text",
    "thread_name",
    "threads_added_text",
    "threads_entries",
]

# The related list is the one message in a thread that starts with this; crash recovery looks for it.
RELATED_HEADING = "**Related stories**"
# Discord: a forum tag's name is 1-20 characters.
TAG_NAME_LIMIT = 20
_LINE_TITLE = 150  # a related line's share of the title; long titles are cut so more entries fit


def thread_name(story: StoryView) -> str:
    """The thread started on an alert message: the story's title, at most 100 characters, like a forum post."""
    return forum_title(story)


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """A link that opens a message in Discord (a forum post's message: its thread as the channel)."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _link(title: str, url: str | None) -> str:
    # <...> keeps Discord from unfurling a preview card for every line.
    return f"[{title}](<{url}>)" if url else title


def _related_line(link: RelatedLink) -> str:
    title = escape(truncate(clean_text(link.title) or "Untitled story", _LINE_TITLE))
    if link.jump_channel_id is not None and link.jump_message_id is not None:
        line = f"• {_link(title, jump_url(link.guild_id, link.jump_channel_id, link.jump_message_id))} (our post)"
    else:
        line = f"• {_link(title, safe_http_url(link.url))}"
    provider = clean_text(link.provider_name)
    return line + (f" — {escape(truncate(provider, 60))}" if provider else "")


def related_message(links: Sequence[RelatedLink]) -> str | None:
    """The related list posted first in a story's thread (None: the story lists no related stories)."""
    if not links:
        return None
    lines = [RELATED_HEADING]
    used = len(RELATED_HEADING)
    room = MESSAGE_CONTENT_LIMIT - len("\n… and 100 more")
    for number, link in enumerate(links):
        line = _related_line(link)
        if used + 1 + len(line) > room:
            lines.append(f"… and {len(links) - number} more")
            break
        lines.append(line)
        used += 1 + len(line)
    return "\n".join(lines)


def coverage_marker(story: StoryView) -> str:
    """What identifies the "also covered" message of `story` in a thread: its link."""
    return safe_http_url(story.link_url) or safe_http_url(story.url) or f"story {story.id}"


def coverage_message(story: StoryView) -> str:
    """Later coverage of the thread's event: the provider and the story, linked."""
    provider = clean_text(story.provider_name) or clean_text(story.provider_domain) or "another provider"
    title = escape(truncate(clean_text(story.title) or "Untitled story", 300))
    url = safe_http_url(story.link_url) or safe_http_url(story.url)
    text = f"Also covered by **{escape(truncate(provider, 80))}**: {_link(title, url)}"
    if url is None:
        text += f" ({coverage_marker(story)})"
    return truncate(text, MESSAGE_CONTENT_LIMIT)


def tag_name(topic: str) -> str | None:
    """The forum tag made for a topic (None: the topic does not fit Discord's 20 characters)."""
    name = clean_text(topic)
    return name if 0 < len(name) <= TAG_NAME_LIMIT else None


def tags_skipped_text(forum_id: int, skipped: Sequence[str], limit: int) -> str:
    """Why some topics got no tag in a forum (logged, and said by /alerts add)."""
    names = ", ".join(clean_text(s) for s in skipped)
    return (
        f"forum {forum_id}: no tag created for {names} (the forum has Discord's {limit} tags, or a name is longer"
        f" than {TAG_NAME_LIMIT} characters)"
    )


def threads_added_text(options: ThreadOptions | None, kind: ChannelKind) -> str:
    """What /alerts add says about the channel's threads and tags ('' when neither is on)."""
    if options is None:
        return ""
    text = ""
    if options.threads:
        text += (
            " Each post gets its related stories, and later coverage of the same event, in its own thread."
            if kind == "forum"
            else " Each post gets a thread with its related stories, and later coverage of the same event goes there."
        )
    if kind == "forum":
        text += " Posts carry the forum's tags named like their topics"
        text += (
            f"; missing tags are created while the forum has fewer than 20 (topics over {TAG_NAME_LIMIT} characters"
            " get none)."
            if options.create_tags
            else "."
        )
    return text


def threads_entries(options: Mapping[int, ThreadOptions]) -> list[Entry]:
    """/alerts list: one entry per channel with threads or tag creation on."""
    entries = []
    for channel_id, option in options.items():
        parts = [
            p for p, on in (("related-story threads", option.threads), ("creates forum tags", option.create_tags)) if on
        ]
        if parts:
            entries.append(Entry(("🧵 ", ChannelRef(channel_id), f": {', '.join(parts)}")))
    return entries
