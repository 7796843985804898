"""The console playground: type the bot's slash commands at a prompt and read the replies as plain text.

It calls the same LookupService (and renderer) as the cogs, so what you see here is what Discord users get,
minus the embeds. Other features add commands without editing this file: list a module in
`CONSOLE_EXTENSIONS` that defines

    def console_commands(services) -> Iterable[ConsoleCommand]

where each `ConsoleCommand(name="/alerts", usage=..., summary=..., handler=...)` has an async
`handler(session, args)` that writes with `session.write(text)` (and may call `session.show_pages(...)`).
A handler raises `HeatwaveError` for bad input; the console prints its message, never a traceback.

The terminal side (line editing, history, completion, printing above the prompt) is in bot.console_prompt.
"""

from __future__ import annotations

import importlib
import logging
import re
import shlex
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from bot.console_prompt import Terminal, open_terminal
from bot.errors import HeatwaveError, InvalidArgument
from bot.render.limits import clean_text, truncate
from bot.render.lists import related_text, search_text, topic_text, topics_text, trending_text
from bot.services.lookups import LookupService, Page, StorySort

log = logging.getLogger(__name__)

__all__ = [
    "CONSOLE_EXTENSIONS",
    "ConsoleArgs",
    "ConsoleCommand",
    "ConsoleServices",
    "ConsoleSession",
    "lookup_commands",
    "run_console",
]

# Modules that contribute console commands (see the module docstring). A module that is not there yet is skipped.
CONSOLE_EXTENSIONS: tuple[str, ...] = ("bot.alert_posters", "bot.digest_posters", "bot.heat_console")

_HELP_WIDTH = 80  # /help fits an 80-column terminal
_HELP_USAGE_COLUMN = 30  # a longer usage line gets its description on the lines below it

# The playground has one channel. Commands that take a channel in Discord accept it here as `channel:#console`
# or a bare `#console`, like the README writes them; any other channel is refused by name.
CONSOLE_CHANNEL = "#console"
_CHANNEL_COMMANDS = frozenset({"/alerts", "/digest", "/why"})
_CHANNEL_MENTION = re.compile(r"#\S+|<#\d+>")
# A first /trending word that looks like a number is the hours, even when it is not a whole one (1.5, -3, 1e3).
_NUMBER_LIKE = re.compile(r"[-+]?(\d[\d_]*)?([.,]\d*)?([eE][-+]?\d+)?")


class ConsoleServices(Protocol):
    """What the console needs from bot.app.Services."""

    @property
    def lookups(self) -> LookupService: ...


@dataclass(frozen=True, slots=True)
class ConsoleArgs:
    """A command line after its name: the raw rest, and the same split into positional words and key:value pairs."""

    raw: str
    positional: tuple[str, ...]
    named: Mapping[str, str]

    @classmethod
    def parse(cls, raw: str, keys: Iterable[str] = (), single_word: Iterable[str] = ()) -> ConsoleArgs:
        """Split `raw` shell-style; `key:value` is named when key is one of `keys`, and a value runs on until
        the next key (so `name:Power Apps sort:new` works without quotes) — except for the `single_word` keys,
        whose value is one word (so `channel:#console AI` leaves `AI` positional)."""
        known = {k.casefold() for k in keys}
        single = {k.casefold() for k in single_word}
        try:
            words = shlex.split(raw)
        except ValueError:  # an unbalanced quote: take the words as they are
            words = raw.split()
        positional: list[str] = []
        named: dict[str, str] = {}
        current: str | None = None
        for word in words:
            key, sep, value = word.partition(":")
            if sep and key.casefold() in known:
                current = None if key.casefold() in single else key.casefold()
                named[key.casefold()] = value
            elif current is not None:
                named[current] = f"{named[current]} {word}".strip()
            else:
                positional.append(word)
        return cls(raw.strip(), tuple(positional), named)

    def whole_number(self, key: str) -> int | None:
        """The `key:` value as a whole number (None when not given); InvalidArgument saying so otherwise."""
        raw = self.named.get(key)
        if raw is None or not raw.strip():
            return None
        try:
            return int(raw.strip())
        except ValueError:
            raise InvalidArgument(f"{key} must be a whole number, got “{truncate(clean_text(raw), 20)}”.") from None


