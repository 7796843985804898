"""The Discord client: loads the cogs, syncs slash commands sparingly, runs the jobs, answers every error."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import discord.gateway
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.shard import Shard

from bot import discord_env
from bot.admin_log_poster import DiscordTextPoster
from bot.alert_posters import DiscordPoster
from bot.backoff import Backoff
from bot.digest_posters import DiscordDigestPoster
from bot.errors import HeatwaveError
from bot.leadership import COMMAND_SYNC_LEASE, Leadership, process_name, scan_leadership
from bot.pacing import RestPacer
from bot.scheduling import POST_ALERTS_JOB_ID, POST_DIGESTS_JOB_ID, IngestFunction, PeriodicJobs
from bot.sources import folder_sources, git_sources
from db import DatabaseError
from db.models import ShardSet

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)

# Explicit, so a stray file in cogs/ never becomes a live feature; each module ends in `async def setup(bot)`.
EXTENSIONS: tuple[str, ...] = (
    "cogs.lookups", "cogs.alerts", "cogs.digests", "cogs.why", "cogs.roles", "cogs.heat"
)

# The least the bot needs (Discord docs, "Permissions" and the routes it calls):
# - View Channel + Send Messages + Embed Links: post an alert embed in a text or announcement channel. Send Messages
#   is also all a forum post needs ("Start Thread in Forum Channel" requires SEND_MESSAGES) and all a crosspost of
#   the bot's *own* message needs (MANAGE_MESSAGES is only for other people's messages), so neither Create Public
#   Threads nor Manage Messages is asked for.
# - Read Message History: crash recovery looks for an unconfirmed alert in the channel's recent messages.
# Slash-command replies are interaction webhooks and need no channel permission at all.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, read_message_history=True
)
INVITE_SCOPES = ("bot", "applications.commands")

# A 429 longer than this raises discord.RateLimited instead of sleeping inside the caller: an alert tick would
# otherwise stall every channel behind one channel's hour-long crosspost limit. The alert engine turns
# RateLimited into a hold on that channel until `retry_after`; a slash-command reply that long overdue is lost anyway.
MAX_RATELIMIT_SLEEP_SECONDS = 30.0

# Longer than any sync takes: the lease is handed back as soon as the sync is done.
COMMAND_SYNC_TERM = timedelta(minutes=5)

# Per application: the same database used with another bot's token must not skip that bot's first sync.
_SYNC_HASH_KEY = "command_sync.global_hash.{application_id}"

# "Discord cannot be reached right now", as opposed to "this will never work": no route, a refused or reset
# connection, a timeout, or 5xx answers that discord.py already retried a few times itself. A rejected token
# (LoginFailure) and other 4xx answers are not in here: trying again cannot fix them.
UNREACHABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    aiohttp.ClientError,
    TimeoutError,
    discord.DiscordServerError,
)

SYNC_FAILURES: tuple[type[BaseException], ...] = (discord.HTTPException, *UNREACHABLE_ERRORS)

# The event HeatwaveTree.on_error dispatches for a command that failed (listeners: `on_heatwave_command_failed`,
# e.g. the metrics); discord.py dispatches `app_command_completion` only for commands that succeeded.
COMMAND_FAILED_EVENT = "heatwave_command_failed"

APOLOGY = (
    "Sorry, something went wrong on my side while answering that. It has been logged (ref {ref}); please try again."
)


def invite_url(application_id: int, *, guild_id: int | None = None) -> str:
    """The OAuth2 URL that adds the bot with exactly INVITE_PERMISSIONS (pre-selecting `guild_id` if given)."""
    guild = discord.Object(guild_id) if guild_id is not None else discord.utils.MISSING
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS, guild=guild, scopes=INVITE_SCOPES)


def describe_shards(ids: Sequence[int], count: int) -> str:
    """"shard 0 of 1", "shards 0-3 of 8", "shards 0, 2, 5 of 6": ranges of consecutive ids are joined."""
    parts: list[str] = []
    ordered = sorted(ids)
    start = previous = ordered[0] if ordered else 0
    for current in [*ordered[1:], None]:
        if current is not None and current == previous + 1:
            previous = current
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if current is not None:
            start = previous = current
    noun = "shard" if len(ordered) == 1 else "shards"
    return f"{noun} {', '.join(parts)} of {count}"


def command_tree_hash(tree: app_commands.CommandTree[Any]) -> str:
    """A stable digest of what a global sync would upload: the same commands → the same hash, in any order."""
    payloads = [
        json.dumps(command.to_dict(tree), sort_keys=True, separators=(",", ":")) for command in tree.get_commands()
    ]
    return hashlib.sha256("\n".join(sorted(payloads)).encode()).hexdigest()


def _permission_names(names: Sequence[str]) -> str:
    # Discord's UI says "Server" where the API says "guild".
    return ", ".join(name.replace("_", " ").replace("guild", "server").title() for name in names)


def describe_error(error: BaseException) -> str | None:
    """The helpful text for an expected app-command error, or None when it is a bug (log it, apologise)."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    for candidate in (original, original.__cause__):
        if isinstance(candidate, HeatwaveError):
            return candidate.user_message
    if isinstance(error, app_commands.MissingPermissions):
        return f"You need the {_permission_names(error.missing_permissions)} permission to use this command."
    if isinstance(error, app_commands.BotMissingPermissions):
        return (
            f"I'm missing the {_permission_names(error.missing_permissions)} permission here; "
            "ask a server manager to grant it."
        )
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works inside a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {max(1, round(error.retry_after))} s."
    if isinstance(error, app_commands.MissingRole | app_commands.MissingAnyRole):
        return "You don't have the role this command needs."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    if isinstance(error, app_commands.TransformerError):
        shown = discord.utils.escape_markdown(str(error.value))[:100]
        kind = error.type.name.replace("_", " ")
        return f"I couldn't use “{shown}” as a {kind} here. Pick one of the suggestions, or check the value."
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return "This command changed recently and Discord showed you an old version; please try again in a minute."
    return None


