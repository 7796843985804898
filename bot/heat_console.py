"""/heat in the console playground: the chart saved as a PNG file, its numbers and a sparkline printed.

Charts go to `HEATWAVE_DATA_DIR/charts/heat-<story id>.png` (the playground's own folder, git-ignored), one file
per story, replaced when the chart is asked for again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.alert_posters import CONSOLE_CHANNEL_ID, CONSOLE_GUILD_ID
from bot.render.heat import chart_filename, chart_png, heat_console_text
from bot.services.heat_chart import HeatChart, HeatChartService

if TYPE_CHECKING:
    from bot.console import ConsoleArgs, ConsoleCommand, ConsoleSession

CHARTS_FOLDER = "charts"


def _channel_name(channel_id: int) -> str:
    return "#console" if channel_id == CONSOLE_CHANNEL_ID else f"channel {channel_id}"


def _save(folder: Path, chart: HeatChart) -> Path:
    png = chart_png(chart)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / chart_filename(chart)
    path.write_bytes(png)
    return path


def console_commands(services: Any) -> Iterable[ConsoleCommand]:
    """The playground's /heat (bot.console hook)."""
    from bot.console import ConsoleCommand

    charts: HeatChartService = services.heat_charts
    folder = Path(services.settings.data_dir) / CHARTS_FOLDER

    async def handle(session: ConsoleSession, args: ConsoleArgs) -> None:
        reference = args.named.get("story") or args.raw
        chart = await charts.chart(reference, guild_id=CONSOLE_GUILD_ID, channel_id=CONSOLE_CHANNEL_ID)
        # Drawing is CPU work and the file a disk write: the jobs printing above the prompt keep running.
        path = await asyncio.to_thread(_save, folder, chart)
        session.write(heat_console_text(chart, str(path), _channel_name))

    return [
        ConsoleCommand(
            "/heat", "/heat <id | link | title words>", "a story's heat chart (saved as a PNG file)", handle, ("story",)
        ),
    ]