Handler = Callable[["ConsoleSession", ConsoleArgs], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConsoleCommand:
    """One console command: `name` as typed (e.g. "/topic"), its usage line, a summary, and its handler."""

    name: str
    usage: str
    summary: str
    handler: Handler
    keys: tuple[str, ...] = ()  # the key:value names ConsoleArgs.parse should recognise


@dataclass
class ConsoleSession:
    """State of one console run: where to write, the commands, and the list `next`/`prev` page through."""

    services: Any
    terminal: Terminal
    commands: dict[str, ConsoleCommand] = field(default_factory=dict)
    _pages: Callable[[int], Awaitable[tuple[str, Page[Any] | None]]] | None = None
    _page: Page[Any] | None = None

    def write(self, text: str) -> None:
        """Print a block of text."""
        self.terminal.write(text)

    async def show_pages(self, fetch: Callable[[int], Awaitable[tuple[str, Page[Any] | None]]]) -> None:
        """Show page 1 of a list and remember it, so `next` and `prev` can turn its pages."""
        text, page = await fetch(0)
        self._pages, self._page = (fetch, page) if page is not None and page.count > 1 else (None, None)
        self.write(text)

    async def turn(self, step: int) -> None:
        """Show the next (+1) or previous (-1) page of the last list."""
        if self._pages is None or self._page is None:
            raise InvalidArgument("There is nothing to page through; run /topic, /topics, /search or /trending.")
        if step > 0 and not self._page.has_next:
            raise InvalidArgument("That was the last page.")
        if step < 0 and not self._page.has_previous:
            raise InvalidArgument("That was the first page.")
        text, page = await self._pages(self._page.number + step)
        self._page = page
        self.write(text)


# ----- the lookup commands ------------------------------------------------------------------------------------


def _joined(args: ConsoleArgs, key: str) -> str:
    return args.named.get(key) or " ".join(args.positional)


async def _topic(session: ConsoleSession, args: ConsoleArgs) -> None:
    lookups: LookupService = session.services.lookups
    name = _joined(args, "name")
    sort = args.named.get("sort") or StorySort.HOT.value

    async def fetch(page: int) -> tuple[str, Page[Any] | None]:
        result = await lookups.topic(name, sort=sort, page=page)
        return topic_text(result), result.page

    await session.show_pages(fetch)


async def _topics(session: ConsoleSession, _args: ConsoleArgs) -> None:
    lookups: LookupService = session.services.lookups

    async def fetch(page: int) -> tuple[str, Page[Any] | None]:
        result = await lookups.topics(page=page)
        return topics_text(result), result.page

    await session.show_pages(fetch)


async def _related(session: ConsoleSession, args: ConsoleArgs) -> None:
    lookups: LookupService = session.services.lookups
    reference = args.named.get("story") or args.raw
    session.write(related_text(await lookups.related(reference)))


async def _search(session: ConsoleSession, args: ConsoleArgs) -> None:
    lookups: LookupService = session.services.lookups
    # The raw text, quotes and all: search copes with anything a person types.
    query = args.named.get("query") if set(args.named) == {"query"} else None
    text = query if query is not None else args.raw

    async def fetch(page: int) -> tuple[str, Page[Any] | None]:
        result = await lookups.search(text, page=page)
        return search_text(result), result.page

    await session.show_pages(fetch)


async def _trending(session: ConsoleSession, args: ConsoleArgs) -> None:
    lookups: LookupService = session.services.lookups
    words = list(args.positional)
    hours_text = args.named.get("hours")
    if hours_text is None and words and _NUMBER_LIKE.fullmatch(words[0]) and any(c.isdigit() for c in words[0]):
        hours_text = words.pop(0)
    try:
        hours = int(hours_text) if hours_text is not None else 24
    except ValueError:
        raise InvalidArgument(f"hours must be a whole number from 1 to 720, not “{hours_text}”.") from None
    topic = args.named.get("topic") or (" ".join(words) or None)

    async def fetch(page: int) -> tuple[str, Page[Any] | None]:
        result = await lookups.trending(hours=hours, topic=topic, page=page)
        return trending_text(result), result.page

    await session.show_pages(fetch)


def lookup_commands() -> list[ConsoleCommand]:
    """The lookup slash commands, as console commands."""
    return [
        ConsoleCommand("/topic", "/topic <name> [sort:hot|new]", "stories on a topic", _topic, ("name", "sort")),
        ConsoleCommand("/topics", "/topics", "every topic with its number of stories", _topics),
        ConsoleCommand("/related", "/related <id | link | title words>", "a story and its related ones", _related,
                       ("story",)),
        ConsoleCommand("/search", "/search <words>", "search titles and excerpts", _search, ("query",)),
        ConsoleCommand("/trending", "/trending [hours] [topic]", "hottest stories first seen lately", _trending,
                       ("hours", "topic")),
    ]


def _extension_commands(services: Any, extensions: Iterable[str]) -> list[ConsoleCommand]:
    found: list[ConsoleCommand] = []
    for module_name in extensions:
        try:
            module = importlib.import_module(module_name)
            provider = getattr(module, "console_commands", None)
            if callable(provider):
                found.extend(provider(services))
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                log.exception("console extension %s failed to load; its commands are unavailable", module_name)
        except Exception:
            # One broken feature must not take the whole playground down with it.
            log.exception("console extension %s failed to load; its commands are unavailable", module_name)
    return found


# ----- the prompt loop ----------------------------------------------------------------------------------------


def _help_text(commands: Mapping[str, ConsoleCommand]) -> str:
    rows = [(c.usage, c.summary) for c in commands.values()]
    rows += [("next / prev", "turn the pages of the last list"), ("/help", "this list"),
             ("/quit", "leave (Ctrl-D works too)")]
    # The description column follows the usage lines that fit beside it; longer ones get their own lines.
    width = max((len(usage) for usage, _ in rows if len(usage) <= _HELP_USAGE_COLUMN), default=0)
    column = 2 + width + 2
    lines = ["Commands (the same as the bot's slash commands):"]
    for usage, summary in rows:
        described = textwrap.wrap(summary, _HELP_WIDTH - column) or [""]
        if len(usage) <= width:
            lines.append(f"  {usage:<{width}}  {described[0]}".rstrip())
            described = described[1:]
        else:
            lines.extend(textwrap.wrap(usage, _HELP_WIDTH, initial_indent="  ", subsequent_indent="      "))
        lines.extend(" " * column + part for part in described)
    lines.extend(
        textwrap.wrap(
            "Parameters can be named like in Discord, e.g. /topic name:AI sort:new or /trending hours:72 topic:AI",
            _HELP_WIDTH,
        )
    )
    return "\n".join(lines)


async def run_console(
    services: ConsoleServices,
    *,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    terminal: Terminal | None = None,
    history_file: Path | None = None,
    extensions: Iterable[str] = CONSOLE_EXTENSIONS,
    extra_commands: Iterable[ConsoleCommand] = (),
) -> int:
    """Run the prompt until /quit or end of input; returns the exit status (0).

    Without `terminal`, one is opened on stdin/stdout: line editing on a terminal (its history kept in
    `history_file`), plain lines otherwise.
    """
    found = [*lookup_commands(), *_extension_commands(services, extensions), *extra_commands]
    commands = {c.name: c for c in found}
    the_terminal = terminal if terminal is not None else open_terminal(stdin, stdout, history_file=history_file)
    the_terminal.complete(_completions(commands))
    session = ConsoleSession(services=services, terminal=the_terminal, commands=commands)
    try:
        session.write("Heatwave console — type /help for commands, /quit to leave.")
        while True:
            line = await the_terminal.read_line()
            if line is None or not await _handle(session, line):
                return 0
    finally:
        the_terminal.close()


def _completions(commands: Mapping[str, ConsoleCommand]) -> dict[str, tuple[str, ...]]:
    """Each command name with its option names, for Tab; the built-in words complete too."""
    words = {name: command.keys for name, command in commands.items()}
    for name in _CHANNEL_COMMANDS & words.keys():
        words[name] = (*words[name], "channel")
    return {**words, "next": (), "prev": (), "/help": (), "/quit": ()}


def _without_channel(args: ConsoleArgs) -> ConsoleArgs:
    """Check the channel a command names (`channel:#console` or `#console`) and take it out of the arguments.

    The playground has only #console, so naming it changes nothing; naming another channel is an error that says
    which channels there are, rather than acting on #console as if that had been asked.
    """
    named = dict(args.named)
    given = [named.pop("channel")] if "channel" in named else []
    positional: list[str] = []
    for word in args.positional:
        (given if _CHANNEL_MENTION.fullmatch(word) else positional).append(word)
    for channel in given:
        if channel.strip().lstrip("#").casefold() != CONSOLE_CHANNEL.lstrip("#"):
            shown = truncate(clean_text(channel), 40) or "(nothing)"
            raise InvalidArgument(
                f"The playground has one channel, {CONSOLE_CHANNEL}; there is no channel “{shown}” here."
                f" Leave the channel out or write channel:{CONSOLE_CHANNEL}."
            )
    return ConsoleArgs(args.raw, tuple(positional), named)


async def _handle(session: ConsoleSession, line: str) -> bool:
    """Run one input line; False means the person asked to leave."""
    text = clean_text(line)
    if not text:
        return True
    name, _, rest = text.partition(" ")
    word = name.casefold()
    try:
        if word in ("/quit", "/exit", "quit", "exit"):
            return False
        if word in ("/help", "help", "?"):
            session.write(_help_text(session.commands))
        elif word in ("next", "/next", "n"):
            await session.turn(+1)
        elif word in ("prev", "/prev", "previous", "p"):
            await session.turn(-1)
        elif word in session.commands:
            command = session.commands[word]
            if word in _CHANNEL_COMMANDS:
                args = _without_channel(ConsoleArgs.parse(rest, (*command.keys, "channel"), ("channel",)))
            else:
                args = ConsoleArgs.parse(rest, command.keys)
            await command.handler(session, args)
        else:
            hint = "" if word.startswith("/") else " Commands start with /, e.g. /topic AI."
            session.write(f"Unknown command “{truncate(name, 40)}”.{hint} Type /help for the list.")
    except HeatwaveError as error:
        session.write(f"! {error.user_message}")
    except Exception:
        # A bug, not bad input: keep the details in the log and the prompt alive.
        log.exception("console command failed: %s", truncate(text, 200))
        session.write("! Sorry, something went wrong with that command (details are in the log).")
    return True