async def _reply_ephemeral(interaction: discord.Interaction[Any], text: str) -> None:
    """Answer with `text` whether or not the interaction was already answered; never raises."""
    if interaction.is_expired():
        log.info("could not tell the user (interaction %s expired): %s", interaction.id, text)
        return
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
        else:
            try:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
                )
            except discord.InteractionResponded:
                # A concurrent responder won the race between is_done() and our reply.
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
        # 10062 Unknown interaction (the 3 s / 15 min window closed) or Discord unreachable: nothing more we
        # can tell this user, and raising here would only become an unretrieved task exception.
        log.warning("could not send an error reply for interaction %s: %s", interaction.id, exc)


def _reason(exc: BaseException) -> str:
    """One line saying what failed; some errors (a bare TimeoutError) have no text of their own."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class HeatwaveTree(app_commands.CommandTree["HeatwaveBot"]):
    """The command tree with the one app-command error handler."""

    async def on_error(
        self, interaction: discord.Interaction[HeatwaveBot], error: app_commands.AppCommandError, /
    ) -> None:
        """Expected errors → a helpful ephemeral reply; anything else → traceback in the log, apology to the user."""
        self.client.dispatch(COMMAND_FAILED_EVENT, interaction, error)
        command = interaction.command.qualified_name if interaction.command is not None else "?"
        text = describe_error(error)
        if text is not None:
            log.debug("/%s: %s (%s)", command, text, type(error).__name__)
        else:
            original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
            ref = uuid.uuid4().hex[:8]
            log.error(
                "unexpected error in /%s (ref %s, guild %s, user %s)",
                command,
                ref,
                interaction.guild_id,
                interaction.user.id,
                exc_info=original,
                extra={"guild": interaction.guild_id, "command": command},
            )
            text = APOLOGY.format(ref=ref)
        await _reply_ephemeral(interaction, text)


class SendTimedKeepAlive(discord.gateway.KeepAliveHandler):
    """discord.py's heartbeat thread, with each heartbeat timed from the moment its payload is built.

    discord.py notes a heartbeat's send time in the heartbeat thread, only after the event loop has reported the
    send done. When the gateway's ACK comes back before that thread runs again (a sub-millisecond round trip, as
    with a gateway on the same machine), `ack()` measures from the *previous* heartbeat: `bot.latency` reads a
    whole heartbeat interval and, since the interval is 41.25 s, every heartbeat logs "Can't keep up, shard ID None
    websocket is 41.3s behind" while the bot answers in milliseconds. Noting the time before the payload is handed
    to the loop cannot come after the ACK. (The thread still overwrites it once the send is done; an ACK that
    arrives after that is timed from there, as before.)
    """

    def get_payload(self) -> dict[str, Any]:
        """The heartbeat payload, with its send time noted first."""
        self._last_send = time.perf_counter()
        return super().get_payload()


def use_send_timed_heartbeats() -> None:
    """Make discord.py's gateway create SendTimedKeepAlive for every new connection (process-wide, idempotent)."""
    # The gateway looks the class up in its module when HELLO arrives, so replacing the module attribute is the
    # one place to hook in; the voice heartbeat has its own class and is untouched.
    discord.gateway.KeepAliveHandler = SendTimedKeepAlive  # type: ignore[misc]


