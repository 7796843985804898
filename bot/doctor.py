"""`heatwave doctor`: check a deployment from the outside and say how to fix what is wrong.

One line per check, ✓ or ✗, in the order a new deployment meets them: settings, store, news folder, token,
gateway, slash commands, every subscribed channel's permissions, clock skew. It talks to Discord's REST API and
gateway directly (DISCORD_API_BASE / DISCORD_GATEWAY_URL, so also the local stand-in) and never logs in as a bot
session: a gateway IDENTIFY would count against the daily session-start limit and could take events from a
running bot, so the gateway check stops at HELLO. Nothing is written anywhere; the token is never printed.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import discord
import yarl

from bot.clock import Clock, SystemClock
from bot.permissions import needed_permissions
from bot.settings import Settings, SettingsError
from bot.sources import FolderSource
from db import DatabaseError, schema_status
from db.models import ChannelKind, ChannelRecord, ThreadOptions

EXIT_OK = 0
EXIT_PROBLEMS = 1

DISCORD_API = "https://discord.com/api/v10"
HTTP_TIMEOUT_SECONDS = 10.0
HELLO_TIMEOUT_SECONDS = 10.0
# Discord's Date header has whole seconds and the request takes a moment: only a larger gap is a real skew.
# Skew matters because schedules (APScheduler) and "posted 5 minutes ago" timestamps use the local clock.
MAX_CLOCK_SKEW_SECONDS = 10.0
# A 429 on a doctor's handful of requests is waited out this many times before the check gives up.
RATE_LIMIT_RETRIES = 3
GATEWAY_HELLO = 10

@dataclass(frozen=True, slots=True)
class Check:
    """One printed line: what was checked, what was found, and (on failure) how to fix it."""

    ok: bool
    name: str
    detail: str
    fix: str | None = None

    def line(self) -> str:
        """`✓ name: detail` or `✗ name: detail — fix: …`."""
        text = f"{'✓' if self.ok else '✗'} {self.name}: {self.detail}"
        return f"{text} — fix: {self.fix}" if self.fix and not self.ok else text


def doctor_command(
    *,
    out: TextIO | None = None,
    load_settings: Callable[[], Settings] = Settings.load,
    clock: Clock | None = None,
) -> int:
    """Run every check, print one line each; 0 when all pass, 1 otherwise."""
    stream = out if out is not None else sys.stdout
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(Check(False, "settings", str(exc), "correct that value in the environment, .env or heatwave.toml").line(),
              file=stream)
        return EXIT_PROBLEMS
    print(Check(True, "settings", "every setting parses").line(), file=stream, flush=True)
    checks = asyncio.run(run_checks(settings, clock or SystemClock(), report=lambda c: print(c.line(), file=stream,
                                                                                           flush=True)))
    return EXIT_OK if all(c.ok for c in checks) else EXIT_PROBLEMS


async def run_checks(
    settings: Settings, clock: Clock, *, report: Callable[[Check], None] = lambda _: None
) -> list[Check]:
    """Every check after settings, in order; each result is also passed to `report` as soon as it is known."""
    results: list[Check] = []

    def note(check: Check) -> None:
        results.append(check)
        report(check)

    store_ok = _check_store(settings, note)
    note(_check_news_folder(settings.news_dir))
    for check in await _check_sources(settings):
        note(check)
    api = (settings.discord_api_base or DISCORD_API).rstrip("/")
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        discord_api = _DiscordApi(session, api, settings.discord_token)
        me = await _check_token(discord_api, settings, clock, note)
        if me is None:
            for name in ("gateway", "slash commands", "alert channels", "clock"):
                note(Check(False, name, "not checked: needs a token Discord accepts", "fix the token first"))
            return results
        note(await _check_gateway(session, settings))
        if store_ok:
            note(await _check_commands(discord_api, settings))
            for check in await _check_channels(discord_api, settings, int(me["id"])):
                note(check)
        else:
            for name in ("slash commands", "alert channels"):
                note(Check(False, name, "not checked: needs a usable store", "fix the store first"))
        note(_check_clock(discord_api.last_date, clock))
    return results


# ----- local checks ----------------------------------------------------------------------------------------------


def _check_store(settings: Settings, note: Callable[[Check], None]) -> bool:
    where = str(settings.store)  # masked: a PostgreSQL password shows as ***
    try:
        status = schema_status(settings.store)
    except DatabaseError as exc:
        note(Check(False, "store", str(exc), "check HEATWAVE_DB (a file path or a postgresql:// URL)"))
        return False
    if status.version > status.latest:
        note(Check(False, "store", f"{where} has schema version {status.version}, newer than this Heatwave "
                   f"({status.latest})", "upgrade Heatwave, or point HEATWAVE_DB at this version's store"))
        return False
    if not status.current:
        note(Check(False, "store", f"{where} is at schema version {status.version} of {status.latest}",
                   "`heatwave run` or `heatwave ingest` applies the missing migrations at start"))
        return False
    note(Check(True, "store", f"{where} opens and is migrated (schema version {status.version})"))
    return True


def _check_news_folder(news_dir: Path, *, name: str = "news folder") -> Check:
    if not news_dir.is_dir():
        where = "HEATWAVE_NEWS_DIR" if name == "news folder" else "its path in [[sources]]"
        return Check(False, name, f"{news_dir} does not exist",
                     f"create {news_dir} or set {where} to the folder of story files")
    try:
        with os.scandir(news_dir) as entries:
            next(entries, None)
    except OSError as exc:
        return Check(False, name, f"{news_dir} cannot be read ({exc.strerror or exc})",
                     "let the user running Heatwave read the folder (e.g. chmod o+rx)")
    return Check(True, name, f"{news_dir} is readable")


async def _check_sources(settings: Settings) -> list[Check]:
    """Every `[[sources]]` entry of the settings file: a folder must be readable, a git remote must answer."""
    from bot.ingest.git_source import GitSourceError, check_remote

    checks: list[Check] = []
    for source in settings.sources:
        if isinstance(source, FolderSource):
            if source.path != settings.news_dir:
                checks.append(_check_news_folder(source.path, name=f"source {source.name}"))
            continue
        try:
            commit = await asyncio.to_thread(check_remote, source)
        except GitSourceError as exc:
            checks.append(Check(False, f"source {source.name}", f"the repository cannot be read: {exc}",
                                "check the URL and branch in [[sources]], the network, and that the repository is "
                                "public or the machine's git credentials reach it"))
        else:
            checks.append(Check(True, f"source {source.name}", f"the repository answers (at {commit[:12]})"))
    return checks


def _check_clock(discord_date: datetime | None, clock: Clock) -> Check:
    if discord_date is None:
        return Check(False, "clock", "Discord's answers carried no Date header", "check DISCORD_API_BASE")
    skew = (clock.now() - discord_date).total_seconds()
    if abs(skew) <= MAX_CLOCK_SKEW_SECONDS:
        return Check(True, "clock", f"within {MAX_CLOCK_SKEW_SECONDS:.0f} s of Discord's ({skew:+.0f} s)")
    direction = "ahead of" if skew > 0 else "behind"
    return Check(False, "clock", f"this machine's clock is {abs(skew):.0f} s {direction} Discord's",
                 "synchronise the system clock (enable NTP, e.g. `timedatectl set-ntp true`)")


# ----- Discord ---------------------------------------------------------------------------------------------------


class _DiscordApi:
    """GET requests to Discord's REST API with the bot token; remembers the last `Date` header."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None) -> None:
        self._session = session
        self.base = base
        self._token = token
        self.last_date: datetime | None = None

    async def get(self, path: str) -> tuple[int, Any]:
        """(status, JSON body or None); waits out a short 429; raises aiohttp.ClientError / TimeoutError."""
        headers = {"Authorization": f"Bot {self._token}", "User-Agent": "DiscordBot (heatwave doctor, 1)"}
        for _ in range(RATE_LIMIT_RETRIES):
            async with self._session.get(f"{self.base}{path}", headers=headers) as response:
                date = response.headers.get("Date")
                if date:
                    self.last_date = email.utils.parsedate_to_datetime(date)
                body = await response.json(content_type=None) if response.content_length != 0 else None
                if response.status == 429 and isinstance(body, dict):
                    await asyncio.sleep(min(float(body.get("retry_after", 1.0)), HTTP_TIMEOUT_SECONDS))
                    continue
                return response.status, body
        return 429, None


