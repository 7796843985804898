"""The console at a real (pseudo-)terminal, driven by keys as a person types them; assertions are on the screen."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.console import ConsoleArgs, ConsoleCommand, ConsoleSession, run_console
from bot.console_prompt import PROMPT, open_terminal
from tests.support.terminal import CTRL_C, CTRL_D, ENTER, LEFT, TAB, UP, PtyScreen


class Console:
    """run_console on a pty, in this event loop, with an /echo command; `finished` is its task."""

    def __init__(self, screen: PtyScreen) -> None:
        self.screen = screen
        self.received: list[str] = []  # the lines /echo was given, exactly
        self.finished: asyncio.Task[int]
        self.write: Callable[[str], None]  # what the alert poster calls

    def command(self) -> ConsoleCommand:
        async def echo(session: ConsoleSession, args: ConsoleArgs) -> None:
            self.received.append(args.raw)
            session.write(f"got «{args.raw}»")

        return ConsoleCommand("/echo", "/echo <words> [word:x]", "say it back", echo, ("word",))

    async def line(self, keys: str, shows: str) -> None:
        """Type `keys` (ending in Enter) and wait for the reply `shows`."""
        self.screen.type(keys)
        await self.screen.wait_for(shows)

    async def typed(self, ending: str) -> None:
        """Wait until the prompt line, up to the cursor, ends with `ending`."""
        await self.screen.wait_for(lambda: self.screen.before_cursor.endswith(ending), what=f"{ending!r} typed")

    async def prompt_ready(self) -> None:
        await self.screen.wait_for(lambda: self.screen.before_cursor == PROMPT, what="an empty prompt")


StartConsole = Callable[..., Awaitable[Console]]


@pytest.fixture
async def start_console(tmp_path: Path) -> AsyncIterator[StartConsole]:
    screens: list[PtyScreen] = []
    tasks: list[asyncio.Task[int]] = []

    async def start(extensions: tuple[str, ...] = ()) -> Console:
        screen = PtyScreen()
        screens.append(screen)
        screen.attach()
        stdin, stdout = screen.program_streams()
        terminal = open_terminal(stdin, stdout, history_file=tmp_path / "data" / "console_history")
        console = Console(screen)
        console.write = terminal.write
        services = SimpleNamespace(lookups=None, alerts=None)  # completion and /echo never reach them
        console.finished = asyncio.ensure_future(
            run_console(services, terminal=terminal, extensions=extensions, extra_commands=[console.command()])
        )
        tasks.append(console.finished)
        await console.prompt_ready()
        return console

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for screen in screens:
        screen.close()


async def test_left_arrow_moves_the_cursor_instead_of_typing_an_escape_code(start_console: StartConsole) -> None:
    console = await start_console()

    await console.line(f"/echo AI{LEFT}X{ENTER}", "got «AXI»")

    assert console.received == ["AXI"]
    assert "[D" not in console.screen.text


async def test_up_arrow_recalls_the_last_line_and_enter_runs_it_again(start_console: StartConsole) -> None:
    console = await start_console()
    await console.line(f"/echo first{ENTER}", "got «first»")
    await console.prompt_ready()

    console.screen.type(UP)
    await console.screen.wait_for(lambda: console.screen.before_cursor == f"{PROMPT}/echo first", what="recalled")
    console.screen.type(ENTER)
    await console.screen.wait_for(lambda: console.screen.text.count("got «first»") == 2, what="a second reply")

    assert console.received == ["first", "first"]
    assert "Unknown command" not in console.screen.text


async def test_history_is_kept_for_the_next_session(start_console: StartConsole) -> None:
    first = await start_console()
    await first.line(f"/echo from yesterday{ENTER}", "got «from yesterday»")
    await first.prompt_ready()
    first.screen.type(CTRL_D)
    assert await asyncio.wait_for(first.finished, 10) == 0

    second = await start_console()
    second.screen.type(UP)

    await second.screen.wait_for(
        lambda: second.screen.before_cursor == f"{PROMPT}/echo from yesterday", what="yesterday's line recalled"
    )


async def test_tab_completes_command_names_then_option_names(start_console: StartConsole) -> None:
    console = await start_console()

    console.screen.type("/ec")
    await console.typed("/ec")
    console.screen.type(TAB)
    await console.screen.wait_for(lambda: console.screen.before_cursor == f"{PROMPT}/echo ", what="/echo completed")
    console.screen.type("hello wo")
    await console.typed("wo")
    console.screen.type(TAB)
    await console.screen.wait_for(lambda: console.screen.before_cursor.endswith("hello word:"), what="word: completed")
    await console.line(f"x{ENTER}", "got «hello word:x»")


async def test_tab_completes_the_alerts_options_and_the_channel(start_console: StartConsole) -> None:
    console = await start_console(extensions=("bot.alert_posters",))

    for typed, completed in (("/al", "/alerts "), ("add ch", "add channel:"), ("#console AI min_h", "min_heat:")):
        console.screen.type(typed)
        await console.typed(typed)
        console.screen.type(TAB)
        await console.typed(completed)

    assert console.screen.before_cursor == f"{PROMPT}/alerts add channel:#console AI min_heat:"


async def test_ctrl_d_on_a_half_typed_line_does_not_submit_it(start_console: StartConsole) -> None:
    console = await start_console()

    console.screen.type(f"/echo half{CTRL_D}")
    await console.line(f" and the rest{ENTER}", "got «half and the rest»")

    assert console.received == ["half and the rest"]


async def test_ctrl_c_clears_the_line_and_ctrl_d_on_an_empty_line_leaves(start_console: StartConsole) -> None:
    console = await start_console()

    console.screen.type("/echo never mind")
    await console.typed("never mind")
    console.screen.type(CTRL_C)
    await console.prompt_ready()
    await console.line(f"/echo fresh{ENTER}", "got «fresh»")
    await console.prompt_ready()
    console.screen.type(CTRL_D)

    assert await asyncio.wait_for(console.finished, 10) == 0
    assert console.received == ["fresh"]


async def test_an_alert_prints_above_a_half_typed_line_and_the_line_is_kept(start_console: StartConsole) -> None:
    console = await start_console()
    console.screen.type("/echo half typ")
    await console.typed("half typ")

    console.write("\n🔥 alert in #console:\n#7 Fusion startup reaches ignition")
    await console.screen.wait_for("#7 Fusion startup reaches ignition")

    lines = [line for line in console.screen.lines if line]
    assert lines[-3:] == ["🔥 alert in #console:", "#7 Fusion startup reaches ignition", f"{PROMPT}/echo half typ"]
    assert console.screen.before_cursor == f"{PROMPT}/echo half typ"
    await console.line(f"ed{ENTER}", "got «half typed»")


async def test_a_log_warning_prints_above_the_prompt_too(start_console: StartConsole) -> None:
    console = await start_console()
    _stdin, stdout = console.screen.program_streams()
    handler = logging.StreamHandler(stdout)  # the runner's log handler writes to the same terminal
    logging.getLogger().addHandler(handler)
    try:
        await console.line(f"/echo warm up{ENTER}", "got «warm up»")  # the prompt is drawn with the handler there
        console.screen.type("/echo half")
        await console.typed("half")

        logging.getLogger("bot.scheduling").warning("rejected drop/bad.md: no front matter")
        await console.screen.wait_for("rejected drop/bad.md: no front matter")
    finally:
        logging.getLogger().removeHandler(handler)

    lines = [line for line in console.screen.lines if line]
    assert lines[-2:] == ["rejected drop/bad.md: no front matter", f"{PROMPT}/echo half"]
