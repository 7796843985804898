"""The stand-in's world: users, guilds, roles, channels, members, messages, and Discord's permission arithmetic."""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")

DISCORD_EPOCH_MS = 1420070400000


class Perm:
    """Permission bits the stand-in knows by name (Discord's documented values)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = (1 << 51) - 1

    @classmethod
    def by_name(cls, name: str) -> int:
        """Bit for a snake_case or UPPER_CASE permission name (e.g. "send_messages")."""
        value = getattr(cls, name.upper(), None)
        if not isinstance(value, int):
            raise ValueError(f"unknown permission name {name!r}")
        return value


# What a fresh guild's @everyone role gets (Discord's defaults, minus voice bits the bot never looks at).
DEFAULT_EVERYONE = (
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)
# What the bot's managed role gets when invited with Heatwave's minimal permissions.
DEFAULT_BOT = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.READ_MESSAGE_HISTORY
    | Perm.SEND_MESSAGES_IN_THREADS
)

# Without Send Messages in a text channel, Discord also removes these (they only make sense when sending).
_SEND_DEPENDENT = Perm.EMBED_LINKS | Perm.ATTACH_FILES | Perm.MENTION_EVERYONE


class ChannelType:
    """Channel type numbers the stand-in models."""

    TEXT = 0
    ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    FORUM = 15


class Snowflakes:
    """Discord-shaped ids: ms since the Discord epoch, shifted, plus a counter so ids are unique and rising."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._last = 0

    def next(self, *, shard: tuple[int, int] | None = None) -> int:
        """A new, strictly increasing snowflake; with `shard` (id, count), one that shard owns: its timestamp
        part is moved up to the next millisecond with (ms % count) == id."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = max((ms << 22) | (next(self._counter) & 0xFFF), self._last + 1)
        if shard is not None:
            shard_id, count = shard
            stamp = value >> 22
            if stamp % count != shard_id:
                stamp += (shard_id - stamp) % count
                value = (stamp << 22) | (next(self._counter) & 0xFFF)
        self._last = value
        return self._last


def iso_now() -> str:
    """Current UTC time as Discord writes timestamps."""
    return datetime.now(UTC).isoformat()


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def to_json(self) -> JSON:
        """The user object Discord sends."""
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name or self.username,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    bot_id: int | None = None
    mentionable: bool = False

    def to_json(self) -> JSON:
        """The role object Discord sends."""
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Overwrite:
    """A channel permission overwrite: kind 0 = role (the guild id is @everyone), 1 = member."""

    id: int
    kind: int
    allow: int = 0
    deny: int = 0

    def to_json(self) -> JSON:
        """The overwrite object Discord sends."""
        return {"id": str(self.id), "type": self.kind, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass
class Member:
    user: User
    guild_id: int
    role_ids: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=iso_now)

    @property
    def id(self) -> int:
        """The member's user id."""
        return self.user.id

    def to_json(self, *, permissions: int | None = None) -> JSON:
        """The guild member object Discord sends (with `permissions` in interactions)."""
        data: JSON = {
            "user": self.user.to_json(),
            "roles": [str(r) for r in self.role_ids],
            "joined_at": self.joined_at,
            "nick": None,
            "avatar": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class Channel:
    id: int
    guild_id: int
    name: str
    type: int = ChannelType.TEXT
    position: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    parent_id: int | None = None
    owner_id: int | None = None
    deleted: bool = False
    publishes: list[float] = field(default_factory=list)
    # Forums: the tags posts may carry ({"id", "name", "moderated", "emoji_id", "emoji_name"}); threads: the ids
    # of the tags applied to the post.
    available_tags: list[JSON] = field(default_factory=list)
    applied_tags: list[str] = field(default_factory=list)
    auto_archive_duration: int = 1440

    @property
    def is_thread(self) -> bool:
        """Threads (including forum posts) live under a parent channel."""
        return self.type in (ChannelType.PUBLIC_THREAD, ChannelType.ANNOUNCEMENT_THREAD)

    def to_json(self) -> JSON:
        """The channel object Discord sends."""
        data: JSON = {
            "id": str(self.id),
            "guild_id": str(self.guild_id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "flags": 0,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "nsfw": False,
            "rate_limit_per_user": 0,
        }
        if self.is_thread:
            data.update(
                owner_id=str(self.owner_id or 0),
                message_count=1,
                member_count=1,
                total_message_sent=1,
                applied_tags=list(self.applied_tags),
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": iso_now(),
                    "locked": False,
                },
            )
            return data
        data["permission_overwrites"] = [o.to_json() for o in self.overwrites]
        data["topic"] = None
        data["last_message_id"] = None
        if self.type == ChannelType.FORUM:
            data.update(
                available_tags=[dict(t) for t in self.available_tags],
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                default_thread_rate_limit_per_user=0,
            )
        return data


@dataclass(repr=False)
class Message:
    """A message as the stand-in stores it: the JSON Discord would return, plus where it came from."""

    id: int
    channel_id: int
    data: JSON
    sent: JSON = field(default_factory=dict)
    interaction_id: int | None = None
    ephemeral: bool = False
    deleted: bool = False
    crossposted: bool = False
    edits: int = 0
    # Role mentions Discord would not ping although allowed_mentions lists them: the role is not mentionable and
    # the author lacks Mention @everyone (set by the server, which knows the guild).
    unpingable_roles: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        state = "".join(f" {k}" for k in ("ephemeral", "deleted", "crossposted") if getattr(self, k))
        return f"<Message id={self.id} channel={self.channel_id}{state} text={self.text()[:200]!r}>"

    @property
    def content(self) -> str:
        """The message text."""
        return str(self.data.get("content") or "")

    @property
    def embeds(self) -> list[JSON]:
        """The message's embeds as JSON."""
        return list(self.data.get("embeds") or [])

    @property
    def attachments(self) -> list[JSON]:
        """The message's attachments (id, filename, size, url); `StandIn.file_content` gives their bytes."""
        return list(self.data.get("attachments") or [])

    @property
    def components(self) -> list[JSON]:
        """The message's component rows as JSON."""
        return list(self.data.get("components") or [])

    @property
    def flags(self) -> int:
        """Message flags (64 = ephemeral, 1 = crossposted)."""
        return int(self.data.get("flags") or 0)

    @property
    def allowed_mentions(self) -> JSON | None:
        """The allowed_mentions the bot sent last for this message (None if it never sent any)."""
        value = self.sent.get("allowed_mentions")
        return value if isinstance(value, dict) else None

    def pings(self) -> set[str]:
        """Who Discord would notify for this content: "everyone", "user:<id>", "role:<id>" (embeds never ping)."""
        return mentions_pinged(self.content, self.allowed_mentions) - {f"role:{r}" for r in self.unpingable_roles}

    def custom_ids(self) -> list[str]:
        """custom_id of every button/select on the message, in order."""
        return [c["custom_id"] for c in iter_components(self.components) if "custom_id" in c]

    def button(self, label: str) -> JSON:
        """The first button with this label (KeyError if none)."""
        for comp in iter_components(self.components):
            if comp.get("type") == 2 and comp.get("label") == label:
                return comp
        raise KeyError(f"no button labelled {label!r} on message {self.id}")

    def text(self) -> str:
        """Content plus every embed's visible text, for loose assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            parts += [(embed.get("author") or {}).get("name") or "", (embed.get("footer") or {}).get("text") or ""]
            for fld in embed.get("fields") or []:
                parts += [fld.get("name") or "", fld.get("value") or ""]
        return "\n".join(p for p in parts if p)


def role_mentions(content: str) -> list[str]:
    """The ids of the roles mentioned (<@&id>) in message content."""
    return _ROLE_MENTION.findall(content)


def mentions_pinged(content: str, allowed: JSON | None) -> set[str]:
    """Discord's allowed_mentions semantics: without the object every mention in the content pings."""
    if allowed is None:
        parse, users, roles = {"everyone", "users", "roles"}, set(), set()
    else:
        parse = set(allowed.get("parse") or [])
        users = {str(u) for u in allowed.get("users") or []}
        roles = {str(r) for r in allowed.get("roles") or []}
    out: set[str] = set()
    if "everyone" in parse and ("@everyone" in content or "@here" in content):
        out.add("everyone")
    for uid in _USER_MENTION.findall(content):
        if "users" in parse or uid in users:
            out.add(f"user:{uid}")
    for rid in _ROLE_MENTION.findall(content):
        if "roles" in parse or rid in roles:
            out.add(f"role:{rid}")
    return out


def iter_components(rows: list[JSON]) -> list[JSON]:
    """Flatten action rows (and any nested containers) into their leaf components."""
    out: list[JSON] = []
    for comp in rows:
        children = comp.get("components")
        if isinstance(children, list):
            out.extend(iter_components(children))
        else:
            out.append(comp)
    return out


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)

    @property
    def everyone(self) -> Role:
        """The @everyone role (its id is the guild id)."""
        return self.roles[self.id]

    def base_permissions(self, member: Member) -> int:
        """Guild-level permissions: @everyone plus the member's roles; owner and Administrator get everything."""
        if member.id == self.owner_id:
            return Perm.ALL
        perms = self.everyone.permissions
        for role_id in member.role_ids:
            role = self.roles.get(role_id)
            if role is not None:
                perms |= role.permissions
        if perms & Perm.ADMINISTRATOR:
            return Perm.ALL
        return perms

    def permissions_in(self, member: Member, channel: Channel) -> int:
        """Discord's documented overwrite resolution: @everyone, then roles combined, then the member."""
        base = self.base_permissions(member)
        if base == Perm.ALL:
            return Perm.ALL
        # Threads take their parent's overwrites.
        if channel.is_thread and channel.parent_id is not None and channel.parent_id in self.channels:
            channel = self.channels[channel.parent_id]
        perms = base
        overwrites = {(o.kind, o.id): o for o in channel.overwrites}
        everyone = overwrites.get((0, self.id))
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.role_ids:
            ow = overwrites.get((0, role_id))
            if ow is not None:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        own = overwrites.get((1, member.id))
        if own is not None:
            perms = (perms & ~own.deny) | own.allow
        if not perms & Perm.VIEW_CHANNEL:
            return 0
        if not perms & Perm.SEND_MESSAGES:
            perms &= ~_SEND_DEPENDENT
        return perms

    def to_json(self, *, self_id: int, include_all_members: bool) -> JSON:
        """The GUILD_CREATE payload (the bot's own member always included)."""
        members = [m for m in self.members.values() if include_all_members or m.id == self_id]
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.to_json() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": ["NEWS", "COMMUNITY"],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": iso_now(),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": [m.to_json() for m in members],
            "channels": [c.to_json() for c in self.channels.values() if not c.deleted and not c.is_thread],
            "threads": [c.to_json() for c in self.channels.values() if not c.deleted and c.is_thread],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