def _unreachable(api: str, exc: BaseException) -> Check:
    what = str(exc).strip() or type(exc).__name__
    return Check(False, "token", f"cannot reach Discord at {api} ({what})",
                 "check the network, or DISCORD_API_BASE if it is set")


async def _check_token(
    api: _DiscordApi, settings: Settings, clock: Clock, note: Callable[[Check], None]
) -> dict[str, Any] | None:
    if settings.discord_token is None:
        note(Check(False, "token", "DISCORD_TOKEN is not set",
                   "set DISCORD_TOKEN to the bot's token (Developer Portal → your application → Bot → Reset Token)"))
        return None
    try:
        status, body = await api.get("/users/@me")
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        note(_unreachable(api.base, exc))
        return None
    if status == 401:
        note(Check(False, "token", "Discord rejected DISCORD_TOKEN (401 Unauthorized)",
                   "reset the token in the Developer Portal (Bot → Reset Token) and set DISCORD_TOKEN to the new one"))
        return None
    if status != 200 or not isinstance(body, dict) or "id" not in body:
        note(Check(False, "token", f"GET /users/@me answered {status}, not a bot user",
                   "check DISCORD_API_BASE: it must be Discord's API (…/api/v10)"))
        return None
    note(Check(True, "token", f"accepted: the bot is {body.get('username', '?')} (id {body['id']})"))
    return body


