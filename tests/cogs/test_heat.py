"""/heat's shape, and that neither the cog nor a starting bot (or console) imports matplotlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import discord

from bot.clock import ManualClock
from bot.services.heat_chart import HeatChartService
from bot.services.lookups import LookupService
from cogs.heat import HeatCog
from db.interfaces import Store
from tests.conftest import PROJECT_ROOT
from tests.support.storydb import Story, add_stories

# Loads every extension into a real HeatwaveBot over a fresh store (no connection needed for that) and the console
# with its extensions, then prints which matplotlib modules got imported on the way.
_START_WITHOUT_DRAWING = """
import asyncio, sys
from bot.app import build_services
from bot.client import EXTENSIONS, HeatwaveBot
from bot.clock import SystemClock
from bot.console import CONSOLE_EXTENSIONS, _extension_commands
from bot.settings import Settings
from db import parse_location

async def main() -> None:
    services = await build_services(Settings(), store=parse_location(sys.argv[1]), clock=SystemClock())
    bot = HeatwaveBot(services)
    try:
        for name in EXTENSIONS:
            await bot.load_extension(name)
        assert bot.tree.get_command("heat") is not None
        assert any(c.name == "/heat" for c in _extension_commands(services, CONSOLE_EXTENSIONS))
    finally:
        await bot.close()
        await services.close()
    print(sorted(m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")))

asyncio.run(main())
"""


def test_heat_is_a_public_command_with_the_related_story_autocomplete(store: Store, clock: ManualClock) -> None:
    [command] = HeatCog(HeatChartService(store, LookupService(store.lookups, clock), clock)).get_app_commands()
    payload = command.to_dict(discord.app_commands.CommandTree(discord.Client(intents=discord.Intents.none())))
    assert payload["name"] == "heat"
    assert payload["description"]
    assert payload.get("default_member_permissions") is None
    [option] = payload["options"]
    assert (option["name"], option["required"], option["autocomplete"]) == ("story", True, True)


async def test_heat_autocomplete_is_relateds(store: Store, clock: ManualClock) -> None:
    await add_stories(store, [Story(f"Quantum leap {i}", heat=100 - i) for i in range(30)])
    lookups = LookupService(store.lookups, clock)
    heat = HeatCog(HeatChartService(store, lookups, clock))
    assert await heat.charts.story_choices("quantum") == await lookups.story_choices("quantum")


def test_importing_the_cog_and_starting_the_bot_and_console_do_not_import_matplotlib(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _START_WITHOUT_DRAWING, str(tmp_path / "heatwave.db")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    probe = subprocess.run(
        [sys.executable, "-c", "import cogs.heat, bot.render.heat, sys; print('matplotlib' in sys.modules)"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert probe.stdout.strip() == "False", probe.stderr
