"""/heat in the console playground: the chart lands in a PNG file, its path and a sparkline are printed."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from bot.clock import ManualClock
from bot.console import run_console
from bot.services.heat_chart import HeatChartService
from bot.services.lookups import LookupService
from db.interfaces import Store
from tests.bot.render.test_heat import png_size
from tests.support.alerts import StoryWriter


async def run(services: SimpleNamespace, *lines: str) -> str:
    out = io.StringIO()
    stdin = io.StringIO("".join(f"{line}\n" for line in lines))
    assert await run_console(services, stdin=stdin, stdout=out, extensions=("bot.heat_console",)) == 0  # type: ignore[arg-type]
    return out.getvalue()


async def test_console_heat_saves_the_png_and_prints_its_path_and_a_sparkline(
    store: Store, clock: ManualClock, writer: StoryWriter, tmp_path: Path
) -> None:
    lookups = LookupService(store.lookups, clock)
    services = SimpleNamespace(
        lookups=lookups,
        heat_charts=HeatChartService(store, lookups, clock),
        settings=SimpleNamespace(data_dir=tmp_path / "data"),
    )
    story = writer.add(40, title="Console chart story")
    for heat in (80, 160):
        clock.advance(timedelta(hours=1))
        writer.set_heat(story, heat)

    text = await run(services, "/heat console chart", "/heat story:nothing like this title", "/quit")

    path = tmp_path / "data" / "charts" / f"heat-{story}.png"
    assert png_size(path.read_bytes()) == (800, 400)
    assert f"Chart saved to {path}" in text
    assert f"Heat of story #{story}: Console chart story" in text
    assert "First 40 at" in text
    assert "peak 160" in text
    # From the first reading to now, evenly in time: 40 for an hour, 80 (a third of the way up) for an hour, then 160.
    sparkline = next(line for line in text.splitlines() if line.startswith("▁"))
    assert sparkline.split("  ")[0] == "▁" * 20 + "▃" * 19 + "█"
    assert "! No story title matches" in text
