"""/heat's presentation: the PNG (real matplotlib), the numbers in the message and the console's sparkline."""

from __future__ import annotations

import dataclasses
import struct
from datetime import timedelta

from bot.render import MESSAGE_CONTENT_LIMIT
from bot.render.heat import CHART_HEIGHT, CHART_WIDTH, chart_png, heat_console_text, heat_message, sparkline
from bot.services.heat_chart import HeatChart, HeatPoint, MedianLine
from db.models import BreakingLine, StoryView
from tests.support.seed import NOW

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T0 = NOW - timedelta(hours=10)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (always the first)."""
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def story(heat: int | None, *, title: str = "Chips get faster") -> StoryView:
    return StoryView(
        7,
        "https://x.example/a",
        "https://x.example/a",
        title,
        "e",
        T0 - timedelta(hours=1),
        "article",
        "P",
        "p.example",
        None,
        None,
        heat,
        80,
        ("AI",),
        T0,
    )


def chart(
    readings: list[tuple[float, int | None]],
    *,
    title: str = "Chips get faster",
    breaking: int | None = None,
    median: float | None = None,
    here: bool = True,
    end_hours: float = 10,
) -> HeatChart:
    points = tuple(HeatPoint(T0 + timedelta(hours=h), v) for h, v in readings)
    return HeatChart(
        story(points[-1].heat, title=title),
        points,
        T0 - timedelta(hours=1),
        T0 + timedelta(hours=end_hours),
        BreakingLine(55, "quiet", breaking) if breaking is not None else None,
        here,
        MedianLine("AI", median, 321, NOW - timedelta(hours=24), NOW) if median is not None else None,
        False,
    )


def test_png_is_a_small_800_by_400_image() -> None:
    data = chart_png(chart([(0, 72), (2, 95), (4, 140), (6, 120)], breaking=150, median=88.5))
    assert png_size(data) == (CHART_WIDTH, CHART_HEIGHT) == (800, 400)
    assert len(data) < 200_000


def test_png_of_one_reading_and_of_a_suppressed_story_draws() -> None:
    single = chart([(0, 88)], end_hours=0)
    suppressed = chart([(0, 90), (1, -1)], median=40)
    only_unknown = chart([(0, None)])
    for each in (single, suppressed, only_unknown):
        assert png_size(chart_png(each)) == (800, 400)


def test_message_carries_first_peak_now_published_median_and_line() -> None:
    text = heat_message(chart([(0, 72), (2, 95), (4, 140), (6, 120)], breaking=150, median=88.5))
    lines = text.split("\n")
    assert lines[0] == "**Heat of story 7**: Chips get faster"
    assert lines[1] == "First 72 at 2026-11-26 02:00 UTC · peak 140 at 2026-11-26 06:00 UTC"
    assert lines[2] == "Now 120 (since 2026-11-26 08:00 UTC)."
    assert lines[3] == "Published 2026-11-26 01:00 UTC."
    assert lines[4] == ("Median of AI: 88.5 over 321 stories published 2026-11-25 12:00 UTC – 2026-11-26 12:00 UTC.")
    assert lines[5] == "Breaking line 150 (this channel: quiet hours)."


def test_message_names_another_channels_line_by_mention() -> None:
    text = heat_message(chart([(0, 72)], breaking=150, here=False))
    assert "Breaking line 150 (<#55>: quiet hours)." in text


def test_message_of_a_single_reading_and_of_a_suppressed_story() -> None:
    single = heat_message(chart([(0, 88)]))
    suppressed = heat_message(chart([(0, 90), (1, 130), (2, -1)]))
    assert "One heat reading so far: 88 at 2026-11-26 02:00 UTC." in single
    assert "Now suppressed by the publisher (heat -1) since 2026-11-26 04:00 UTC; it was 130 before." in suppressed
    assert "peak 130" in suppressed


def test_message_escapes_story_text_and_fits_discord() -> None:
    hostile = chart([(0, 88)], title="@everyone **bold** <@&123> " + "x" * 3000, median=50)
    assert hostile.median is not None
    hostile = dataclasses.replace(hostile, median=dataclasses.replace(hostile.median, topic="<@&9> **AI**"))
    text = heat_message(hostile)
    assert "**AI**" not in text
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert "<@&" not in text
    assert len(text) <= MESSAGE_CONTENT_LIMIT


def test_sparkline_follows_the_heat_over_time() -> None:
    line = sparkline(chart([(0, 10), (5, 100)], end_hours=10), width=11)
    assert line == "▁▁▁▁▁██████"
    assert sparkline(chart([(0, 50), (5, -1)], end_hours=10), width=4) == "▄▄××"
    assert sparkline(chart([(0, 88)], end_hours=0)) == "▄"


def test_console_text_has_sparkline_and_path() -> None:
    text = heat_console_text(
        chart([(0, 72), (2, 95)], breaking=150, here=False), "/tmp/heat-7.png", lambda cid: f"channel {cid}"
    )
    assert "Heat of story #7: Chips get faster" in text
    assert "Breaking line 150 (channel 55: quiet hours)." in text
    assert "Chart saved to /tmp/heat-7.png" in text
    assert any(set(line.split("  ")[0]) <= set("▁▂▃▄▅▆▇█") for line in text.split("\n"))
