"""Several alerts in one message: "While you were away", "While alerts were paused", and the roll-up of a burst."""

from __future__ import annotations

from collections.abc import Sequence

from bot.render.limits import MESSAGE_CONTENT_LIMIT, masked_link_url
from bot.render.message import Entry, Line, Link, Names, Strong, Untrusted, markdown, reply
from bot.render.stories import heat_label, provider_label, title_text
from bot.urls import safe_http_url
from db.models import StoryView

_SUMMARY_TITLE = 120  # a summary line's title share; long titles are cut so more stories fit a message
_PROVIDER = 40
# A URL too long to share a message with its neighbours is left out rather than cut (a cut URL is a broken link).
_URL_LIMIT = 400


def _heading(kind: str, count: int) -> Line:
    if kind == "away":
        return ("🌙 ", Strong("While you were away"), f" · the hottest {count} held during quiet hours:")
    if kind == "paused":
        return ("⏸ ", Strong("While alerts were paused"), f" · the hottest {count} that turned hot meanwhile:")
    if kind == "rollup":
        return ("📚 ", Strong(f"{count} more stories above your line:"))
    return (f"{count} stories:",)


def _summary_line(number: int, story: StoryView) -> Line:
    url = safe_http_url(story.link_url)
    shown = url if url is not None and len(masked_link_url(url) or "") <= _URL_LIMIT else None
    # card=False: <...> keeps Discord from unfurling a preview card for every line.
    line: Line = (f"{number}. ", Link(Untrusted(title_text(story), _SUMMARY_TITLE), shown, card=False))
    line = (*line, f" · heat {heat_label(story.heat)}")
    provider = provider_label(story)
    return (*line, " · ", Untrusted(provider, _PROVIDER)) if provider else line


def summary_messages(kind: str, stories: Sequence[StoryView]) -> list[tuple[str, tuple[int, ...]]]:
    """One message (or, only when one cannot hold them all, several) of numbered, linked stories under a heading;
    each with the ids of the stories it carries. Content text, so every link is in the message itself (crash
    recovery finds a story by its URL there)."""
    messages: list[tuple[str, tuple[int, ...]]] = []
    lines = [markdown(_heading(kind, len(stories)))]
    carried: list[int] = []
    for number, story in enumerate(stories, start=1):
        line = markdown(_summary_line(number, story))
        if len("\n".join([*lines, line])) > MESSAGE_CONTENT_LIMIT:
            messages.append(("\n".join(lines), tuple(carried)))
            lines, carried = [], []
        lines.append(line)
        carried.append(story.id)
    if carried:
        messages.append(("\n".join(lines), tuple(carried)))
    return messages


def summary_text(kind: str, stories: Sequence[StoryView]) -> str:
    """The same summary as console text."""
    entries = [Entry(_summary_line(n, s)) for n, s in enumerate(stories, start=1)]
    return reply(_heading(kind, len(stories)), entries=entries).plain(Names())


# A forum post needs a title: a summary's is its kind.
SUMMARY_TITLES: dict[str, str] = {
    "away": "While you were away",
    "paused": "While alerts were paused",
    "rollup": "More stories above your line",
}


def summary_printed(where: str, kind: str, stories: Sequence[StoryView]) -> str:
    """A summary as the console prints it above the prompt."""
    return f"\n🔥 in {where}:\n{summary_text(kind, stories)}"