async def _check_gateway(session: aiohttp.ClientSession, settings: Settings) -> Check:
    base = settings.discord_gateway_url or str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    url = yarl.URL(base).with_query(v="10", encoding="json")
    fix = "check the network (outgoing websockets), or DISCORD_GATEWAY_URL if it is set"
    try:
        async with asyncio.timeout(HELLO_TIMEOUT_SECONDS), session.ws_connect(url) as ws:
            message = await ws.receive_json()
    except (aiohttp.ClientError, TimeoutError, ValueError, TypeError) as exc:
        what = str(exc).strip() or type(exc).__name__
        return Check(False, "gateway", f"cannot connect to {base} ({what})", fix)
    if not isinstance(message, dict) or message.get("op") != GATEWAY_HELLO:
        return Check(False, "gateway", f"{base} did not greet with HELLO", fix)
    interval = float(message.get("d", {}).get("heartbeat_interval", 0)) / 1000
    return Check(True, "gateway", f"reachable at {base} (heartbeat every {interval:g} s)")


async def _check_commands(api: _DiscordApi, settings: Settings) -> Check:
    wanted = await _local_commands(settings)
    guild_id = settings.discord_guild_id
    try:
        status, app = await api.get("/applications/@me")
        if status != 200 or not isinstance(app, dict):
            return Check(False, "slash commands", f"GET /applications/@me answered {status}", None)
        path = f"/applications/{app['id']}" + (f"/guilds/{guild_id}" if guild_id else "") + "/commands"
        status, synced = await api.get(path)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Check(False, "slash commands", f"cannot read the synced commands ({exc})", None)
    where = f"server {guild_id}" if guild_id else "global"
    if status != 200 or not isinstance(synced, list):
        fix = "invite the bot to that server with the applications.commands scope" if guild_id else None
        return Check(False, "slash commands", f"cannot read the {where} commands ({status})", fix)
    have = {c.get("name"): _shape(c) for c in synced if isinstance(c, dict)}
    missing = sorted(name for name in wanted if name not in have)
    changed = sorted(name for name, shape in wanted.items() if name in have and have[name] != shape)
    extra = sorted(str(name) for name in have if name not in wanted)
    if not (missing or changed or extra):
        return Check(True, "slash commands", f"all {len(wanted)} are synced ({where})")
    problems = []
    if missing:
        problems.append("missing " + ", ".join(f"/{n}" for n in missing))
    if changed:
        problems.append("out of date " + ", ".join(f"/{n}" for n in changed))
    if extra:
        problems.append("no longer used " + ", ".join(f"/{n}" for n in extra))
    return Check(False, "slash commands", f"not synced ({where}): {'; '.join(problems)}",
                 "start the bot (`heatwave run`): it syncs at start (global commands can take an hour to appear)")


