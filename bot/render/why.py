"""/why: the alert engine's gates for one story in one channel, for Discord and for the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.render.limits import MESSAGE_CONTENT_LIMIT, clean_text, escape, truncate
from bot.render.stories import heat_label

if TYPE_CHECKING:
    from bot.services.why import Explanation, MessageRef

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
