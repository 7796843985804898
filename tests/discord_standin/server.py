"""The stand-in itself: an aiohttp app serving Discord's REST subset and gateway, with recording and test helpers."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import json
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import yarl
from aiohttp import BodyPartReader, web

from .faults import Faults
from .gateway import INTENT_GUILD_MEMBERS, INTENT_GUILD_MESSAGES, Gateway, Session
from .limits import (
    EPHEMERAL,
    Problem,
    error_body,
    validate_channel_edit,
    validate_choices,
    validate_commands,
    validate_message,
    validate_thread,
    validate_thread_start,
)
from .model import (
    DEFAULT_BOT,
    DEFAULT_EVERYONE,
    JSON,
    Channel,
    ChannelType,
    Guild,
    Member,
    Message,
    Overwrite,
    Perm,
    Role,
    Snowflakes,
    User,
    iso_now,
    iter_components,
    role_mentions,
)

if TYPE_CHECKING:
    import discord

log = logging.getLogger(__name__)

ClientT = TypeVar("ClientT", bound="discord.Client")

API_PREFIX = "/api/v10"

# Discord's own limits (docs "Rate Limits"; the message bucket as Discord's headers report it): every bot token
# may make 50 requests per second across all routes (interaction callbacks and webhooks excepted), and a channel
# takes 5 new messages (or forum posts) per 5 seconds. `StandIn(**DISCORD_RATE_LIMITS)` turns them on; by
# default the stand-in only enforces its generous `rate_limit` per route bucket, so ordinary tests run fast.
DISCORD_GLOBAL_LIMIT = (50, 1.0)
DISCORD_ROUTE_LIMITS: Mapping[str, tuple[int, float]] = {
    "POST /channels/{cid}/messages": (5, 5.0),
    "POST /channels/{cid}/threads": (5, 5.0),
}
DISCORD_RATE_LIMITS: Mapping[str, Any] = {"global_limit": DISCORD_GLOBAL_LIMIT, "route_limits": DISCORD_ROUTE_LIMITS}
# Routes Discord leaves out of the global limit: interaction responses and followups.
_GLOBAL_EXEMPT = ("/interactions/", "/webhooks/")
LOADING = 1 << 7  # message flag: "Bot is thinking..."
CROSSPOSTED = 1 << 0

# Interaction types and callback types (Discord's numbers).
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT, MODAL = (
    1, 4, 5, 6, 7, 8, 9)
_ALLOWED_CALLBACKS = {
    PING: {PONG},
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}


def _on_shard(guild_id: int, shard: tuple[int, int]) -> bool:
    return (guild_id >> 22) % shard[1] == shard[0]


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly "application/json": discord.py only parses that form."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers,
                        content_type="application/json")


class NoReply(AssertionError):  # an AssertionError so pytest shows it as a failed expectation
    """The bot did not answer an interaction (completely) within the helper's timeout."""


@dataclass
class Violation:
    """A request the stand-in rejected with 400 because it broke Discord's documented limits (or the team rule)."""

    method: str
    path: str
    problems: list[Problem]
    body: Any
    interaction_id: int | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}: " + "; ".join(str(p) for p in self.problems)


@dataclass
class SentEvent:
    """One write the bot made: kind is message, message_edit, message_delete, callback, original_edit,
    original_delete, followup, followup_edit, followup_delete, thread or crosspost."""

    kind: str
    body: Any
    channel_id: int | None
    message_id: int | None
    interaction_id: int | None
    at: float


@dataclass
class RequestLog:
    """Every REST request, answered or not: method, path (without /api/v10), status, and monotonic arrival time."""

    method: str
    path: str
    status: int
    at: float
    # For a 429: "global" (the bot's global limit), "user" (a route bucket); None otherwise.
    scope: str | None = None


@dataclass
class InteractionRecord:
    """An interaction the stand-in dispatched, and everything the bot did with it."""

    id: int
    token: str
    type: int
    payload: JSON
    guild_id: int | None
    channel_id: int
    user_id: int
    dispatched_at: float
    callback_type: int | None = None
    callback_at: float | None = None
    callback_data: JSON | None = None
    late_callback: bool = False
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    events: list[SentEvent] = field(default_factory=list)

    @property
    def ack_seconds(self) -> float | None:
        """Seconds from dispatch to the initial callback."""
        if self.callback_at is None:
            return None
        return self.callback_at - self.dispatched_at


@dataclass(repr=False)
class InteractionResult:
    """What the user sees after an interaction: the final original response, followups, choices, timing."""

    standin: StandIn
    record: InteractionRecord

    def __repr__(self) -> str:
        ack = "-" if self.ack_seconds is None else f"{self.ack_seconds:.3f}s"
        return (f"<InteractionResult id={self.id} type={self.record.type} callback={self.callback_type} ack={ack} "
                f"ephemeral={self.ephemeral} text={self.text()[:200]!r} followups={len(self.followups)}>")

    @property
    def id(self) -> int:
        """The interaction id."""
        return self.record.id

    @property
    def callback_type(self) -> int | None:
        """4 message, 5 deferred, 6 deferred update, 7 update, 8 autocomplete, 9 modal."""
        return self.record.callback_type

    @property
    def ack_seconds(self) -> float | None:
        """Seconds from dispatch to the initial callback."""
        return self.record.ack_seconds

    @property
    def in_time(self) -> bool:
        """True when the initial callback arrived within Discord's 3-second deadline."""
        return self.record.callback_type is not None and not self.record.late_callback

    @property
    def deferred(self) -> bool:
        """True when the bot deferred (callback 5 or 6)."""
        return self.record.callback_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE)

    @property
    def message(self) -> Message | None:
        """The original response message in its current state (for clicks: the message the button is on)."""
        if self.record.original_id is None:
            return None
        return self.standin.messages.get(self.record.original_id)

    @property
    def followups(self) -> list[Message]:
        """Followup messages, oldest first."""
        return [self.standin.messages[m] for m in self.record.followup_ids if m in self.standin.messages]

    @property
    def content(self) -> str:
        """The original response's content ("" if none)."""
        return self.message.content if self.message else ""

    @property
    def embeds(self) -> list[JSON]:
        """The original response's embeds."""
        return self.message.embeds if self.message else []

    @property
    def components(self) -> list[JSON]:
        """The original response's component rows."""
        return self.message.components if self.message else []

    @property
    def ephemeral(self) -> bool:
        """True when the original response is only visible to the user."""
        return bool(self.message and self.message.ephemeral)

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete choices returned (callback 8)."""
        data = self.record.callback_data or {}
        return list(data.get("choices") or [])

    def custom_ids(self) -> list[str]:
        """custom_ids on the original response's components."""
        return self.message.custom_ids() if self.message else []

    def text(self) -> str:
        """Visible text of the original response and followups."""
        msgs = [m for m in [self.message, *self.followups] if m is not None]
        return "\n".join(m.text() for m in msgs)