class HeatwaveBot(commands.AutoShardedBot):
    """Heatwave on Discord. Everything it uses is passed in; nothing happens until `start`."""

    def __init__(
        self,
        services: Services,
        *,
        extensions: Sequence[str] = EXTENSIONS,
        ingest: IngestFunction | None = None,
        guild_ready_timeout: float = 2.0,
        max_ratelimit_timeout: float | None = MAX_RATELIMIT_SLEEP_SECONDS,
        backoff: Callable[[], Backoff] = Backoff,
        scan_leader: Leadership | None = None,
    ) -> None:
        use_send_timed_heartbeats()
        intents = discord.Intents.none()
        # Guilds only: channel and permission caches for posting alerts. Slash commands arrive without any
        # intent, so no privileged intent (members, presences, message content) is requested.
        intents.guilds = True
        super().__init__(
            # Prefix commands are unused: with no message intents none could ever arrive.
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            tree_cls=HeatwaveTree,
            # Default for every message, on top of the explicit per-send value: story text never pings anyone.
            allowed_mentions=discord.AllowedMentions.none(),
            # How long READY waits for GUILD_CREATEs before firing (tests shorten it), and the longest
            # rate-limit sleep discord.py accepts before raising instead (None: wait as long as Discord says).
            guild_ready_timeout=guild_ready_timeout,
            max_ratelimit_timeout=max_ratelimit_timeout,
        )
        self.services = services
        self._extensions = tuple(extensions)
        self._app_state = services.store.app_state
        settings = services.settings
        self.pacer = RestPacer(settings.rest_rate)
        self.jobs = PeriodicJobs(
            services,
            DiscordPoster(self, pacer=self.pacer),
            news_dir=settings.news_dir,
            scan_seconds=settings.scan_seconds,
            post_seconds=settings.post_seconds,
            max_file_bytes=settings.max_file_bytes,
            ready=self.is_ready,
            ingest=ingest,
            digest_poster=DiscordDigestPoster(self),
            extra_dirs=folder_sources(settings.sources),
            git_sources=git_sources(settings.sources),
            data_dir=settings.data_dir,
            watch=settings.watch,
            shards=lambda: self.own_shards,
            scan_leader=scan_leader if scan_leader is not None else scan_leadership(services),
        )
        # Problems and changes of each server's alerts go to its log channel through this client.
        services.admin_log.poster = DiscordTextPoster(self)
        self._invite_logged = False
        # Until `start` has chosen the shards, this process owns no server.
        self._shards = ShardSet(1, frozenset())
        # A fresh Backoff for each run of failed attempts to reach Discord at start (tests pass short delays).
        self._backoff = backoff

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        """Log in, choose the shards, then hold one gateway connection per shard, as discord.py's `start` does, but
        wait out a Discord that cannot be reached at start: each failed attempt is logged with the next try's
        delay, and retried until it works or the task is cancelled (SIGINT/SIGTERM). A rejected token
        (LoginFailure) and shard settings Discord cannot serve (SettingsError) are not retried."""
        endpoints = discord_env.current()
        await self._until_reachable(
            f"log in to Discord at {endpoints.api_base}", lambda: self.login(token), self._forget_http_session
        )
        await self._until_reachable(f"ask Discord at {endpoints.api_base} for the shard count", self._choose_shards)
        await self.connect(reconnect=reconnect)

    async def _choose_shards(self) -> None:
        settings = self.services.settings
        count = settings.shard_count
        if count is None:
            # Discord's recommendation: one shard per ~1,000 servers (2,500 is the most one connection may hold).
            count, _url, _limits = await self.http.get_bot_gateway()
        ids = settings.shards_for(count)  # SettingsError when HEATWAVE_SHARDS names a shard beyond the count
        self.shard_count = count
        self.shard_ids = list(ids)
        self._shards = ShardSet(count, frozenset(ids))
        log.info("running %s", describe_shards(ids, count))
        if len(ids) < count and not self.services.store_location.shared_over_network:
            log.warning(
                "the other shards run in other processes sharing the store %s, a file: they must all run on this "
                "machine; use a PostgreSQL store (HEATWAVE_DB=postgresql://...) to spread processes over machines",
                self.services.store_location,
            )

    @property
    def own_shards(self) -> ShardSet:
        """The shards this process runs: it posts the alerts and digests of their servers only."""
        return self._shards

    def owns_guild(self, guild_id: int) -> bool:
        """Whether this process runs the shard Discord routes this server to ((guild_id >> 22) % shard_count)."""
        return self._shards.owns(guild_id)

    async def launch_shard(self, gateway: yarl.URL, shard_id: int, *, initial: bool = False) -> None:
        """discord.py's `launch_shard`, with our retries: a gateway that cannot be reached is tried again with
        the back-off and logged like a failed login (discord.py would log a traceback and retry every 5 s)."""
        where = discord_env.current().gateway_url
        what = f"connect to Discord's gateway at {where}"
        if self.shard_count is not None and self.shard_count > 1:
            what += f" (shard {shard_id})"

        async def attempt() -> None:
            # gateway=None: each attempt reads discord.py's current gateway URL, as a plain connect() does.
            connecting = DiscordWebSocket.from_client(self, initial=initial, gateway=None, shard_id=shard_id)
            ws = await asyncio.wait_for(connecting, timeout=self.shard_connect_timeout)
            # What AutoShardedClient.launch_shard does once connected: keep reading the shard on its own task.
            shard = Shard(ws, self, self._AutoShardedClient__queue.put_nowait)  # type: ignore[attr-defined]
            self._AutoShardedClient__shards[shard_id] = shard  # type: ignore[attr-defined]
            shard.launch()

        await self._until_reachable(what, attempt)

    async def _until_reachable(
        self,
        what: str,
        attempt: Callable[[], Awaitable[None]],
        before_retry: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        backoff = self._backoff()
        failures = 0
        while True:
            try:
                await attempt()
            except UNREACHABLE_ERRORS as exc:
                if self.is_closed():
                    raise
                failures += 1
                delay = backoff.next_delay()
                log.warning("could not %s (attempt %d: %s); next try in %.1f s", what, failures, _reason(exc), delay)
                if before_retry is not None:
                    await before_retry()
                await asyncio.sleep(delay)
            else:
                if failures:
                    log.info("managed to %s after %d failed attempts", what, failures)
                return

    async def _forget_http_session(self) -> None:
        # Every login opens a new aiohttp session: close the failed attempt's, and drop its connector too (closing
        # the session closed it, and discord.py would hand the closed one to the next session).
        await self.http.close()
        self.http.connector = discord.utils.MISSING

    async def setup_hook(self) -> None:
        """Load the cogs, sync the commands (only when needed), start the scheduler."""
        for name in self._extensions:
            # A cog that fails to load is a broken deployment: fail the start loudly, don't run half a bot.
            await self.load_extension(name)
        await self.sync_commands()
        self.jobs.start()

    async def sync_commands(self) -> None:
        """Guild sync every start with DISCORD_GUILD_ID; otherwise a global sync only when the tree changed."""
        guild_id = self.services.settings.discord_guild_id
        # Processes started together (one per range of shards) would each sync: the lease lets one of them.
        sync_lease = Leadership(
            self.services.store.leases,
            COMMAND_SYNC_LEASE,
            self.services.clock,
            term=COMMAND_SYNC_TERM,
            holder=self.jobs.scan_leader_name or process_name(),
        )
        try:
            if not await sync_lease.lead():
                log.info("another process is syncing the slash commands; not syncing")
                return
        except DatabaseError as exc:
            log.error("could not check who syncs the slash commands (%s); not syncing", _reason(exc))
            return
        try:
            await self._sync_commands(guild_id)
        finally:
            with contextlib.suppress(DatabaseError):
                await sync_lease.step_down()

    async def _sync_commands(self, guild_id: int | None) -> None:
        try:
            if guild_id is not None:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %d", len(synced), guild_id)
                return
            digest = command_tree_hash(self.tree)
            key = _SYNC_HASH_KEY.format(application_id=self.application_id)
            if await self._app_state.get(key) == digest:
                # Global syncs are rate limited per day; restarts with the same commands must not spend them.
                log.info("slash commands unchanged since the last global sync; not syncing")
                return
            synced = await self.tree.sync()
            await self._app_state.set(key, digest)
            log.info("synced %d commands globally (they can take a while to appear in every server)", len(synced))
        except discord.Forbidden:
            log.error(
                "Discord refused the command sync: the bot was invited without the applications.commands scope; "
                "re-invite it with the URL logged at start"
            )
        except SYNC_FAILURES as exc:
            # The commands synced last time still work; a failed sync must not take the bot down (nor make the
            # start's retry run setup_hook, and so load the cogs, a second time).
            log.error("slash command sync failed (%s); the previously synced commands stay active", _reason(exc))

    async def on_ready(self) -> None:
        """Log who we are and the invite URL once; let the alert job recover and post now, not a minute later."""
        if not self._invite_logged and self.application_id is not None and self.user is not None:
            self._invite_logged = True
            log.info(
                "logged in as %s (id %s); %s: %d servers",
                self.user,
                self.user.id,
                describe_shards(self.shard_ids or (), self.shard_count or 1),
                len(self.guilds),
            )
            log.info(
                "invite URL: %s",
                invite_url(self.application_id, guild_id=self.services.settings.discord_guild_id),
            )
        self.jobs.run_soon(POST_ALERTS_JOB_ID)
        # A digest that fell due while the bot was away goes now, not at the next half minute.
        self.jobs.run_soon(POST_DIGESTS_JOB_ID)

    async def close(self) -> None:
        """Stop the jobs before the connection, so no job runs against a closed client."""
        await self.jobs.shutdown()
        if not hasattr(self, "_AutoShardedClient__queue"):
            # Never logged in (`heatwave doctor` only builds the command tree): AutoShardedClient.close needs the
            # event queue that login's set-up creates, and fails without it.
            await self._async_setup_hook()
        await super().close()
