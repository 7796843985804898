"""Several alerts in one message: "While you were away", "While alerts were paused", and the roll-up of a burst."""

from __future__ import annotations

from collections.abc import Sequence

from bot.render.limits import MESSAGE_CONTENT_LIMIT, fit, masked_link_url, truncate
from bot.render.stories import heat_label, provider_label, title_text
from bot.urls import safe_http_url
from db.models import StoryView

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
    title = fit(title_text(story), _SUMMARY_TITLE)
    url = masked_link_url(safe_http_url(story.link_url))
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
        lines.append(f"  {number}. {truncate(title_text(story), 200)} · heat {heat_label(story.heat)}")
        link = safe_http_url(story.link_url)
        if link:
            lines.append(f"     {link}")
    return "\n".join(lines)


# A forum post needs a title: a summary's is its kind.
SUMMARY_TITLES: dict[str, str] = {
    "away": "While you were away",
    "paused": "While alerts were paused",
    "rollup": "More stories above your line",
}


def summary_printed(where: str, kind: str, stories: Sequence[StoryView]) -> str:
    """A summary as the console prints it above the prompt."""
    return f"\n🔥 in {where}:\n{summary_text(kind, stories)}"
