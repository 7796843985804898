"""The bot refusing a command because of its own permissions: one wording wherever it checks a channel."""

from __future__ import annotations

from collections.abc import Sequence

from bot.render.message import ChannelRef, Code, markdown


def cannot_post(what: str, channel_id: int, missing: Sequence[str], command: str) -> str:
    """'I can't post alerts in #news: I'm missing Embed Links there. Grant it …, then run `/alerts add` again.'"""
    return markdown(
        (
            f"I can't post {what} in ",
            ChannelRef(channel_id),
            f": I'm missing {', '.join(missing)} there. Grant it to my role in that channel, then run ",
            Code(command),
            " again.",
        )
    )
