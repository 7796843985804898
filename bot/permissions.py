"""What the bot needs in an alert channel, per kind, as Discord names the permissions: one table for the
`/alerts add` and `/digest add` checks and for `heatwave doctor`.

Read Message History lets crash recovery find an alert it may already have posted instead of posting it twice.
A forum post needs Send Messages (shown as "Create Posts" there). Publishing the bot's *own* message in an
announcement channel needs nothing more (Manage Messages is only for other people's messages; Discord docs:
"Crosspost Message", "Start Thread in Forum").
"""

from __future__ import annotations

from collections.abc import Mapping

from db.models import ChannelKind

_POSTING = (
    ("view_channel", "View Channel"),
    ("send_messages", "Send Messages"),
    ("embed_links", "Embed Links"),
    ("read_message_history", "Read Message History"),
)

# (discord.Permissions attribute, the name Discord shows) for each permission alerts of that kind need.
ALERT_PERMISSIONS: Mapping[ChannelKind, tuple[tuple[str, str], ...]] = {
    "text": _POSTING,
    "announcement": _POSTING,
    "forum": (
        ("view_channel", "View Channel"),
        ("send_messages", "Create Posts"),
        ("embed_links", "Embed Links"),
        ("read_message_history", "Read Message History"),
    ),
}
