"""What the bot needs in an alert channel, per kind, as Discord names the permissions: one table for the
`/alerts add` and `/digest add` checks and for `heatwave doctor`.

Read Message History lets crash recovery find an alert it may already have posted instead of posting it twice.
A forum post needs Send Messages (shown as "Create Posts" there). Publishing the bot's *own* message in an
announcement channel needs nothing more (Manage Messages is only for other people's messages; Discord docs:
"Crosspost Message", "Start Thread in Forum").

Related-story threads ask for more, and only when turned on: starting a thread on a message needs Create Public
Threads, posting in it (or in a forum post) Send Messages in Threads. Creating forum tags edits the forum's
`available_tags` (Modify Channel), which needs Manage Channels. Manage Threads is not asked for: it only lets a
bot apply a forum's moderated tags, which Heatwave skips without it.
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

_IN_THREADS = ("send_messages_in_threads", "Send Messages in Threads")

# What /alerts add … threads:true adds to the table above, per kind.
THREAD_PERMISSIONS: Mapping[ChannelKind, tuple[tuple[str, str], ...]] = {
    "text": (("create_public_threads", "Create Public Threads"), _IN_THREADS),
    "announcement": (("create_public_threads", "Create Public Threads"), _IN_THREADS),
    "forum": (_IN_THREADS,),
}
# What /alerts add … create_tags:true adds (forums only).
TAG_PERMISSIONS: Mapping[ChannelKind, tuple[tuple[str, str], ...]] = {
    "forum": (("manage_channels", "Manage Channels"),),
}


def needed_permissions(
    kind: ChannelKind, *, threads: bool = False, create_tags: bool = False
) -> tuple[tuple[str, str], ...]:
    """Every permission alerts of this kind need in their channel, with those of the features turned on."""
    needed = list(ALERT_PERMISSIONS.get(kind, ()))
    if threads:
        needed += THREAD_PERMISSIONS.get(kind, ())
    if create_tags:
        needed += TAG_PERMISSIONS.get(kind, ())
    return tuple(dict.fromkeys(needed))