# A server without boosts takes files up to 10 MiB (the guild's `attachment_size_limit`).
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A file a user attaches to an attachment option (type 11) of a slash command."""

    filename: str
    data: bytes
    content_type: str | None = None


def _uploaded(body: JSON) -> list[JSON]:
    """The attachment objects of a body whose files the stand-in stored (they carry a url)."""
    return [a for a in body.get("attachments") or [] if isinstance(a, dict) and "url" in a]


class StandIn:
    """A local Discord for one bot. Use `async with StandIn() as standin:`; see the package docstring."""

    def __init__(
        self,
        *,
        token: str = "standin-token",
        bot_name: str = "Heatwave",
        heartbeat_interval: float = 0.5,
        interaction_deadline: float = 3.0,
        require_allowed_mentions: bool = True,
        rate_limit: tuple[int, float] = (50, 1.0),
        route_limits: Mapping[str, tuple[int, float]] | None = None,
        global_limit: tuple[int, float] | None = None,
        publish_limit: tuple[int, float] = (10, 3600.0),
        shards: int | None = None,
        max_guilds_per_shard: int = 2500,
        host: str = "127.0.0.1",
        port: int = 0,
        clock_offset: float = 0.0,
    ) -> None:
        self.token = token
        # Seconds Discord's clock runs ahead of this machine's (negative: behind); shows in every REST `Date`.
        self.clock_offset = clock_offset
        self.host = host
        self.port = port
        self.interaction_deadline = interaction_deadline
        self.require_allowed_mentions = require_allowed_mentions
        self.rate_limit = rate_limit
        self.route_limits = dict(route_limits or {})
        self.global_limit = global_limit
        self.publish_limit = publish_limit
        self.shards = shards
        self.ids = Snowflakes()
        self.bot_user = User(id=self.ids.next(), username=bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.owner = User(id=self.ids.next(), username="app-owner")
        self.users: dict[int, User] = {self.bot_user.id: self.bot_user, self.owner.id: self.owner}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        # Uploaded files by attachment id, served like Discord's CDN at /attachments/{id}/{filename}.
        self.files: dict[int, bytes] = {}
        self.channel_log: dict[int, list[int]] = {}
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[int, list[JSON]] = {}
        self.command_syncs: list[tuple[int | None, list[JSON]]] = []
        self.interactions: dict[int, InteractionRecord] = {}
        self.sent: list[SentEvent] = []
        self.violations: list[Violation] = []
        self.unknown_routes: list[str] = []
        self.requests: list[RequestLog] = []
        self.api_in_flight = 0  # REST requests received and not yet answered (held ones included)
        self.faults = Faults()
        self._buckets: dict[str, tuple[float, int]] = {}
        self._global_window: tuple[float, int] = (0.0, 0)
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self.gateway = Gateway(
            token=token,
            heartbeat_interval=heartbeat_interval,
            ready_payload=self._ready_payload,
            guild_payloads=self._guild_payloads,
            resume_url=lambda: self.gateway_url,
            on_change=self._notify,
            guilds_on_shard=lambda shard: sum(1 for g in self.guilds if _on_shard(g, shard)),
            max_guilds_per_shard=max_guilds_per_shard,
        )

    # -- lifecycle -------------------------------------------------------------------------------------------------

    async def __aenter__(self) -> StandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on host:port (port 0 = ephemeral)."""
        self._changed = asyncio.Condition()
        app = web.Application(middlewares=[self._middleware])
        self._add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every gateway socket and the HTTP server."""
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """REST base to put in discord.http.Route.BASE / DISCORD_API_BASE."""
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """Gateway URL to put in DiscordWebSocket.DEFAULT_GATEWAY / DISCORD_GATEWAY_URL."""
        return f"ws://{self.host}:{self.port}/gateway"

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py at this stand-in for the duration of the block (restores the old values)."""
        import discord.gateway
        import discord.http

        old_base, old_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.base_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    @contextlib.asynccontextmanager
    async def running(self, client: ClientT, *, fast: bool = True, ready_timeout: float = 10.0
                      ) -> AsyncIterator[ClientT]:
        """Log a discord.py client in against the stand-in, connect, wait for on_ready; close it on exit.

        fast=True trims two real-Discord waits that only slow tests down: the 2 s guild_ready_timeout before
        on_ready and the 5 s sleep discord.py takes before every re-IDENTIFY.
        """
        with self.patch_discord():
            if fast:
                state = getattr(client, "_connection", None)
                if state is not None:
                    state.guild_ready_timeout = min(state.guild_ready_timeout, 0.05)

                async def no_identify_wait(shard_id: int | None, *, initial: bool = False) -> None:
                    return None

                client.before_identify_hook = no_identify_wait  # type: ignore[method-assign]
            await client.login(self.token)
            task = asyncio.create_task(client.connect(reconnect=True))
            ready = asyncio.create_task(client.wait_until_ready())
            try:
                done, _ = await asyncio.wait({task, ready}, timeout=ready_timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if task in done:
                    task.result()  # surfaces why the connection died (bad token, fatal close code...)
                    raise RuntimeError("the client's connect() returned before it became ready")
                if ready not in done:
                    identifies = self.gateway.identifies
                    raise TimeoutError(f"client not ready after {ready_timeout}s (identifies={identifies})")
                yield client
            finally:
                ready.cancel()
                await client.close()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(task, 5)

    # -- world building --------------------------------------------------------------------------------------------

    def add_guild(
        self,
        name: str = "Heatwave Test",
        *,
        everyone_permissions: int = DEFAULT_EVERYONE,
        bot_permissions: int = DEFAULT_BOT,
        owner: User | None = None,
        shard: tuple[int, int] | None = None,
    ) -> Guild:
        """A guild with @everyone, the bot's managed role and the bot as a member (owner: the app owner by default);
        `shard=(i, n)` picks an id that shard i of n owns ((id >> 22) % n == i)."""
        guild_owner = owner or self.owner
        guild = Guild(id=self.ids.next(shard=shard), name=name, owner_id=guild_owner.id)
        guild.roles[guild.id] = Role(id=guild.id, name="@everyone", permissions=everyone_permissions)
        bot_role = Role(id=self.ids.next(), name=self.bot_user.username, permissions=bot_permissions, position=1,
                        managed=True, bot_id=self.bot_user.id)
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot_user.id] = Member(self.bot_user, guild.id, [bot_role.id])
        guild.members[guild_owner.id] = Member(guild_owner, guild.id, [])
        self.guilds[guild.id] = guild
        self._later(self._dispatch_guild(guild))
        return guild

    def add_role(self, guild_id: int, name: str, permissions: int = 0) -> Role:
        """A role in the guild (position above existing roles)."""
        guild = self.guilds[guild_id]
        role = Role(id=self.ids.next(), name=name, permissions=permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        self._later(self._dispatch_if("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role.to_json()}))
        return role

    def set_role_permissions(self, guild_id: int, role_id: int, permissions: int) -> None:
        """Change a role's permissions (dispatches GUILD_ROLE_UPDATE)."""
        role = self.guilds[guild_id].roles[role_id]
        role.permissions = permissions
        self._later(self._dispatch_if("GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": role.to_json()}))

    def add_member(
        self,
        guild_id: int,
        name: str,
        *,
        roles: Sequence[int] = (),
        manage_guild: bool = False,
        permissions: int | None = None,
    ) -> Member:
        """A human member; `manage_guild=True` gives them a "Managers" role, `permissions` a personal role."""
        guild = self.guilds[guild_id]
        user = User(id=self.ids.next(), username=name)
        self.users[user.id] = user
        role_ids = list(roles)
        if manage_guild:
            managers = next((r for r in guild.roles.values() if r.name == "Managers"), None)
            if managers is None:
                managers = self.add_role(guild_id, "Managers", Perm.MANAGE_GUILD)
            role_ids.append(managers.id)
        if permissions is not None:
            role_ids.append(self.add_role(guild_id, f"{name}-perms", permissions).id)
        member = Member(user, guild_id, role_ids)
        guild.members[user.id] = member
        self._later(self._dispatch_if("GUILD_MEMBER_ADD", {**member.to_json(), "guild_id": str(guild_id)},
                                      intent=INTENT_GUILD_MEMBERS))
        return member

    def add_channel(
        self,
        guild_id: int,
        name: str,
        type: int = ChannelType.TEXT,
        *,
        overwrites: Sequence[Overwrite] = (),
    ) -> Channel:
        """A text (0), announcement (5) or forum (15) channel."""
        guild = self.guilds[guild_id]
        channel = Channel(id=self.ids.next(), guild_id=guild_id, name=name, type=type,
                          position=len(guild.channels), overwrites=list(overwrites))
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self._later(self._dispatch_if("CHANNEL_CREATE", channel.to_json()))
        return channel

    def set_overwrite(self, channel_id: int, target_id: int, *, allow: int = 0, deny: int = 0, member: bool = False
                      ) -> None:
        """Replace the overwrite for a role (or member) on a channel (dispatches CHANNEL_UPDATE)."""
        channel = self.channels[channel_id]
        channel.overwrites = [o for o in channel.overwrites if o.id != target_id]
        channel.overwrites.append(Overwrite(target_id, 1 if member else 0, allow, deny))
        self._later(self._dispatch_if("CHANNEL_UPDATE", channel.to_json()))

    def add_forum_tags(self, forum_id: int, *names: str, moderated: bool = False) -> list[JSON]:
        """Give a forum more available tags (dispatches CHANNEL_UPDATE); the tags added."""
        forum = self.channels[forum_id]
        added = [{"id": str(self.ids.next()), "name": name, "moderated": moderated, "emoji_id": None,
                  "emoji_name": None} for name in names]
        forum.available_tags.extend(added)
        self._later(self._dispatch_if("CHANNEL_UPDATE", forum.to_json()))
        return added

    def tag_names(self, thread_id: int) -> list[str]:
        """The names of the tags applied to a forum post, in the order applied."""
        thread = self.channels[thread_id]
        forum = self.channels[thread.parent_id] if thread.parent_id is not None else None
        names = {t["id"]: t["name"] for t in forum.available_tags} if forum is not None else {}
        return [names.get(t, t) for t in thread.applied_tags]

    def deny_bot(self, channel_id: int, *permissions: str) -> None:
        """Deny the bot named permissions on a channel, e.g. deny_bot(cid, "send_messages", "embed_links")."""
        bits = 0
        for name in permissions:
            bits |= Perm.by_name(name)
        self.set_overwrite(channel_id, self.bot_user.id, deny=bits, member=True)

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel: REST answers 404 Unknown Channel from now on (dispatches CHANNEL_DELETE)."""
        channel = self.channels[channel_id]
        channel.deleted = True
        self.guilds[channel.guild_id].channels.pop(channel_id, None)
        self._later(self._dispatch_if("CHANNEL_DELETE", channel.to_json()))

    def permissions(self, guild_id: int, user_id: int, channel_id: int | None = None) -> int:
        """A member's permissions, guild-wide or in a channel."""
        guild = self.guilds[guild_id]
        member = guild.members[user_id]
        if channel_id is None:
            return guild.base_permissions(member)
        return guild.permissions_in(member, self.channels[channel_id])

    def reset_publish_limits(self, channel_id: int | None = None) -> None:
        """Forget past crossposts (as if the hour had passed)."""
        for channel in self.channels.values():
            if channel_id is None or channel.id == channel_id:
                channel.publishes.clear()

    # -- queries ---------------------------------------------------------------------------------------------------

    def messages_in(self, channel_id: int, *, include_ephemeral: bool = False, include_deleted: bool = False
                    ) -> list[Message]:
        """Messages in a channel, oldest first (ephemeral and deleted ones hidden by default)."""
        out = []
        for mid in self.channel_log.get(channel_id, []):
            msg = self.messages[mid]
            if (msg.ephemeral and not include_ephemeral) or (msg.deleted and not include_deleted):
                continue
            out.append(msg)
        return out

    def threads_in(self, forum_id: int) -> list[Channel]:
        """Threads (forum posts) created under a channel, oldest first."""
        return [c for c in self.channels.values() if c.parent_id == forum_id and c.is_thread]

    def events_for(self, interaction_id: int) -> list[SentEvent]:
        """Everything the bot did for one interaction, in order."""
        return list(self.interactions[interaction_id].events)

    def problems(self) -> list[str]:
        """Every limit violation, unknown route and late interaction callback, as readable lines."""
        out = [f"violation: {v}" for v in self.violations]
        out += [f"unknown route: {r}" for r in self.unknown_routes]
        out += [f"late callback: interaction {r.id} acknowledged after {r.ack_seconds:.2f}s"
                for r in self.interactions.values() if r.late_callback]
        return out

    def assert_clean(self) -> None:
        """Fail (AssertionError) if anything in problems() happened."""
        problems = self.problems()
        assert not problems, "stand-in saw problems:\n" + "\n".join(problems)

    def requests_to(self, route: str) -> list[RequestLog]:
        """Logged requests matching "METHOD /glob" or "/glob"."""
        from .faults import Fault, _split

        method, path = _split(route)
        probe = Fault("probe", method, path, None)
        return [r for r in self.requests if probe.matches(r.method, r.path)]

    # -- waiting ---------------------------------------------------------------------------------------------------

    async def _notify(self) -> None:
        if self._changed is None:
            return
        async with self._changed:
            self._changed.notify_all()

    # A `timeout` argument (ASYNC109) is deliberate in these helpers: tests read better with the deadline inline.
    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Wait until predicate() is truthy (re-checked after every request, gateway change and every 50 ms)."""
        assert self._changed is not None, "stand-in not started"

        async def _wait() -> Any:
            assert self._changed is not None
            async with self._changed:
                while True:
                    value = predicate()
                    if value:
                        return value
                    # Also re-check on a short tick: predicates may watch the bot's own state, which changes
                    # after the stand-in's last write without telling us.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.05)

        return await asyncio.wait_for(_wait(), timeout)

    async def wait_for_message(
        self, channel_id: int, predicate: Callable[[Message], bool] | None = None, timeout: float = 5.0  # noqa: ASYNC109
    ) -> Message:
        """The oldest visible message in the channel matching predicate, waiting for it if needed."""

        def find() -> Message | None:
            return next((m for m in self.messages_in(channel_id) if predicate is None or predicate(m)), None)

        try:
            result: Message = await self.wait_for(find, timeout)
        except TimeoutError:
            seen = [m.text()[:80] for m in self.messages_in(channel_id)]
            raise NoReply(f"no matching message in channel {channel_id} after {timeout}s; saw {seen}") from None
        return result

    async def wait_until_connected(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot holds a live, identified gateway session."""
        await self.wait_for(lambda: self.gateway.connected, timeout)

    async def wait_for_resume(self, count: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has RESUMEd `count` times in total and is connected again."""
        await self.wait_for(lambda: self.gateway.resumes >= count and self.gateway.connected, timeout)

    # -- gateway controls --------------------------------------------------------------------------------------------

    async def drop_gateway(self, code: int | None = None, *, shard: int | None = None) -> None:
        """Break the bot's gateway socket: abruptly when code is None, else with that close code (4000 = resumable).
        `shard`: that shard's socket (default: the latest to IDENTIFY)."""
        await self.gateway.drop(code, shard=shard)

    async def request_reconnect(self, *, shard: int | None = None) -> None:
        """Send op 7 RECONNECT."""
        await self.gateway.reconnect(shard=shard)

    async def invalidate_session(self, *, resumable: bool = False, shard: int | None = None) -> None:
        """Send op 9 INVALID_SESSION (the bot must IDENTIFY again unless resumable)."""
        await self.gateway.invalidate(resumable=resumable, shard=shard)

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send any gateway event to the bot."""
        await self.gateway.dispatch(event, data)

    # -- interactions ------------------------------------------------------------------------------------------------

    def _find_command(self, guild_id: int | None, name: str) -> tuple[JSON, bool]:
        for cmd in self.guild_commands.get(guild_id or 0, []):
            if cmd["name"] == name and cmd.get("type", 1) == 1:
                return cmd, True
        for cmd in self.global_commands:
            if cmd["name"] == name and cmd.get("type", 1) == 1:
                return cmd, False
        known = sorted({c["name"] for c in self.global_commands} | {c["name"] for c in
                                                                   self.guild_commands.get(guild_id or 0, [])})
        raise LookupError(f"/{name} was never synced (known: {known})")

    def _resolve_value(self, guild: Guild | None, user_id: int, opt: JSON, value: Any, resolved: JSON,
                       validate: bool) -> Any:
        kind = opt["type"]
        name = opt["name"]
        if kind == 3:
            value = str(value)
            if validate and opt.get("max_length") is not None and len(value) > opt["max_length"]:
                raise ValueError(f"option {name!r}: longer than max_length {opt['max_length']}")
            if validate and opt.get("min_length") is not None and len(value) < opt["min_length"]:
                raise ValueError(f"option {name!r}: shorter than min_length {opt['min_length']}")
        elif kind == 4:
            value = int(value)
        elif kind == 10:
            value = float(value)
        elif kind == 5:
            value = bool(value)
        elif kind == 11:
            if not isinstance(value, Upload):
                raise ValueError(f"option {name!r}: an attachment option takes an Upload(filename, data)")
            attachment = self.store_file(value.filename, value.data, value.content_type)
            value = attachment["id"]
            resolved.setdefault("attachments", {})[value] = attachment
        elif kind in (6, 7, 8, 9):
            target = int(getattr(value, "id", value))
            value = str(target)
            if kind == 7:
                channel = self.channels.get(target)
                if channel is None:
                    raise ValueError(f"option {name!r}: unknown channel {target}")
                if validate and opt.get("channel_types") and channel.type not in opt["channel_types"]:
                    raise ValueError(f"option {name!r}: channel type {channel.type} not in {opt['channel_types']}")
                data = channel.to_json()
                perms = self.permissions(channel.guild_id, user_id, channel.id) if guild else 0
                data["permissions"] = str(perms)
                data.pop("permission_overwrites", None)
                resolved.setdefault("channels", {})[value] = data
            elif kind == 8 or (kind == 9 and guild and target in guild.roles):
                assert guild is not None
                resolved.setdefault("roles", {})[value] = guild.roles[target].to_json()
            else:
                user = self.users[target]
                resolved.setdefault("users", {})[value] = user.to_json()
                if guild and target in guild.members:
                    member = guild.members[target].to_json()
                    member.pop("user")
                    resolved.setdefault("members", {})[value] = member
        else:
            raise ValueError(f"option {name!r}: type {kind} is not supported by the stand-in")
        if validate and kind in (4, 10):
            if opt.get("min_value") is not None and value < opt["min_value"]:
                raise ValueError(f"option {name!r}: {value} below min_value {opt['min_value']}")
            if opt.get("max_value") is not None and value > opt["max_value"]:
                raise ValueError(f"option {name!r}: {value} above max_value {opt['max_value']}")
        if validate and opt.get("choices") and value not in [c["value"] for c in opt["choices"]]:
            raise ValueError(f"option {name!r}: {value!r} is not one of the declared choices")
        return value

    def _build_options(self, guild: Guild | None, user_id: int, schema: list[JSON], path: list[str],
                       values: Mapping[str, Any], focused: str | None, resolved: JSON, validate: bool) -> list[JSON]:
        if path:
            sub = next((o for o in schema if o["name"] == path[0] and o["type"] in (1, 2)), None)
            if sub is None:
                raise LookupError(f"no subcommand {path[0]!r}; have {[o['name'] for o in schema]}")
            inner = self._build_options(guild, user_id, sub.get("options") or [], path[1:], values, focused,
                                        resolved, validate)
            return [{"type": sub["type"], "name": sub["name"], "options": inner}]
        if any(o["type"] in (1, 2) for o in schema):
            raise LookupError(f"a subcommand is required; have {[o['name'] for o in schema]}")
        by_name = {o["name"]: o for o in schema}
        out: list[JSON] = []
        for name, raw in values.items():
            opt = by_name.get(name)
            if opt is None:
                raise LookupError(f"no option {name!r}; have {sorted(by_name)}")
            if name == focused:
                # While typing, Discord sends the partial text whatever the option's type.
                out.append({"type": opt["type"], "name": name, "value": str(raw), "focused": True})
                continue
            value = self._resolve_value(guild, user_id, opt, raw, resolved, validate)
            out.append({"type": opt["type"], "name": name, "value": value})
        if validate and focused is None:
            missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
            if missing:
                raise ValueError(f"required options missing: {missing}")
        return out

    def _base_interaction(self, kind: int, guild_id: int | None, channel_id: int, user_id: int) -> JSON:
        channel = self.channels[channel_id]
        interaction_id = self.ids.next()
        data: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "token": secrets.token_urlsafe(24),
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)} if guild_id else {"1": str(user_id)},
            "context": 0 if guild_id else 1,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "app_permissions": "0",
        }
        channel_data = channel.to_json()
        channel_data.pop("permission_overwrites", None)
        if guild_id is not None:
            guild = self.guilds[guild_id]
            member = guild.members[user_id]
            data["guild_id"] = str(guild_id)
            data["guild_locale"] = "en-US"
            data["guild"] = {"id": str(guild_id), "locale": "en-US", "features": ["NEWS", "COMMUNITY"]}
            perms = guild.permissions_in(member, channel)
            data["member"] = member.to_json(permissions=perms)
            data["app_permissions"] = str(guild.permissions_in(guild.members[self.bot_user.id], channel))
            channel_data["permissions"] = str(perms)
        else:
            data["user"] = self.users[user_id].to_json()
        data["channel_id"] = str(channel_id)
        data["channel"] = channel_data
        return data

    def _command_interaction(self, kind: int, guild_id: int | None, channel_id: int, user_id: int, command: str,
                             options: Mapping[str, Any], focused: str | None, validate: bool) -> JSON:
        """The payload of a slash command (APPLICATION_COMMAND) or of typing into one of its options (AUTOCOMPLETE)."""
        root, *path = command.strip().lstrip("/").split()
        cmd, is_guild_cmd = self._find_command(guild_id, root)
        guild = self.guilds.get(guild_id) if guild_id else None
        # Autocomplete focuses one option, by default the last one given.
        focus = (focused or list(options)[-1]) if kind == AUTOCOMPLETE else None
        resolved: JSON = {}
        built = self._build_options(guild, user_id, cmd.get("options") or [], path, options, focus, resolved, validate)
        payload = self._base_interaction(kind, guild_id, channel_id, user_id)
        data: JSON = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": built}
        if resolved:
            data["resolved"] = resolved
        if is_guild_cmd:
            data["guild_id"] = str(guild_id)
        payload["data"] = data
        return payload

    async def _run_interaction(self, payload: JSON, guild_id: int | None, channel_id: int, user_id: int,
                               original_id: int | None, timeout: float) -> InteractionResult:  # noqa: ASYNC109
        if not self.gateway.connected and self.gateway.current is None:
            raise RuntimeError("the bot is not connected to the stand-in gateway")
        record = InteractionRecord(
            id=int(payload["id"]), token=payload["token"], type=payload["type"], payload=payload,
            guild_id=guild_id, channel_id=channel_id, user_id=user_id, dispatched_at=time.monotonic(),
            original_id=original_id,
        )
        self.interactions[record.id] = record
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        result = InteractionResult(self, record)

        def answered() -> bool:
            if record.callback_type is None:
                return False
            if record.callback_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE):
                # Deferred: the user sees the answer only once @original is edited or a followup arrives.
                return any(e.kind in ("original_edit", "followup") for e in record.events)
            return True

        try:
            await self.wait_for(answered, timeout)
        except TimeoutError:
            related = [str(v) for v in self.violations if v.interaction_id == record.id]
            raise NoReply(
                f"interaction {record.id} (type {record.type}) not answered within {timeout}s: "
                f"callback={record.callback_type} events={[e.kind for e in record.events]} violations={related}"
            ) from None
        return result

    async def invoke(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        validate: bool = True,
    ) -> InteractionResult:
        """Run a slash command ("topic", "alerts add") as `user_id` in a channel and wait for the visible answer."""
        payload = self._command_interaction(APPLICATION_COMMAND, guild_id, channel_id, user_id, command, options or {},
                                            None, validate)
        return await self._run_interaction(payload, guild_id, channel_id, user_id, None, timeout)

    async def autocomplete(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        command: str,
        options: Mapping[str, Any],
        *,
        focused: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[JSON]:
        """Type into an option (`focused`, default: the last one given) and return the bot's choices."""
        payload = self._command_interaction(AUTOCOMPLETE, guild_id, channel_id, user_id, command, options, focused,
                                            False)
        result = await self._run_interaction(payload, guild_id, channel_id, user_id, None, timeout)
        if result.callback_type != AUTOCOMPLETE_RESULT:
            raise NoReply(f"autocomplete answered with callback type {result.callback_type}")
        return result.choices

    async def click(
        self,
        target: InteractionResult | Message,
        custom_id: str,
        user_id: int,
        *,
        values: Sequence[str] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> InteractionResult:
        """Press a button (or pick `values` in a select) on a message as `user_id`; waits for the answer."""
        message = target.message if isinstance(target, InteractionResult) else target
        if message is None:
            raise LookupError("that interaction has no message to click on")
        comp = next((c for c in iter_components(message.components) if c.get("custom_id") == custom_id), None)
        if comp is None:
            raise LookupError(f"no component {custom_id!r} on message {message.id}; have {message.custom_ids()}")
        if comp.get("disabled"):
            raise LookupError(f"component {custom_id!r} is disabled; Discord would not let the user press it")
        channel = self.channels[message.channel_id]
        guild_id = channel.guild_id
        payload = self._base_interaction(MESSAGE_COMPONENT, guild_id, channel.id, user_id)
        data: JSON = {"custom_id": custom_id, "component_type": comp["type"]}
        if values is not None:
            data["values"] = list(values)
        payload["data"] = data
        payload["message"] = dict(message.data)
        return await self._run_interaction(payload, guild_id, channel.id, user_id, message.id, timeout)

    # -- payload builders for the gateway ----------------------------------------------------------------------------

    def _ready_payload(self, session: Session) -> JSON:
        user = self.bot_user.to_json()
        user.update(verified=True, mfa_enabled=False, email=None)
        return {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds if session.owns(g)],
            "shard": list(session.shard),
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth_session_id_hash": "",
        }

    def _guild_payloads(self, session: Session) -> list[JSON]:
        all_members = bool(session.intents & INTENT_GUILD_MEMBERS)
        return [
            g.to_json(self_id=self.bot_user.id, include_all_members=all_members)
            for g in self.guilds.values()
            if session.owns(g.id)
        ]

    def _later(self, coro: Any) -> None:
        """Dispatch from synchronous world-building calls once the loop gets a chance (no-op before any session)."""
        if self.gateway.current is None:
            coro.close()
            return
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _dispatch_if(self, event: str, data: JSON, *, intent: int = 1) -> None:
        session = self.gateway.current
        if session is not None and session.intents & intent:
            await self.gateway.dispatch(event, data)

    async def _dispatch_guild(self, guild: Guild) -> None:
        session = self.gateway.current
        if session is not None:
            payload = guild.to_json(self_id=self.bot_user.id,
                                    include_all_members=bool(session.intents & INTENT_GUILD_MEMBERS))
            await self.gateway.dispatch("GUILD_CREATE", payload)

    # -- REST plumbing -------------------------------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        r = app.router
        p = API_PREFIX
        r.add_get("/gateway", self.gateway.handle)
        r.add_get(f"{p}/gateway", self._get_gateway)
        r.add_get(f"{p}/gateway/bot", self._get_gateway)
        r.add_get(f"{p}/users/@me", self._get_me)
        r.add_get(f"{p}/oauth2/applications/@me", self._get_application)
        r.add_get(f"{p}/applications/@me", self._get_application)
        r.add_get(f"{p}/applications/{{app}}/commands", self._get_commands)
        r.add_put(f"{p}/applications/{{app}}/commands", self._put_commands)
        r.add_get(f"{p}/applications/{{app}}/guilds/{{guild}}/commands", self._get_commands)
        r.add_put(f"{p}/applications/{{app}}/guilds/{{guild}}/commands", self._put_commands)
        r.add_post(f"{p}/interactions/{{iid}}/{{token}}/callback", self._callback)
        r.add_get(f"{p}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._webhook_get)
        r.add_patch(f"{p}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._webhook_edit)
        r.add_delete(f"{p}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._webhook_delete)
        r.add_post(f"{p}/webhooks/{{app}}/{{token}}", self._followup)
        r.add_get(f"{p}/channels/{{cid}}", self._get_channel)
        r.add_get(f"{p}/channels/{{cid}}/messages", self._list_messages)
        r.add_post(f"{p}/channels/{{cid}}/messages", self._create_message)
        r.add_get(f"{p}/channels/{{cid}}/messages/{{mid}}", self._get_message)
        r.add_patch(f"{p}/channels/{{cid}}/messages/{{mid}}", self._edit_message)
        r.add_delete(f"{p}/channels/{{cid}}/messages/{{mid}}", self._delete_message)
        r.add_post(f"{p}/channels/{{cid}}/messages/{{mid}}/crosspost", self._crosspost)
        r.add_post(f"{p}/channels/{{cid}}/threads", self._create_thread)
        r.add_post(f"{p}/channels/{{cid}}/messages/{{mid}}/threads", self._start_thread_from_message)
        r.add_patch(f"{p}/channels/{{cid}}", self._edit_channel)
        r.add_get(f"{p}/guilds/{{guild}}", self._get_guild)
        r.add_get(f"{p}/guilds/{{guild}}/channels", self._get_guild_channels)
        r.add_get(f"{p}/guilds/{{guild}}/members/{{uid}}", self._get_member)
        r.add_post(f"{p}/guilds/{{guild}}/roles", self._create_role)
        r.add_put(f"{p}/guilds/{{guild}}/members/{{uid}}/roles/{{rid}}", self._member_role)
        r.add_delete(f"{p}/guilds/{{guild}}/members/{{uid}}/roles/{{rid}}", self._member_role)
        r.add_get(f"{p}/guilds/{{guild}}/threads/active", self._active_threads)
        r.add_get(f"{p}/channels/{{cid}}/threads/archived/public", self._archived_threads)
        r.add_get("/attachments/{aid}/{filename}", self._get_attachment)
        r.add_get("/_standin/state", self._control_state)
        r.add_post("/_standin/invoke", self._control_invoke)

    def _bucket_headers(self, route: str, major: str) -> tuple[dict[str, str], bool]:
        """Count the request against its bucket; Discord-style headers and whether it went over the limit.

        A bucket is a route ("POST /channels/{cid}/messages") for one major parameter (the channel, guild or
        webhook); like Discord, every channel's bucket of one route reports the same X-RateLimit-Bucket hash.
        """
        limit, window = self.route_limits.get(route, self.rate_limit)
        key = f"{route} {major}"
        now = time.monotonic()
        start, used = self._buckets.get(key, (now, 0))
        if now - start >= window:
            start, used = now, 0
        used += 1
        self._buckets[key] = (start, used)
        reset_after = max(0.001, window - (now - start))
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(route.encode(), usedforsecurity=False).hexdigest()[:16],
        }
        return headers, used > limit

    def _global_wait(self, api_path: str) -> float | None:
        """Count the request against the bot's global limit; the wait when it is over (None: within it)."""
        if self.global_limit is None or api_path.startswith(_GLOBAL_EXEMPT):
            return None
        limit, window = self.global_limit
        now = time.monotonic()
        start, used = self._global_window
        if now - start >= window:
            start, used = now, 0
        if used >= limit:
            # Refused requests do not count: the window's budget is spent either way.
            return max(0.001, window - (now - start))
        self._global_window = (start, used + 1)
        return None

    @staticmethod
    def _too_many_global(retry_after: float) -> web.Response:
        # Discord's global 429 names no bucket: no X-RateLimit-Limit/Remaining/Bucket, only the scope.
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
            "Via": "1.1 google",
        }
        body = {"message": "You are being rate limited.", "retry_after": round(retry_after, 3), "global": True,
                "code": 0}
        return _json(body, status=429, headers=headers)

    @staticmethod
    def _too_many(retry_after: float, bucket: dict[str, str], *, global_: bool = False) -> web.Response:
        headers = dict(bucket)
        headers.update({
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "global" if global_ else "user",
            # discord.py treats a 429 without Via as a Cloudflare ban and gives up.
            "Via": "1.1 google",
        })
        if global_:
            headers["X-RateLimit-Global"] = "true"
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": global_, "code": 0}
        return _json(body, status=429, headers=headers)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if path.startswith("/api/") and not path.startswith(API_PREFIX + "/"):
            return self._unknown(request.method, path)  # another API version: discord.py 2.x only speaks v10
        if not path.startswith(API_PREFIX):
            return await handler(request)  # type: ignore[no-any-return]
        api_path = path[len(API_PREFIX):]
        method = request.method
        at = time.monotonic()
        self.api_in_flight += 1
        try:
            response = await self._api(request, handler, method, api_path)
            self._date(response)
        finally:
            # Also when the client hung up and the handler was cancelled: tests wait for held requests to settle.
            self.api_in_flight -= 1
        dropped = request.transport is None or request.transport.is_closing()  # a "disconnect" fault
        scope = response.headers.get("X-RateLimit-Scope") if response.status == 429 else None
        self.requests.append(RequestLog(method, api_path, 0 if dropped else response.status, at, scope))
        await self._notify()
        return response

    async def _api(self, request: web.Request, handler: Any, method: str, api_path: str) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else api_path
        major = request.match_info.get("cid") or request.match_info.get("guild") or request.match_info.get("token", "")
        route = f"{method} {template.removeprefix(API_PREFIX)}"
        struck = self.faults.take(method, api_path)
        for fault in struck:
            if fault.kind == "delay":
                if fault.received:
                    # Discord has the whole request: a client that hangs up meanwhile does not stop it.
                    await request.read()
                await asyncio.sleep(fault.seconds)
        for fault in struck:
            if fault.kind == "rate_limit":
                bucket, _ = self._bucket_headers(route, major)
                return self._too_many(fault.retry_after, bucket, global_=fault.global_)
            if fault.kind == "disconnect":
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=204)  # never sent: the connection is gone
            if fault.kind == "fail":
                body = {"message": f"{fault.status}: injected by the stand-in", "code": 0}
                return _json(body, status=fault.status)
        global_wait = self._global_wait(api_path)
        if global_wait is not None:
            return self._too_many_global(global_wait)
        bucket, over = self._bucket_headers(route, major)
        if over:
            # The bot ignored X-RateLimit-Remaining: 0 and sent anyway, which real Discord answers with a 429.
            return self._too_many(float(bucket["X-RateLimit-Reset-After"]), bucket)
        needs_auth = not api_path.startswith(("/interactions/", "/webhooks/"))
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPNotFound:
            return self._unknown(method, api_path)
        except web.HTTPMethodNotAllowed:
            return self._unknown(method, api_path)
        if response.status < 400 or response.status == 429:
            response.headers.update(bucket)
        return response

    def _date(self, response: web.StreamResponse) -> None:
        # Discord answers every request with an HTTP-date (whole seconds, GMT); tools read clock skew from it.
        response.headers["Date"] = email.utils.formatdate(time.time() + self.clock_offset, usegmt=True)

    def _unknown(self, method: str, api_path: str) -> web.Response:
        line = f"{method} {api_path}"
        log.error("stand-in: unknown route %s (returning 404)", line)
        self.unknown_routes.append(line)
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    async def _body(self, request: web.Request) -> Any:
        # body_exists, not can_read_body: a held request's body was read already (and is kept by aiohttp).
        if not request.body_exists:
            return None
        if request.content_type.startswith("multipart/"):
            return await self._multipart_body(request)
        text = await request.text()
        try:
            return json.loads(text) if text else None
        except ValueError:
            return text

    async def _multipart_body(self, request: web.Request) -> Any:
        """Files upload as multipart: the JSON is the payload_json part, each file a `files[n]` part. As Discord
        does, the payload's `attachments` entries refer to the parts by n (`{"id": n, "filename": ...}`); the
        message gets full attachment objects (snowflake id, size, url on the CDN). A part without an entry still
        becomes an attachment."""
        body: Any = {}
        uploads: dict[str, tuple[str, str | None, bytes]] = {}
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                body = json.loads(await part.text())
            else:
                data = await part.read()
                if len(data) > ATTACHMENT_SIZE_LIMIT:
                    # Discord refuses the whole request (code 40005) when one file is over the server's limit.
                    raise web.HTTPRequestEntityTooLarge(
                        max_size=ATTACHMENT_SIZE_LIMIT, actual_size=len(data), content_type="application/json",
                        text=json.dumps({"message": "Request entity too large", "code": 40005}),
                    )
                index = (part.name or "").removeprefix("files[").removesuffix("]")
                uploads[index or str(len(uploads))] = (
                    part.filename or "file", part.headers.get("Content-Type"), bytes(data)
                )
        if not isinstance(body, dict):
            return body
        # An interaction callback carries the message in `data`; every other route is the message itself.
        message = body["data"] if isinstance(body.get("data"), dict) and "type" in body else body
        refs = [a for a in message.get("attachments") or [] if isinstance(a, dict)]
        attachments: list[JSON] = []
        for ref in refs:
            upload = uploads.pop(str(ref.get("id")), None)
            if upload is None:
                attachments.append(ref)  # an existing attachment kept on edit
            else:
                filename, content_type, data = upload
                attachments.append(self.store_file(str(ref.get("filename") or filename), data, content_type,
                                                   description=ref.get("description")))
        for filename, content_type, data in uploads.values():
            attachments.append(self.store_file(filename, data, content_type))
        if attachments:
            message["attachments"] = attachments
        return body

    def store_file(self, filename: str, data: bytes, content_type: str | None = None, *,
                   description: str | None = None) -> JSON:
        """Keep an uploaded file; its attachment object as Discord returns it (the url serves the bytes)."""
        aid = self.ids.next()
        self.files[aid] = data
        url = f"http://{self.host}:{self.port}/attachments/{aid}/{filename}"
        attachment: JSON = {"id": str(aid), "filename": filename, "size": len(data), "url": url, "proxy_url": url}
        if content_type:
            attachment["content_type"] = content_type
        if description:
            attachment["description"] = description
        return attachment

    def file_content(self, attachment: JSON) -> bytes:
        """The bytes behind an attachment object the bot uploaded."""
        return self.files[int(attachment["id"])]

    async def _get_attachment(self, request: web.Request) -> web.StreamResponse:
        aid = request.match_info["aid"]
        data = self.files.get(int(aid)) if aid.isdigit() else None
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    def _reject(self, request: web.Request, problems: list[Problem], body: Any, interaction_id: int | None = None
                ) -> web.Response:
        violation = Violation(request.method, request.path[len(API_PREFIX):], problems, body, interaction_id)
        log.error("stand-in rejected %s", violation)
        self.violations.append(violation)
        return _json(error_body(problems), status=400)

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return _json({"message": message, "code": code}, status=status)

    def _record(self, kind: str, body: Any, channel_id: int | None, message_id: int | None,
                record: InteractionRecord | None = None) -> None:
        event = SentEvent(kind, body, channel_id, message_id, record.id if record else None, time.monotonic())
        self.sent.append(event)
        if record is not None:
            record.events.append(event)

    # -- message storage -----------------------------------------------------------------------------------------

    def _new_message(self, channel: Channel, body: JSON, *, record: InteractionRecord | None = None,
                     flags: int = 0, loading: bool = False, mid: int | None = None) -> Message:
        mid = mid or self.ids.next()
        data: JSON = {
            "id": str(mid),
            "channel_id": str(channel.id),
            "guild_id": str(channel.guild_id),
            "author": self.bot_user.to_json(),
            "type": 0,
            "content": body.get("content") or "",
            "embeds": [{"type": "rich", **e} for e in body.get("embeds") or []],
            "components": body.get("components") or [],
            "attachments": _uploaded(body),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts")),
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "flags": flags | (LOADING if loading else 0),
        }
        if record is not None:
            data["type"] = 20 if record.type == APPLICATION_COMMAND else 0
            data["webhook_id"] = str(self.application_id)
            data["application_id"] = str(self.application_id)
            data["interaction_metadata"] = {
                "id": str(record.id),
                "type": record.type,
                "user": self.users[record.user_id].to_json(),
                "authorizing_integration_owners": record.payload.get("authorizing_integration_owners", {}),
            }
        msg = Message(id=mid, channel_id=channel.id, data=data, sent=dict(body),
                      interaction_id=record.id if record else None, ephemeral=bool(flags & EPHEMERAL))
        self._apply_mentions(msg)
        self.messages[mid] = msg
        self.channel_log.setdefault(channel.id, []).append(mid)
        return msg

    def _apply_mentions(self, msg: Message) -> None:
        msg.unpingable_roles = self._unpingable_roles(msg)
        pings = msg.pings()
        msg.data["mention_everyone"] = "everyone" in pings
        msg.data["mentions"] = [self.users[int(p[5:])].to_json() for p in sorted(pings)
                                if p.startswith("user:") and int(p[5:]) in self.users]
        msg.data["mention_roles"] = [p[5:] for p in sorted(pings) if p.startswith("role:")]

    def _unpingable_roles(self, msg: Message) -> frozenset[str]:
        """Role mentions that notify nobody: an unknown role, or one that is not mentionable when the author (the
        bot) lacks Mention @everyone, @here, and All Roles in the channel."""
        channel = self.channels.get(msg.channel_id)
        guild = self.guilds.get(channel.guild_id) if channel is not None else None
        if channel is None or guild is None:
            return frozenset()
        me = guild.members.get(self.bot_user.id)
        may_mention_all = me is not None and bool(guild.permissions_in(me, channel) & Perm.MENTION_EVERYONE)
        blocked = set()
        for rid in role_mentions(msg.content):
            role = guild.roles.get(int(rid))
            if role is None or not (role.mentionable or may_mention_all):
                blocked.add(rid)
        return frozenset(blocked)

    def _edit(self, msg: Message, body: JSON) -> None:
        for key in ("content", "components"):
            if key in body:
                msg.data[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
        if "embeds" in body:
            msg.data["embeds"] = [{"type": "rich", **e} for e in body["embeds"] or []]
        if "attachments" in body:
            # The list is the whole truth: existing attachments not named again are removed, as on Discord.
            kept = {str(a.get("id")) for a in body["attachments"] or [] if isinstance(a, dict)}
            old = [a for a in msg.data.get("attachments") or [] if a["id"] in kept]
            msg.data["attachments"] = old + [a for a in _uploaded(body) if a not in old]
        if "flags" in body and body["flags"] is not None:
            msg.data["flags"] = (msg.data["flags"] & EPHEMERAL) | (body["flags"] & ~EPHEMERAL)
        msg.data["flags"] &= ~LOADING
        msg.data["edited_timestamp"] = iso_now()
        msg.sent = {**msg.sent, **body}
        msg.edits += 1
        self._apply_mentions(msg)

    def _check_channel(self, cid: str, *, need: int) -> Channel | web.Response:
        """The channel, or the error Discord gives: 404 Unknown Channel, 403 Missing Access/Permissions."""
        try:
            channel = self.channels.get(int(cid))
        except ValueError:
            channel = None
        if channel is None or channel.deleted:
            return self._error(404, 10003, "Unknown Channel")
        guild = self.guilds[channel.guild_id]
        perms = guild.permissions_in(guild.members[self.bot_user.id], channel)
        if not perms & Perm.VIEW_CHANNEL:
            return self._error(403, 50001, "Missing Access")
        if need & ~perms:
            return self._error(403, 50013, "Missing Permissions")
        return channel

    # -- REST handlers -------------------------------------------------------------------------------------------

    @property
    def recommended_shards(self) -> int:
        """What GET /gateway/bot recommends: `shards` if given, else one shard per 1,000 servers (as Discord does)."""
        return self.shards if self.shards is not None else max(1, math.ceil(len(self.guilds) / 1000))

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url, "shards": self.recommended_shards,
                                  "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                                                          "max_concurrency": 1}})

    async def _get_me(self, request: web.Request) -> web.Response:
        user = self.bot_user.to_json()
        user.update(verified=True, mfa_enabled=False, locale="en-US", email=None)
        return _json(user)

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json({
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "description": "Local Discord stand-in application",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.to_json(),
            "verify_key": "0" * 64,
            "team": None,
            "flags": 0,
            "bot": self.bot_user.to_json(),
            "interactions_endpoint_url": None,
            "rpc_origins": [],
            "terms_of_service_url": None,
            "privacy_policy_url": None,
            "tags": [],
            "install_params": {"scopes": ["bot", "applications.commands"], "permissions": str(DEFAULT_BOT)},
            "integration_types_config": {},
            "redirect_uris": [],
            "approximate_guild_count": len(self.guilds),
        })

    def _commands_for(self, request: web.Request) -> tuple[int | None, list[JSON]] | web.Response:
        if request.match_info["app"] != str(self.application_id):
            return self._error(403, 50001, "Missing Access")
        guild = request.match_info.get("guild")
        if guild is None:
            return None, self.global_commands
        if not guild.isdigit() or int(guild) not in self.guilds:
            return self._error(403, 50001, "Missing Access")
        return int(guild), self.guild_commands.setdefault(int(guild), [])

    async def _get_commands(self, request: web.Request) -> web.Response:
        found = self._commands_for(request)
        if isinstance(found, web.Response):
            return found
        return _json(found[1])

    async def _put_commands(self, request: web.Request) -> web.Response:
        found = self._commands_for(request)
        if isinstance(found, web.Response):
            return found
        guild_id, existing = found
        body = await self._body(request)
        problems = validate_commands(body)
        if problems:
            return self._reject(request, problems, body)
        by_name = {(c.get("type", 1), c["name"]): c for c in existing}
        stored: list[JSON] = []
        for cmd in body:
            old = by_name.get((cmd.get("type", 1), cmd["name"]))
            new = {
                "type": 1,
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                "options": [],
                **cmd,
                "id": old["id"] if old else str(self.ids.next()),
                "application_id": str(self.application_id),
                "version": str(self.ids.next()),
            }
            if new["default_member_permissions"] is not None:
                new["default_member_permissions"] = str(new["default_member_permissions"])
            if guild_id is not None:
                new["guild_id"] = str(guild_id)
            stored.append(new)
        if guild_id is None:
            self.global_commands = stored
        else:
            self.guild_commands[guild_id] = stored
        self.command_syncs.append((guild_id, stored))
        self._record("command_sync", body, None, None)
        return _json(stored)

    async def _callback(self, request: web.Request) -> web.Response:
        record = self.interactions.get(int(request.match_info["iid"]) if request.match_info["iid"].isdigit() else 0)
        if record is None or record.token != request.match_info["token"]:
            return self._error(404, 10062, "Unknown interaction")
        body = await self._body(request)
        if record.callback_type is not None:
            return self._error(400, 40060, "Interaction has already been acknowledged.")
        elapsed = time.monotonic() - record.dispatched_at
        if elapsed > self.interaction_deadline:
            # Discord drops the token after 3 s: the user saw "The application did not respond".
            record.late_callback = True
            record.callback_at = time.monotonic()
            self._record("callback", body, record.channel_id, None, record)
            return self._error(404, 10062, "Unknown interaction")
        if not isinstance(body, dict) or body.get("type") not in _ALLOWED_CALLBACKS.get(record.type, set()):
            problem = Problem(("type",), "INTERACTION_CALLBACK_TYPE_INVALID",
                              f"Callback type {body.get('type') if isinstance(body, dict) else body!r} is not valid "
                              f"for interaction type {record.type}.")
            return self._reject(request, [problem], body, record.id)
        kind = body["type"]
        data = body.get("data") or {}
        if kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            problems = [
                Problem(("data", *p.path), p.code, p.message)
                for p in validate_message(data, interaction=True, edit=kind == UPDATE_MESSAGE,
                                          require_allowed_mentions=self.require_allowed_mentions)
            ]
        elif kind == AUTOCOMPLETE_RESULT:
            problems = validate_choices(data)
        elif kind == MODAL:
            problems = []
            if not data.get("custom_id") or not data.get("title") or len(data.get("title", "")) > 45:
                problems.append(Problem(("data",), "MODAL_INVALID", "A modal needs a custom_id and a title <= 45."))
        else:
            problems = []
        if problems:
            return self._reject(request, problems, body, record.id)
        channel = self.channels[record.channel_id]
        record.callback_type = kind
        record.callback_at = time.monotonic()
        record.callback_data = data
        message: Message | None = None
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            flags = int(data.get("flags") or 0)
            message = self._new_message(channel, data if kind == CHANNEL_MESSAGE else {}, record=record,
                                        flags=flags, loading=kind == DEFERRED_CHANNEL_MESSAGE)
            if kind == DEFERRED_CHANNEL_MESSAGE:
                message.sent = {}
            record.original_id = message.id
        elif kind == UPDATE_MESSAGE and record.original_id in self.messages:
            message = self.messages[record.original_id]
            self._edit(message, data)
        elif kind == DEFERRED_UPDATE and record.original_id in self.messages:
            message = self.messages[record.original_id]
        self._record("callback", body, channel.id, message.id if message else None, record)
        if message is not None and not message.ephemeral:
            event = "MESSAGE_CREATE" if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE) else "MESSAGE_UPDATE"
            await self._dispatch_if(event, message.data, intent=INTENT_GUILD_MESSAGES)
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        response: JSON = {"interaction": {"id": str(record.id), "type": record.type}}
        if message is not None:
            response["interaction"].update(
                response_message_id=str(message.id),
                response_message_loading=bool(message.data["flags"] & LOADING),
                response_message_ephemeral=message.ephemeral,
            )
            response["resource"] = {"type": kind, "message": message.data}
        else:
            response["resource"] = {"type": kind}
        return _json(response)

    def _webhook_record(self, request: web.Request) -> InteractionRecord | web.Response:
        if request.match_info["app"] != str(self.application_id):
            return self._error(404, 10015, "Unknown Webhook")
        token = request.match_info["token"]
        record = next((r for r in self.interactions.values() if r.token == token), None)
        if record is None:
            return self._error(404, 10015, "Unknown Webhook")
        if record.callback_type is None or record.late_callback:
            return self._error(404, 10015, "Unknown Webhook")
        return record

    def _webhook_message(self, request: web.Request) -> tuple[InteractionRecord, Message] | web.Response:
        record = self._webhook_record(request)
        if isinstance(record, web.Response):
            return record
        mid = request.match_info["mid"]
        if mid == "@original":
            msg = self.messages.get(record.original_id or 0)
        else:
            msg = self.messages.get(int(mid)) if mid.isdigit() else None
            if msg is not None and msg.id not in record.followup_ids and msg.id != record.original_id:
                msg = None
        if msg is None or msg.deleted:
            return self._error(404, 10008, "Unknown Message")
        return record, msg

    async def _webhook_get(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        _record, msg = found
        return _json(msg.data)

    async def _webhook_edit(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        record, msg = found
        body = await self._body(request)
        problems = validate_message(body, interaction=True, edit=True,
                                    require_allowed_mentions=self.require_allowed_mentions)
        if problems:
            return self._reject(request, problems, body, record.id)
        self._edit(msg, body)
        original = request.match_info["mid"] == "@original"
        self._record("original_edit" if original else "followup_edit", body, msg.channel_id, msg.id, record)
        if not msg.ephemeral:
            await self._dispatch_if("MESSAGE_UPDATE", msg.data, intent=INTENT_GUILD_MESSAGES)
        return _json(msg.data)

    async def _webhook_delete(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        record, msg = found
        msg.deleted = True
        original = request.match_info["mid"] == "@original"
        self._record("original_delete" if original else "followup_delete", None, msg.channel_id, msg.id, record)
        return web.Response(status=204)

    async def _followup(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        if isinstance(record, web.Response):
            return record
        body = await self._body(request)
        problems = validate_message(body, interaction=True, require_allowed_mentions=self.require_allowed_mentions)
        if problems:
            return self._reject(request, problems, body, record.id)
        channel = self.channels[record.channel_id]
        flags = int(body.get("flags") or 0)
        original = self.messages.get(record.original_id or 0)
        if original is not None and original.data["flags"] & LOADING and record.callback_type == \
                DEFERRED_CHANNEL_MESSAGE:
            # The first followup after a "thinking" defer replaces the loading message, as Discord does.
            self._edit(original, body)
            original.ephemeral = original.ephemeral or bool(flags & EPHEMERAL)
            self._record("followup", body, channel.id, original.id, record)
            return _json(original.data)
        msg = self._new_message(channel, body, record=record, flags=flags)
        record.followup_ids.append(msg.id)
        self._record("followup", body, channel.id, msg.id, record)
        if not msg.ephemeral:
            await self._dispatch_if("MESSAGE_CREATE", msg.data, intent=INTENT_GUILD_MESSAGES)
        if request.query.get("wait") in ("1", "true", "True"):
            return _json(msg.data)
        return web.Response(status=204)

    async def _get_channel(self, request: web.Request) -> web.Response:
        checked = self._check_channel(request.match_info["cid"], need=0)
        if isinstance(checked, web.Response):
            return checked
        return _json(checked.to_json())

    async def _list_messages(self, request: web.Request) -> web.Response:
        checked = self._check_channel(request.match_info["cid"], need=Perm.READ_MESSAGE_HISTORY)
        if isinstance(checked, web.Response):
            return checked
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 100:
            problem = Problem(("limit",), "NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1.")
            return self._reject(request, [problem], dict(request.query))
        msgs = self.messages_in(checked.id)
        before, after, around = (request.query.get(k) for k in ("before", "after", "around"))
        if before:
            msgs = [m for m in msgs if m.id < int(before)]
        if after:
            msgs = [m for m in msgs if m.id > int(after)]
            msgs = msgs[:limit]
        if around:
            pivot = int(around)
            older = [m for m in msgs if m.id <= pivot][-(limit // 2 + 1):]
            newer = [m for m in msgs if m.id > pivot][: limit - len(older)]
            msgs = older + newer
        msgs = msgs[-limit:]
        return _json([m.data for m in reversed(msgs)])

    async def _create_message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        embeds = isinstance(body, dict) and bool(body.get("embeds"))
        cid = request.match_info["cid"]
        target = self.channels.get(int(cid)) if cid.isdigit() else None
        # In a thread Discord asks for Send Messages in Threads instead of Send Messages.
        send = Perm.SEND_MESSAGES_IN_THREADS if target is not None and target.is_thread else Perm.SEND_MESSAGES
        checked = self._check_channel(cid, need=send | (Perm.EMBED_LINKS if embeds else 0))
        if isinstance(checked, web.Response):
            return checked
        if checked.type == ChannelType.FORUM:
            return self._error(400, 50024, "Cannot execute action on this channel type")
        if checked.is_thread and not self.permissions(checked.guild_id, self.bot_user.id, checked.id) & \
                Perm.SEND_MESSAGES_IN_THREADS:
            return self._error(403, 50013, "Missing Permissions")
        problems = validate_message(body, interaction=False, require_allowed_mentions=self.require_allowed_mentions)
        if problems:
            return self._reject(request, problems, body)
        msg = self._new_message(checked, body, flags=int(body.get("flags") or 0))
        self._record("message", body, checked.id, msg.id)
        await self._dispatch_if("MESSAGE_CREATE", msg.data, intent=INTENT_GUILD_MESSAGES)
        return _json(msg.data)

    def _channel_message(self, request: web.Request, need: int) -> tuple[Channel, Message] | web.Response:
        checked = self._check_channel(request.match_info["cid"], need=need)
        if isinstance(checked, web.Response):
            return checked
        mid = request.match_info["mid"]
        msg = self.messages.get(int(mid)) if mid.isdigit() else None
        if msg is None or msg.deleted or msg.channel_id != checked.id or msg.ephemeral:
            return self._error(404, 10008, "Unknown Message")
        return checked, msg

    async def _get_message(self, request: web.Request) -> web.Response:
        found = self._channel_message(request, Perm.READ_MESSAGE_HISTORY)
        if isinstance(found, web.Response):
            return found
        return _json(found[1].data)

    async def _edit_message(self, request: web.Request) -> web.Response:
        found = self._channel_message(request, 0)
        if isinstance(found, web.Response):
            return found
        channel, msg = found
        if msg.data["author"]["id"] != str(self.bot_user.id):
            return self._error(403, 50005, "Cannot edit a message authored by another user")
        body = await self._body(request)
        problems = validate_message(body, interaction=False, edit=True,
                                    require_allowed_mentions=self.require_allowed_mentions)
        if problems:
            return self._reject(request, problems, body)
        self._edit(msg, body)
        self._record("message_edit", body, channel.id, msg.id)
        await self._dispatch_if("MESSAGE_UPDATE", msg.data, intent=INTENT_GUILD_MESSAGES)
        return _json(msg.data)

    async def _delete_message(self, request: web.Request) -> web.Response:
        found = self._channel_message(request, 0)
        if isinstance(found, web.Response):
            return found
        channel, msg = found
        msg.deleted = True
        self._record("message_delete", None, channel.id, msg.id)
        await self._dispatch_if("MESSAGE_DELETE", {"id": str(msg.id), "channel_id": str(channel.id),
                                                   "guild_id": str(channel.guild_id)}, intent=INTENT_GUILD_MESSAGES)
        return web.Response(status=204)

    async def _crosspost(self, request: web.Request) -> web.Response:
        found = self._channel_message(request, Perm.SEND_MESSAGES)
        if isinstance(found, web.Response):
            return found
        channel, msg = found
        if channel.type != ChannelType.ANNOUNCEMENT:
            return self._error(400, 50068, "Invalid message type for this operation")
        if msg.crossposted:
            return self._error(400, 40033, "This message has already been crossposted.")
        limit, window = self.publish_limit
        now = time.monotonic()
        channel.publishes[:] = [t for t in channel.publishes if now - t < window]
        if len(channel.publishes) >= limit:
            retry_after = round(window - (now - channel.publishes[0]), 3)
            bucket, _ = self._bucket_headers("crosspost-hourly", str(channel.id))
            return self._too_many(retry_after, bucket)
        channel.publishes.append(now)
        msg.crossposted = True
        msg.data["flags"] |= CROSSPOSTED
        self._record("crosspost", None, channel.id, msg.id)
        return _json(msg.data)

    async def _create_thread(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        checked = self._check_channel(request.match_info["cid"], need=Perm.SEND_MESSAGES)
        if isinstance(checked, web.Response):
            return checked
        if checked.type != ChannelType.FORUM:
            return self._error(400, 50024, "Cannot execute action on this channel type")
        problems = validate_thread(body, require_allowed_mentions=self.require_allowed_mentions)
        if problems:
            return self._reject(request, problems, body)
        message_body = body["message"]
        if message_body.get("embeds") and not self.permissions(checked.guild_id, self.bot_user.id, checked.id) & \
                Perm.EMBED_LINKS:
            return self._error(403, 50013, "Missing Permissions")
        known = {str(t["id"]) for t in checked.available_tags}
        applied = [str(t) for t in body.get("applied_tags") or []]
        unknown = [i for i, t in enumerate(applied) if t not in known]
        if unknown:
            problems = [Problem(("applied_tags", i), "TAG_NOT_FOUND", "Unknown tag") for i in unknown]
            return self._reject(request, problems, body)
        thread = Channel(id=self.ids.next(), guild_id=checked.guild_id, name=body["name"],
                         type=ChannelType.PUBLIC_THREAD, parent_id=checked.id, owner_id=self.bot_user.id,
                         applied_tags=list(dict.fromkeys(applied)),
                         auto_archive_duration=int(body.get("auto_archive_duration") or 1440))
        self.channels[thread.id] = thread
        self.guilds[checked.guild_id].channels[thread.id] = thread
        # As on Discord, a forum post's starter message has the thread's id.
        msg = self._new_message(thread, message_body, flags=int(message_body.get("flags") or 0), mid=thread.id)
        self._record("thread", body, thread.id, msg.id)
        await self._dispatch_if("THREAD_CREATE", {**thread.to_json(), "newly_created": True})
        await self._dispatch_if("MESSAGE_CREATE", msg.data, intent=INTENT_GUILD_MESSAGES)
        data = thread.to_json()
        data["message"] = msg.data
        data["member"] = {"id": str(thread.id), "user_id": str(self.bot_user.id), "join_timestamp": iso_now(),
                          "flags": 0}
        return _json(data, status=201)

    async def _start_thread_from_message(self, request: web.Request) -> web.Response:
        """Start Thread from Message: a public thread (an announcement thread in an announcement channel) whose id
        is the message's, so a message has one thread at most (160004 after that). Not in forums."""
        checked = self._check_channel(request.match_info["cid"], need=Perm.CREATE_PUBLIC_THREADS)
        if isinstance(checked, web.Response):
            return checked
        if checked.type not in (ChannelType.TEXT, ChannelType.ANNOUNCEMENT):
            return self._error(400, 50024, "Cannot execute action on this channel type")
        mid = request.match_info["mid"]
        msg = self.messages.get(int(mid)) if mid.isdigit() else None
        if msg is None or msg.deleted or msg.channel_id != checked.id or msg.ephemeral:
            return self._error(404, 10008, "Unknown Message")
        existing = self.channels.get(msg.id)
        if existing is not None:
            return self._error(400, 160004, "A thread has already been created for this message")
        body = await self._body(request)
        problems = validate_thread_start(body)
        if problems:
            return self._reject(request, problems, body)
        announcement = checked.type == ChannelType.ANNOUNCEMENT
        kind = ChannelType.ANNOUNCEMENT_THREAD if announcement else ChannelType.PUBLIC_THREAD
        thread = Channel(id=msg.id, guild_id=checked.guild_id, name=body["name"], type=kind, parent_id=checked.id,
                         owner_id=self.bot_user.id,
                         auto_archive_duration=int(body.get("auto_archive_duration") or 1440))
        self.channels[thread.id] = thread
        self.guilds[checked.guild_id].channels[thread.id] = thread
        msg.data["thread"] = thread.to_json()
        self._record("thread_start", body, thread.id, msg.id)
        await self._dispatch_if("THREAD_CREATE", {**thread.to_json(), "newly_created": True})
        await self._dispatch_if("MESSAGE_UPDATE", msg.data, intent=INTENT_GUILD_MESSAGES)
        return _json(thread.to_json(), status=201)

    async def _edit_channel(self, request: web.Request) -> web.Response:
        """Modify Channel (Manage Channels): its name, and a forum's available_tags (the list is the whole truth;
        a tag without an id is new and gets one)."""
        checked = self._check_channel(request.match_info["cid"], need=Perm.MANAGE_CHANNELS)
        if isinstance(checked, web.Response):
            return checked
        body = await self._body(request)
        problems = validate_channel_edit(body)
        if problems:
            return self._reject(request, problems, body)
        if "available_tags" in body:
            if checked.type != ChannelType.FORUM:
                return self._error(400, 50024, "Cannot execute action on this channel type")
            tags = []
            for tag in body["available_tags"]:
                tags.append({
                    "id": str(tag.get("id") or self.ids.next()),
                    "name": tag["name"],
                    "moderated": bool(tag.get("moderated")),
                    "emoji_id": tag.get("emoji_id"),
                    "emoji_name": tag.get("emoji_name"),
                })
            checked.available_tags = tags
        if "name" in body:
            checked.name = body["name"]
        self._record("channel_edit", body, checked.id, None)
        await self._dispatch_if("CHANNEL_UPDATE", checked.to_json())
        return _json(checked.to_json())

    async def _get_guild(self, request: web.Request) -> web.Response:
        gid = request.match_info["guild"]
        guild = self.guilds.get(int(gid)) if gid.isdigit() else None
        if guild is None:
            return self._error(404, 10004, "Unknown Guild")
        data = guild.to_json(self_id=self.bot_user.id, include_all_members=False)
        for key in ("channels", "members", "threads", "voice_states", "presences"):
            data.pop(key, None)
        return _json(data)

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        gid = request.match_info["guild"]
        guild = self.guilds.get(int(gid)) if gid.isdigit() else None
        if guild is None:
            return self._error(404, 10004, "Unknown Guild")
        return _json([c.to_json() for c in guild.channels.values() if not c.is_thread and not c.deleted])

    async def _get_member(self, request: web.Request) -> web.Response:
        gid, uid = request.match_info["guild"], request.match_info["uid"]
        guild = self.guilds.get(int(gid)) if gid.isdigit() else None
        if guild is None:
            return self._error(404, 10004, "Unknown Guild")
        member = guild.members.get(int(uid)) if uid.isdigit() else None
        if member is None:
            return self._error(404, 10007, "Unknown Member")
        return _json(member.to_json())

    def _managing_roles(self, request: web.Request) -> Guild | web.Response:
        """The guild, when the bot has Manage Roles there (Discord: 404 Unknown Guild, 403 Missing Permissions)."""
        gid = request.match_info["guild"]
        guild = self.guilds.get(int(gid)) if gid.isdigit() else None
        if guild is None:
            return self._error(404, 10004, "Unknown Guild")
        if not guild.base_permissions(guild.members[self.bot_user.id]) & Perm.MANAGE_ROLES:
            return self._error(403, 50013, "Missing Permissions")
        return guild

    def _top_position(self, guild: Guild, user_id: int) -> int:
        member = guild.members[user_id]
        return max((guild.roles[r].position for r in member.role_ids if r in guild.roles), default=0)

    async def _create_role(self, request: web.Request) -> web.Response:
        """POST /guilds/{guild.id}/roles: a new role at the bottom of the list (position 1, just above @everyone),
        as Discord creates it; 250 roles at most (30005)."""
        guild = self._managing_roles(request)
        if isinstance(guild, web.Response):
            return guild
        body = await self._body(request) or {}
        name = body.get("name") if body.get("name") is not None else "new role"
        if not isinstance(name, str) or len(name) > 100:
            return self._reject(request, [Problem(("name",), "BASE_TYPE_MAX_LENGTH",
                                                  "Must be 100 or fewer in length.")], body)
        if len(guild.roles) >= 250:
            return self._error(400, 30005, "Maximum number of guild roles reached (250)")
        for role in guild.roles.values():
            if role.position >= 1:
                role.position += 1
        role = Role(id=self.ids.next(), name=name, permissions=int(body.get("permissions") or 0), position=1,
                    mentionable=bool(body.get("mentionable")))
        guild.roles[role.id] = role
        self._record("role_create", body, None, None)
        await self._dispatch_if("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_json()})
        return _json(role.to_json())

    async def _member_role(self, request: web.Request) -> web.Response:
        """PUT/DELETE /guilds/{guild.id}/members/{user.id}/roles/{role.id}: only roles below the bot's highest
        role, never a managed one (403 50013), as Discord enforces the role hierarchy."""
        guild = self._managing_roles(request)
        if isinstance(guild, web.Response):
            return guild
        uid, rid = request.match_info["uid"], request.match_info["rid"]
        member = guild.members.get(int(uid)) if uid.isdigit() else None
        if member is None:
            return self._error(404, 10007, "Unknown Member")
        role = guild.roles.get(int(rid)) if rid.isdigit() else None
        if role is None:
            return self._error(404, 10011, "Unknown Role")
        if role.managed or role.id == guild.id or role.position >= self._top_position(guild, self.bot_user.id):
            return self._error(403, 50013, "Missing Permissions")
        if request.method == "PUT" and role.id not in member.role_ids:
            member.role_ids.append(role.id)
        elif request.method == "DELETE" and role.id in member.role_ids:
            member.role_ids.remove(role.id)
        else:
            return web.Response(status=204)
        self._record("member_roles", {"roles": [str(r) for r in member.role_ids]}, None, None)
        await self._dispatch_if("GUILD_MEMBER_UPDATE", {**member.to_json(), "guild_id": str(guild.id)},
                                intent=INTENT_GUILD_MEMBERS)
        return web.Response(status=204)

    def member_roles(self, guild_id: int, user_id: int) -> list[int]:
        """The role ids a member has now."""
        return list(self.guilds[guild_id].members[user_id].role_ids)

    async def _active_threads(self, request: web.Request) -> web.Response:
        gid = request.match_info["guild"]
        guild = self.guilds.get(int(gid)) if gid.isdigit() else None
        if guild is None:
            return self._error(404, 10004, "Unknown Guild")
        threads = [c.to_json() for c in guild.channels.values() if c.is_thread and not c.deleted]
        return _json({"threads": threads, "members": []})

    async def _archived_threads(self, request: web.Request) -> web.Response:
        checked = self._check_channel(request.match_info["cid"], need=Perm.READ_MESSAGE_HISTORY)
        if isinstance(checked, web.Response):
            return checked
        # Stand-in threads never archive.
        return _json({"threads": [], "members": [], "has_more": False})

    # -- control endpoints for a person driving the standalone server -------------------------------------------------

    async def _control_state(self, request: web.Request) -> web.Response:
        return _json({
            "base_url": self.base_url,
            "gateway_url": self.gateway_url,
            "connected": self.gateway.connected,
            "identifies": self.gateway.identifies,
            "resumes": self.gateway.resumes,
            "guilds": [{"id": str(g.id), "name": g.name,
                        "channels": [{"id": str(c.id), "name": c.name, "type": c.type} for c in g.channels.values()],
                        "members": [{"id": str(m.id), "name": m.user.username} for m in g.members.values()]}
                       for g in self.guilds.values()],
            "commands": {"global": [c["name"] for c in self.global_commands],
                         "guilds": {str(k): [c["name"] for c in v] for k, v in self.guild_commands.items()}},
            "messages": [{"channel_id": str(m.channel_id), "id": str(m.id), "text": m.text(),
                          "ephemeral": m.ephemeral} for m in self.messages.values() if not m.deleted][-50:],
            "problems": self.problems(),
        })

    async def _control_invoke(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            result = await self.invoke(int(body["guild_id"]), int(body["channel_id"]), int(body["user_id"]),
                                       str(body["command"]), body.get("options") or {},
                                       timeout=float(body.get("timeout", 10)))
        except (LookupError, ValueError, NoReply) as exc:
            return _json({"error": str(exc)}, status=400)
        return _json({
            "callback_type": result.callback_type,
            "ack_seconds": result.ack_seconds,
            "ephemeral": result.ephemeral,
            "text": result.text(),
            "message": result.message.data if result.message else None,
        })
