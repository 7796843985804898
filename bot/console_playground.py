"""`heatwave run` without DISCORD_TOKEN: the console playground, on its own store, with a drop folder for stories.

The playground is for trying things: nothing typed here may leave state the real bot acts on, so it keeps to its
own store (`Settings.playground_store`) unless HEATWAVE_DB says otherwise. Stories come from the news folder
(`seeds/`, part of the repository) and from `drop/`, a git-ignored folder for the person's own files.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import textwrap
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.clock import Clock
from bot.settings import Settings
from bot.sources import folder_sources, git_sources
from db import StoreLocation

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

# Relative to where `heatwave run` starts, like the default store and news folder (the project folder for
# `make run`). Both are git-ignored: what a person drops or types here never dirties the working tree.
DROP_DIR = Path("drop")
HISTORY_FILE = Path("data/console_history")

UntilSignal = Callable[[Coroutine[Any, Any, Any]], Coroutine[Any, Any, Any]]

_BANNER_WIDTH = 80


_GREETING = """\
Heatwave console playground: no DISCORD_TOKEN was found, so nothing connects to
Discord. Type the slash commands here: /topic AI, /topics, /related, /search,
/trending, /alerts, /digest (/help lists them). Tab completes, Up/Down recall
earlier lines, Ctrl-C clears the line, Ctrl-D leaves."""

_HOW_TO_RUN_THE_BOT = """\
To run the real bot: Discord Developer Portal
(https://discord.com/developers/applications) → your application → Bot →
Reset Token, then put DISCORD_TOKEN=<the token> in .env (next to the Makefile)
and run `make run` again."""


def banner(settings: Settings, store: StoreLocation, drop_dir: Path) -> str:
    """The start-up lines: what the playground is, where stories and state live, and how to run the real bot."""
    # Folder and store names vary in length: those two paragraphs are wrapped here, the others are set by hand.
    wrap = functools.partial(textwrap.fill, width=_BANNER_WIDTH, break_long_words=False, break_on_hyphens=False)
    paragraphs = [
        _GREETING,
        wrap(
            f"Your own stories: put .md files in {drop_dir}/ (git-ignored; {settings.news_dir}/ holds the samples)."
            f" Both are read again every {settings.scan_seconds} s."
        ),
        wrap(f"Store: {store_line(settings, store)}"),
        _HOW_TO_RUN_THE_BOT,
    ]
    return "\n\n".join(paragraphs) + "\n"


def run_playground(
    settings: Settings,
    store: StoreLocation,
    clock: Clock,
    *,
    stdin: TextIO,
    stdout: TextIO,
    until_signal: UntilSignal,
    drop_dir: Path = DROP_DIR,
    history_file: Path = HISTORY_FILE,
) -> int:
    """Create the drop folder, ingest both folders, greet, then run the prompt with the rescan and alert jobs
    beside it; returns the exit code. `until_signal` (the runner's) turns SIGINT/SIGTERM into a clean stop."""
    drop_problem = _make_drop_dir(drop_dir)
    folders = _folders(settings.news_dir, drop_dir, folder_sources(settings.sources))
    summaries = [_ingest_at_start(settings, store, clock, folder) for folder in folders]
    print(banner(settings, store, drop_dir), file=stdout)
    lines = [line for line in (drop_problem, *summaries) if line]
    if lines:
        print("\n".join(lines) + "\n", file=stdout)
    stdout.flush()
    serve = _serve(settings, store, clock, folders, stdin, stdout, until_signal, history_file)
    result: int = asyncio.run(serve)
    return result


def store_line(settings: Settings, store: StoreLocation) -> str:
    """Which store the playground uses, and whether the real bot sees it."""
    if store == settings.playground_store and not settings.store_given:
        return (
            f"{store}, the playground's own. The real bot uses {settings.store}, so nothing done here reaches it;"
            " set HEATWAVE_DB to share one."
        )
    if settings.store_given and store == settings.store:
        return f"{store} (from HEATWAVE_DB), shared with the real bot: alerts added here are the bot's too."
    return f"{store}."


def _make_drop_dir(drop_dir: Path) -> str | None:
    try:
        drop_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("cannot create the drop folder %s: %s", drop_dir, exc)
        return f"(cannot create {drop_dir}/: {exc.strerror or exc})"
    return None


def _folders(news_dir: Path, drop_dir: Path, more: Sequence[Path] = ()) -> tuple[Path, ...]:
    """The news folder, the drop folder and the [[sources]] folders, once each (HEATWAVE_NEWS_DIR may name the
    drop folder itself)."""
    unique: dict[Path, Path] = {}
    for folder in (news_dir, drop_dir, *more):
        unique.setdefault(folder.resolve(), folder)
    return tuple(unique.values())


def _ingest_at_start(settings: Settings, store: StoreLocation, clock: Clock, folder: Path) -> str | None:
    """Bring the store up to date with one folder; returns its one-line summary (none for an empty drop folder)."""
    from bot.ingest.pipeline import ingest_paths, plural, report_counts
    from bot.scheduling import log_rejections

    if not folder.is_dir():
        if folder == settings.news_dir:
            log.warning("news folder %s does not exist; starting with what the database already holds", folder)
            return f"(news folder {folder} does not exist yet; create it and drop story files in)"
        return None
    report = ingest_paths([folder], store, clock=clock, max_file_bytes=settings.max_file_bytes)
    log_rejections([(str(r.path), r.reason) for r in report.rejected])
    if folder != settings.news_dir and not report.scanned:
        return None
    return f"Read {plural(report.scanned, 'file')} in {folder}: {report_counts(report)} ({report.seconds:.1f} s)."


async def _serve(
    settings: Settings,
    store: StoreLocation,
    clock: Clock,
    folders: Sequence[Path],
    stdin: TextIO,
    stdout: TextIO,
    until_signal: UntilSignal,
    history_file: Path,
) -> int:
    """The prompt, with the rescan and alert jobs running beside it and posting above the prompt."""
    from bot.alert_posters import ConsolePoster
    from bot.app import build_services
    from bot.console import run_console
    from bot.console_prompt import open_terminal
    from bot.digest_posters import ConsoleDigestPoster
    from bot.scheduling import PeriodicJobs

    terminal = open_terminal(stdin, stdout, history_file=history_file)
    services = await build_services(settings, store=store, clock=clock)
    try:
        jobs = PeriodicJobs(
            services,
            ConsolePoster(terminal.write),
            # Every folder that exists is scanned (and watched: a story dropped into drop/ shows up, and alerts,
            # within a second or so); the git sources are synced as the bot syncs them.
            news_dir=folders[0],
            extra_dirs=folders[1:],
            scan_seconds=settings.scan_seconds,
            post_seconds=settings.post_seconds,
            max_file_bytes=settings.max_file_bytes,
            digest_poster=ConsoleDigestPoster(terminal.write),
            git_sources=git_sources(settings.sources),
            data_dir=settings.data_dir,
            watch=settings.watch,
        )
        jobs.start()
        try:
            status = await until_signal(run_console(services, terminal=terminal))
        finally:
            await jobs.shutdown()
    finally:
        await services.close()
    return 0 if status is None else int(status)