async def _local_commands(settings: Settings) -> dict[str, Any]:
    """What `heatwave run` would sync, by name, in the shape `_shape` compares."""
    from bot.app import build_services
    from bot.client import EXTENSIONS, HeatwaveBot

    services = await build_services(settings, store=settings.store, clock=SystemClock())
    try:
        bot = HeatwaveBot(services)
        try:
            for name in EXTENSIONS:
                await bot.load_extension(name)
            return {c.name: _shape(c.to_dict(bot.tree)) for c in bot.tree.get_commands()}
        finally:
            await bot.close()
    finally:
        await services.close()


# The fields Discord keeps for a command and its options; the rest (ids, versions, contexts Discord fills in)
# differ between what a bot sends and what Discord returns without meaning a different command.
_COMMAND_KEYS = ("name", "description", "type", "default_member_permissions", "nsfw")
_OPTION_KEYS = ("name", "description", "type", "required", "autocomplete", "min_value", "max_value",
                "min_length", "max_length")


def _shape(command: Mapping[str, Any], keys: Sequence[str] = _COMMAND_KEYS) -> dict[str, Any]:
    defaults: dict[str, Any] = {"type": 1, "required": False, "autocomplete": False, "nsfw": False}
    shape = {k: command.get(k, defaults.get(k)) for k in keys}
    if shape.get("default_member_permissions") is not None:
        shape["default_member_permissions"] = str(shape["default_member_permissions"])
    shape["options"] = [_shape(o, _OPTION_KEYS) for o in command.get("options") or []]
    shape["choices"] = [(c.get("name"), c.get("value")) for c in command.get("choices") or []]
    shape["channel_types"] = sorted(command.get("channel_types") or [])
    return shape


# ----- permissions -----------------------------------------------------------------------------------------------


def channel_permissions(guild: Mapping[str, Any], member: Mapping[str, Any], channel: Mapping[str, Any]) -> int:
    """The member's permissions in the channel, computed as Discord documents it ("Permission Overwrites"):
    @everyone plus the member's roles; owner or Administrator → everything; then the channel's @everyone
    overwrite, the member's roles' overwrites together, and the member's own overwrite, each deny before allow."""
    everything = discord.Permissions.all().value
    user_id = str(member["user"]["id"])
    if str(guild.get("owner_id")) == user_id:
        return everything
    guild_id = str(guild["id"])
    roles = {str(r["id"]): int(r["permissions"]) for r in guild.get("roles", [])}
    member_roles = [str(r) for r in member.get("roles", [])]
    base = roles.get(guild_id, 0)
    for role_id in member_roles:
        base |= roles.get(role_id, 0)
    if base & discord.Permissions(administrator=True).value:
        return everything
    overwrites = {str(o["id"]): o for o in channel.get("permission_overwrites", [])}

    def apply(permissions: int, allow: int, deny: int) -> int:
        return (permissions & ~deny) | allow

    if guild_id in overwrites:
        base = apply(base, int(overwrites[guild_id]["allow"]), int(overwrites[guild_id]["deny"]))
    allow = deny = 0
    for role_id in member_roles:
        overwrite = overwrites.get(role_id)
        if overwrite is not None and int(overwrite.get("type", 0)) == 0:
            allow |= int(overwrite["allow"])
            deny |= int(overwrite["deny"])
    base = apply(base, allow, deny)
    own = overwrites.get(user_id)
    if own is not None and int(own.get("type", 1)) == 1:
        base = apply(base, int(own["allow"]), int(own["deny"]))
    return base


