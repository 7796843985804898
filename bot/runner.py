"""`heatwave run`: the real bot with DISCORD_TOKEN, the console playground without one.

Both first ingest the news folder, then run the same services and the same two scheduled jobs (rescan, post
alerts); only the front end differs (Discord or a prompt) and where alerts are posted (channels or the terminal).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TextIO

import aiohttp
import discord

from bot import discord_env
from bot.app import build_services
from bot.clock import Clock, SystemClock
from bot.errors import HeatwaveError
from bot.logging_setup import setup_logging
from bot.settings import Settings
from db import DatabaseError, StoreLocation

if TYPE_CHECKING:
    from bot.client import HeatwaveBot
    from bot.health import Operations

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_TOKEN_REJECTED = 2
# The store cannot be used at start (unreachable server, refused login, missing database, newer schema): a
# configuration problem, like a rejected token, not a crash.
EXIT_STORE_UNUSABLE = 2
EXIT_INTERRUPTED = 130
# Gateway close code 4004: the token was not accepted by the gateway (REST may have accepted it moments before).
GATEWAY_AUTHENTICATION_FAILED = 4004

def run_command(
    settings: Settings,
    *,
    store: StoreLocation | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    clock: Clock | None = None,
    configure_logging: bool = True,
) -> int:
    """Ingest the news folder, then serve Discord (with a token) or the console playground; returns the exit code.

    Without `store`, the bot uses the settings' store and the playground its own (`Settings.playground_store`).
    """
    out = stdout if stdout is not None else sys.stdout
    the_clock: Clock = clock if clock is not None else SystemClock()
    token = settings.discord_token
    if configure_logging:
        # The playground's prompt and replies share the terminal with the log: keep routine INFO lines out of it.
        quiet_console = token is None and settings.log_level != "DEBUG"
        secrets = [settings.discord_token or "", settings.store.password or ""]
        if store is not None:
            secrets.append(store.password or "")
        setup_logging(
            "WARNING" if quiet_console else settings.log_level, log_format=settings.log_format, secrets=secrets
        )
    try:
        if token is None:
            from bot.console_playground import run_playground

            playground_store = store if store is not None else settings.playground_store
            the_stdin = stdin if stdin is not None else sys.stdin
            return run_playground(
                settings, playground_store, the_clock, stdin=the_stdin, stdout=out, until_signal=_until_signal
            )
        bot_store = store if store is not None else settings.store
        _ingest_once(settings, bot_store, the_clock)
        return asyncio.run(_serve_discord(settings, bot_store, the_clock, token))
    except discord.LoginFailure:
        print("heatwave: DISCORD_TOKEN was rejected by Discord", file=sys.stderr)
        return EXIT_TOKEN_REJECTED
    except discord.ConnectionClosed as exc:
        if exc.code == GATEWAY_AUTHENTICATION_FAILED:
            print("heatwave: DISCORD_TOKEN was rejected by Discord", file=sys.stderr)
            return EXIT_TOKEN_REJECTED
        print(f"heatwave: Discord closed the gateway connection (code {exc.code}: {exc.reason})", file=sys.stderr)
        return EXIT_FAILED
    except (aiohttp.ClientConnectionError, discord.HTTPException) as exc:
        # An unreachable Discord is waited out (HeatwaveBot.start); this is an answer waiting cannot change, e.g.
        # DISCORD_API_BASE points at something that is not Discord's API: one line, not a traceback.
        where = settings.discord_api_base or "https://discord.com"
        print(f"heatwave: cannot log in to Discord at {where}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except DatabaseError as exc:
        print(f"heatwave: {exc}", file=sys.stderr)
        return EXIT_STORE_UNUSABLE
    except HeatwaveError as exc:
        print(f"heatwave: {exc.user_message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        # Ctrl-C before the event loop's own handler is installed (during the start-up ingest).
        return EXIT_INTERRUPTED


def _ingest_once(settings: Settings, store: StoreLocation, clock: Clock) -> str | None:
    """Bring the store up to date with the news folders before serving; returns a one-line summary.

    Git sources are synced by their job, which runs at once when the bot starts.
    """
    from bot.ingest.pipeline import ingest_paths, plural, report_counts
    from bot.scheduling import log_rejections
    from bot.sources import folder_sources

    news_dir = settings.news_dir
    folders = list(dict.fromkeys([news_dir, *folder_sources(settings.sources)]))
    present = [folder for folder in folders if folder.is_dir()]
    for folder in folders:
        if folder not in present:
            log.warning("news folder %s does not exist; starting with what the database already holds", folder)
    if not present:
        return f"(news folder {news_dir} does not exist yet; create it and drop story files in)"
    report = ingest_paths(present, store, clock=clock, max_file_bytes=settings.max_file_bytes)
    shown = ", ".join(str(folder) for folder in present)
    summary = f"Read {plural(report.scanned, 'file')} in {shown}: {report_counts(report)} ({report.seconds:.1f} s)."
    log_rejections([(str(r.path), r.reason) for r in report.rejected])
    return summary


async def _serve_discord(settings: Settings, store: StoreLocation, clock: Clock, token: str) -> int:
    """Run the bot until it stops or SIGINT/SIGTERM arrives; always closes the client and the database."""
    from bot.client import HeatwaveBot

    previous = discord_env.apply(settings.discord_api_base, settings.discord_gateway_url)
    try:
        services = await build_services(settings, store=store, clock=clock)
        try:
            bot = HeatwaveBot(services)
            operations = await _serve_operations(settings, bot, clock) if settings.metrics_port is not None else None
            try:
                await _until_signal(bot.start(token))
            finally:
                await bot.close()
                if operations is not None:
                    await operations.stop()
        finally:
            await services.close()
    finally:
        discord_env.restore(previous)
    return EXIT_OK


async def _serve_operations(settings: Settings, bot: HeatwaveBot, clock: Clock) -> Operations:
    """`/metrics` and `/healthz` on HEATWAVE_METRICS_PORT, on this (the bot's) event loop."""
    from bot.health import HealthState, Operations
    from bot.metrics import Metrics

    assert settings.metrics_port is not None
    health = HealthState(clock, scan_seconds=settings.scan_seconds, post_seconds=settings.post_seconds)
    operations = Operations(Metrics(), health, clock)
    operations.attach(bot)
    try:
        await operations.start(settings.metrics_host, settings.metrics_port)
    except OSError as exc:
        raise HeatwaveError(
            f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port} (HEATWAVE_METRICS_PORT): "
            f"{exc.strerror or exc}"
        ) from None
    return operations


async def _until_signal(main: Coroutine[Any, Any, Any]) -> Any:
    """Await `main`; SIGINT or SIGTERM cancels it instead (None is returned then). Other errors propagate."""
    task: asyncio.Task[Any] = asyncio.ensure_future(main)
    stopped = _on_signals(task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        if not stopped() or _current_task_cancelling():
            raise
        log.info("stopping on signal")
        return None
    finally:
        _remove_signal_handlers()


def _current_task_cancelling() -> bool:
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _on_signals(stop: Callable[[], Any]) -> Callable[[], bool]:
    """Call `stop` on SIGINT/SIGTERM; returns a function telling whether a signal arrived."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def handle(signum: int) -> None:
        received.append(signum)
        stop()

    for signum in _SIGNALS:
        # Not available off the main thread or on Windows: Ctrl-C then ends the run as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, handle, signum)
    return lambda: bool(received)


def _remove_signal_handlers() -> None:
    loop = asyncio.get_running_loop()
    for signum in _SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signum)
