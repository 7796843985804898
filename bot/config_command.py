"""`heatwave config export --guild ID [--out FILE]` and `heatwave config import FILE [--apply] [--guild ID]`.

The same ConfigService as `/alerts export|import`. Channel names need Discord: with DISCORD_TOKEN the server's
channels are listed over the REST API (DISCORD_API_BASE honoured), so names are written on export and channels
are found by id or else by name on import. Without a token, ids are taken as the file has them and names stay
unchecked (the command says so). Permissions are not checked here: `heatwave doctor` checks every alert channel.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp

from bot.clock import SystemClock
from bot.errors import HeatwaveError
from bot.render.config import import_plan
from bot.render.message import Names
from bot.services.config_io import ConfigService, FoundChannel, ImportPlan, StaticDirectory, parse_config
from bot.settings import Settings
from db import DatabaseError
from db.location import StoreLocation
from db.models import ChannelKind

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

DISCORD_API = "https://discord.com/api/v10"
HTTP_TIMEOUT_SECONDS = 10.0
# Discord channel types alerts can go to (https://discord.com/developers/docs/resources/channel#channel-object).
_KINDS: dict[int, ChannelKind] = {0: "text", 5: "announcement", 15: "forum"}
_NAMES_UNCHECKED = "heatwave: no DISCORD_TOKEN: channel names are not looked up; ids are taken as the file has them"


class _ListingFailed(Exception):
    pass


async def _guild_channels(settings: Settings, guild_id: int) -> StaticDirectory | None:
    """The guild's channels from Discord (None without a token)."""
    if settings.discord_token is None:
        return None
    base = (settings.discord_api_base or DISCORD_API).rstrip("/")
    headers = {"Authorization": f"Bot {settings.discord_token}", "User-Agent": "DiscordBot (heatwave config, 1)"}
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{base}/guilds/{guild_id}/channels", headers=headers) as response,
        ):
            body: Any = await response.json(content_type=None)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        what = str(exc) or type(exc).__name__
        raise _ListingFailed(f"cannot list the server's channels at {base} ({what})") from None
    if status != 200 or not isinstance(body, list):
        raise _ListingFailed(f"listing the channels of server {guild_id} answered {status} (is the bot in it?)")
    found = []
    for channel in body:
        kind = _KINDS.get(int(channel.get("type", -1)))
        problem = None if kind else f"#{channel.get('name')} is not a text, announcement or forum channel"
        found.append(FoundChannel(int(channel["id"]), str(channel.get("name") or ""), kind, problem))
    return StaticDirectory(tuple(found))


async def _with_service(settings: Settings, store: StoreLocation, work: Any) -> int:
    from bot.app import build_services

    services = await build_services(settings, store=store, clock=SystemClock())
    try:
        return int(await work(services.config))
    finally:
        await services.close()


def export_command(settings: Settings, store: StoreLocation, *, guild_id: int, out: Path | None) -> int:
    """Print (or write to `out`) the guild's configuration as JSON."""

    async def work(config: ConfigService) -> int:
        directory = await _guild_channels(settings, guild_id)
        if directory is None:
            print(_NAMES_UNCHECKED, file=sys.stderr)
            directory = StaticDirectory(())
        text = await config.export(guild_id, directory)
        if out is None:
            sys.stdout.write(text)
        else:
            await asyncio.to_thread(out.write_text, text, encoding="utf-8")
            print(f"heatwave: wrote the alerts of server {guild_id} to {out}", file=sys.stderr)
        return EXIT_OK

    return _run(settings, store, work)


def import_command(
    settings: Settings, store: StoreLocation, *, path: Path, apply: bool, guild_id: int | None
) -> int:
    """Show what the file would change (a dry run), or change it with `apply`; exit 1 when it is refused."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"heatwave: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE

    async def work(config: ConfigService) -> int:
        target = guild_id if guild_id is not None else parse_config(data).guild_id
        if target is None:
            print("heatwave: the file names no server; say which with --guild ID", file=sys.stderr)
            return EXIT_USAGE
        directory = await _guild_channels(settings, target)
        if directory is None:
            print(_NAMES_UNCHECKED, file=sys.stderr)
            directory = StaticDirectory((), trust_ids=True)
        plan = await config.plan(target, data, directory)
        if apply:
            await config.apply(plan)
        print(_plan_text(plan, directory, applied=apply))
        return EXIT_OK

    return _run(settings, store, work)


def _plan_text(plan: ImportPlan, directory: StaticDirectory, *, applied: bool) -> str:
    def name(channel_id: int) -> str:
        known = directory.name_of(channel_id)
        return f"#{known}" if known else f"channel {channel_id}"

    return import_plan(plan, applied=applied, how_to_apply=("run it again with --apply",)).plain(Names(channel=name))


def _run(settings: Settings, store: StoreLocation, work: Any) -> int:
    try:
        return asyncio.run(_with_service(settings, store, work))
    except HeatwaveError as exc:
        print(f"heatwave: {exc.user_message}", file=sys.stderr)
        return EXIT_REFUSED
    except (_ListingFailed, DatabaseError) as exc:
        print(f"heatwave: {exc}", file=sys.stderr)
        return EXIT_USAGE
