"""/why: the alert engine's gates for one story in one channel, for Discord and for the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.render.message import (
    ChannelRef,
    Entry,
    Line,
    MessageRef,
    Names,
    Quote,
    Reply,
    Strong,
    Untrusted,
    reply,
)
from bot.render.stories import heat_label

if TYPE_CHECKING:
    from bot.services.why import Explanation

_VERDICT_MARK = {"pass": "✓", "block": "✗", "info": "•"}


def _why_verdict(explanation: Explanation) -> str:
    blocked = explanation.blocked_by
    ledger = next((g for g in explanation.gates if g.name == "ledger"), None)
    if ledger is not None and ledger.verdict == "pass":
        return "posted"
    if blocked is None:
        return "nothing stops it"
    return f"stopped at {blocked.name}"


def why_message(explanation: Explanation) -> Reply:
    """/why: the verdict, then one line per gate in the engine's order, with a link to the posted alert."""
    story = explanation.story
    heading: Line = (
        "Why ",
        Quote(Untrusted(story.title, 150)),
        f" (story {story.id}, heat {heat_label(story.heat)}, quality {heat_label(story.quality)}) in ",
        ChannelRef(explanation.channel_id),
        f": {_why_verdict(explanation)}.",
    )
    entries = []
    for gate in explanation.gates:
        who: Line = (" [", Untrusted(gate.subscription.topic_name or "every topic"), "]") if gate.subscription else ()
        line: Line = (f"{_VERDICT_MARK[gate.verdict]} ", Strong(gate.name), *who, ": ", Untrusted(gate.text))
        if gate.message is not None:
            ref = gate.message
            line = (*line, " · ", MessageRef(ref.guild_id, ref.channel_id, ref.message_id))
        entries.append(Entry(line))
    return reply(heading, entries=entries)


def why_reply(explanation: Explanation) -> str:
    """/why on Discord."""
    return why_message(explanation).markdown()


def why_text(explanation: Explanation, *, names: Names) -> str:
    """/why at the console."""
    return why_message(explanation).plain(names)
