"""The /roles replies, the role panel's words, and the answers to its buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from bot.render.limits import truncate
from bot.render.message import ChannelRef, Code, Entry, Line, RoleRef, Strong, Untrusted, reply

if TYPE_CHECKING:
    from bot.render.message import Reply
    from bot.services.roles import RoleMapping, TopicRole

# What keeps the bot from pinging or handing out a role (the cog finds them in Discord's permissions).
RoleProblem = Literal["not mentionable", "above me", "no manage roles"]

PANEL_TEXT = "Pick the topics whose breaking stories should ping you (press again to stop):"
BUTTON_LABEL_LIMIT = 80


def _problem(problem: RoleProblem, role_id: int) -> Line:
    if problem == "not mentionable":
        return (
            "⚠ ",
            RoleRef(role_id),
            " is not mentionable and I lack Mention @everyone, @here, and All Roles, so alerts"
            " would name it without pinging anyone: make it mentionable in Server Settings → Roles.",
        )
    if problem == "above me":
        return (
            "⚠ My role sits below ",
            RoleRef(role_id),
            ": move my role above it (Server Settings → Roles) so I can give it to members.",
        )
    return ("⚠ I need the Manage Roles permission to give the role to members.",)


def mapped(mapping: RoleMapping, role_id: int, created: bool, problems: Sequence[RoleProblem]) -> Reply:
    """/roles add: the mapping, what it replaced, and what would keep it from working."""
    topic = Strong(Untrusted(mapping.topic.name))
    line: Line = (
        ("Created ", RoleRef(role_id), " for ", topic, ".")
        if created
        else (
            topic,
            " stories now ping ",
            RoleRef(role_id),
            ".",
        )
    )
    if mapping.previous_role_id is not None and mapping.previous_role_id != role_id:
        line = (*line, " (It was ", RoleRef(mapping.previous_role_id), ".)")
    line = (
        *line,
        " Channels ping it for stories at or above their ",
        Code("ping_heat"),
        " (",
        Code("/alerts add … ping_heat:N"),
        ").",
    )
    return reply(line, *(_problem(p, role_id) for p in problems))


def unmapped(topic: str, role_id: int) -> Reply:
    """/roles remove."""
    return reply(
        (Strong(Untrusted(topic)), " stories no longer ping ", RoleRef(role_id), " (the role itself is kept).")
    )


def role_listing(roles: Sequence[TopicRole]) -> Reply:
    """/roles list."""
    if not roles:
        return reply(("No topic has a role yet. Map one with ", Code("/roles add topic:<topic>"), "."))
    entries = [Entry(("• ", Strong(Untrusted(r.topic_name)), " → ", RoleRef(r.role_id))) for r in roles]
    return reply(("Topic roles in this server:",), entries=entries)


def panel_posted(buttons: int, channel_id: int, can_manage_roles: bool) -> Reply:
    """/roles panel, once the panel is posted."""
    lines: list[Line] = [(f"Posted a panel with {buttons} topic button(s) in ", ChannelRef(channel_id), ".")]
    if not can_manage_roles:
        lines.append(("⚠ I need the Manage Roles permission before the buttons can give roles.",))
    return reply(*lines)


def button_label(topic: str) -> str:
    """A panel button's label (Discord shows labels literally: cleaned and cut, not escaped)."""
    return truncate(topic, BUTTON_LABEL_LIMIT)


def toggled(role_id: int, *, now_has: bool) -> Reply:
    """A panel button's answer: the member joined or left the role."""
    if now_has:
        return reply(("You now have ", RoleRef(role_id), ": its breaking stories will ping you."))
    return reply(("You no longer have ", RoleRef(role_id), ": its breaking stories won't ping you."))


def toggle_refused(role_id: int | None) -> Reply:
    """A panel button that could not work: outside a server (None), or the bot may not change the role."""
    if role_id is None:
        return reply(("These buttons work inside the server.",))
    return reply(
        (
            "I can't change ",
            RoleRef(role_id),
            " for you: I need Manage Roles and my role must sit above it. Please tell a server manager.",
        )
    )


def toggle_unmapped() -> Reply:
    """A panel button of a topic that no longer has that role."""
    return reply(
        ("That topic no longer has a role here; ask a manager to post a new panel with ", Code("/roles panel"), ".")
    )