def missing_permissions(
    kind: ChannelKind, permissions: int, *, threads: bool = False, create_tags: bool = False
) -> list[str]:
    """Discord's names of what alerts of this kind (and the channel's thread options) need and `permissions`
    lacks."""
    have = discord.Permissions(permissions)
    wanted = needed_permissions(kind, threads=threads, create_tags=create_tags)
    return [label for attr, label in wanted if not getattr(have, attr)]


async def _check_channels(api: _DiscordApi, settings: Settings, bot_id: int) -> list[Check]:
    from db import open_store

    store = await open_store(settings.store)
    try:
        channels = await store.channels.every_channel()
        options = await store.threads.options([c.channel_id for c in channels])
    finally:
        await store.close()
    if not channels:
        return [Check(True, "alert channels", "none subscribed yet (nothing to check)")]
    guilds: dict[int, tuple[dict[str, Any], dict[str, Any]] | Check] = {}
    checks = []
    for record in channels:
        try:
            checks.append(await _check_channel(api, record, bot_id, guilds, options.get(record.channel_id)))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            checks.append(Check(False, f"channel {record.channel_id}", f"cannot be checked ({exc})", None))
    return checks


async def _guild_and_member(
    api: _DiscordApi, guild_id: int, bot_id: int
) -> tuple[dict[str, Any], dict[str, Any]] | Check:
    status, guild = await api.get(f"/guilds/{guild_id}")
    if status != 200 or not isinstance(guild, dict):
        return Check(False, f"server {guild_id}", "the bot is not in this server any more",
                     "invite it again (the invite URL is logged at start), or `/alerts remove` its channels")
    status, member = await api.get(f"/guilds/{guild_id}/members/{bot_id}")
    if status != 200 or not isinstance(member, dict):
        return Check(False, f"server {guild.get('name', guild_id)}", "the bot is not a member of this server",
                     "invite it again (the invite URL is logged at start)")
    return guild, member


async def _check_channel(
    api: _DiscordApi,
    record: ChannelRecord,
    bot_id: int,
    guilds: dict[int, tuple[dict[str, Any], dict[str, Any]] | Check],
    options: ThreadOptions | None = None,
) -> Check:
    if record.guild_id not in guilds:
        guilds[record.guild_id] = await _guild_and_member(api, record.guild_id, bot_id)
    found = guilds[record.guild_id]
    name = f"channel {record.channel_id}"
    if isinstance(found, Check):
        return Check(False, name, f"in server {record.guild_id}: {found.detail}", found.fix)
    guild, member = found
    where = f"in {guild.get('name', record.guild_id)}"
    status, channel = await api.get(f"/channels/{record.channel_id}")
    if status == 404:
        return Check(False, name, f"{where}: deleted (Discord: Unknown Channel)",
                     f"`/alerts remove channel:{record.channel_id}` in that server, or subscribe another channel")
    if status == 403:
        return Check(False, name, f"{where}: the bot cannot see it (Missing Access)",
                     "grant the bot's role View Channel there (channel settings → Permissions)")
    if status != 200 or not isinstance(channel, dict):
        return Check(False, name, f"{where}: GET /channels answered {status}", None)
    label = f"#{channel.get('name', record.channel_id)} ({record.kind}) {where}"
    missing = missing_permissions(
        record.kind,
        channel_permissions(guild, member, channel),
        threads=options is not None and options.threads,
        create_tags=options is not None and options.create_tags,
    )
    if missing:
        return Check(False, label, f"missing {', '.join(missing)}",
                     f"grant the bot's role {', '.join(missing)} in #{channel.get('name')} "
                     "(channel settings → Permissions), then `/alerts resume` if it was paused")
    paused = " (paused: `/alerts resume` restarts it)" if record.paused_at is not None else ""
    return Check(True, label, f"the bot can view, send, embed and read history{paused}")
