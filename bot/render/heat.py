"""/heat as people see it: the PNG chart, the numbers as Discord text and as console text, a text sparkline.

matplotlib is imported inside `chart_png` only: the bot and the console start without it (it costs ~0.5 s and
tens of MB), and only someone who asks for a chart pays for it. The chart uses the Agg canvas on a Figure of its
own (no pyplot, so no global figure state), which makes it safe to draw in a worker thread.

Story text (titles, topic names) never goes into the PNG: matplotlib would read `$…$` in it as mathematics and
lacks glyphs for many scripts. It is in the message, escaped like every other message of the bot.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.render.limits import MESSAGE_CONTENT_LIMIT, clean_text, escape, truncate
from bot.services.heat_chart import SUPPRESSED, HeatChart, HeatPoint

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CHART_HEIGHT",
    "CHART_WIDTH",
    "MAX_PNG_BYTES",
    "chart_filename",
    "chart_png",
    "heat_console_text",
    "heat_message",
    "sparkline",
]

# 800×400 reads well in Discord's chat column and on a phone, and stays a few tens of KB.
CHART_WIDTH, CHART_HEIGHT = 800, 400
_DPI = 100
# Discord refuses attachments over 8 MiB on servers without boosts (10 MiB since 2024); a chart is far below
# either, and one that is not (a bug) is refused here rather than by Discord.
MAX_PNG_BYTES = 8 * 1024 * 1024
# One drawing at a time: matplotlib does not promise thread safety across figures, and a burst of /heat should
# queue for one core rather than take every core from the bot.
_DRAWING = threading.Lock()
SPARK_BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 40
_TITLE = 150

_LINE_COLOUR = "#E8431C"
_BREAKING_COLOUR = "#B3261E"
_MEDIAN_COLOUR = "#3A6EA5"
_PUBLISHED_COLOUR = "#555555"
_SUPPRESSED_COLOUR = "#9E9E9E"


# ----- numbers ------------------------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _reading(point: HeatPoint) -> str:
    return f"{point.heat} at {_when(point.at)}"


def _numbers(chart: HeatChart, *, channel_name: Callable[[int], str], shown: Callable[[str], str]) -> list[str]:
    """The chart's figures in words, one line each (the same for Discord and the console); `shown` makes story text
    (the topic's name) safe where it goes."""
    lines: list[str] = []
    first, peak, latest = chart.first, chart.peak, chart.latest
    readings = sum(1 for p in chart.points if p.heat is not None)
    if first is None or peak is None:
        lines.append("No known heat yet." if chart.suppressed_since is None else "No heat was known before.")
    elif readings == 1 and latest.known:
        lines.append(f"One heat reading so far: {_reading(latest)}.")
    else:
        lines.append(f"First {_reading(first)} · peak {_reading(peak)}")
    since = chart.suppressed_since
    if since is not None:
        before = chart.before_suppression
        was = f"; it was {before} before" if before is not None else ""
        lines.append(f"Now suppressed by the publisher (heat -1) since {_when(since)}{was}.")
    elif latest.heat is None:
        lines.append(f"Now unknown (since {_when(latest.at)}).")
    elif readings > 1:
        lines.append(f"Now {latest.heat} (since {_when(latest.at)}).")
    lines.append(f"Published {_when(chart.story.published_at)}.")
    median = chart.median
    if median is not None:
        lines.append(
            f"Median of {shown(truncate(clean_text(median.topic), 60))}: {_number(median.median)} over "
            f"{median.stories:,} {'story' if median.stories == 1 else 'stories'} published "
            f"{_when(median.since)} – {_when(median.until)}."
        )
    line = chart.breaking
    if line is not None:
        how = "quiet hours" if line.kind == "quiet" else "role pings"
        whose = "this channel" if chart.breaking_here else channel_name(line.channel_id)
        lines.append(f"Breaking line {line.heat} ({whose}: {how}).")
    if chart.earlier_changes:
        lines.append(f"Only the latest {len(chart.points):,} heat changes are charted.")
    return lines


def heat_message(chart: HeatChart) -> str:
    """The text that goes with the chart on Discord (story text escaped, within the message limit)."""
    story = chart.story
    title = escape(truncate(clean_text(story.title), _TITLE)) or "Untitled"
    # A channel mention pings nobody (and allowed_mentions is none anyway); Discord shows it as its name.
    lines = [
        f"**Heat of story {story.id}**: {title}",
        *_numbers(chart, channel_name=lambda cid: f"<#{cid}>", shown=escape),
    ]
    return truncate("\n".join(lines), MESSAGE_CONTENT_LIMIT)


def heat_console_text(chart: HeatChart, path: str, channel_name: Callable[[int], str]) -> str:
    """The console's /heat: the numbers, a sparkline of the history and where the PNG was saved."""
    story = chart.story
    title = truncate(clean_text(story.title), _TITLE) or "Untitled"
    lines = [f"Heat of story #{story.id}: {title}", *_numbers(chart, channel_name=channel_name, shown=str)]
    lines.append(f"{sparkline(chart)}  (first reading → {_when(chart.end)})")
    lines.append(f"Chart saved to {path}")
    return "\n".join(lines)


def chart_filename(chart: HeatChart) -> str:
    return f"heat-{chart.story.id}.png"


# ----- sparkline ----------------------------------------------------------------------------------------------


def _heat_at(points: tuple[HeatPoint, ...], moment: datetime) -> int | None:
    current: int | None = None
    for point in points:
        if point.at > moment:
            break
        current = point.heat
    return current


def sparkline(chart: HeatChart, *, width: int = SPARK_WIDTH) -> str:
    """The heat from the first reading to the chart's end in at most `width` characters, evenly spaced in time;
    `×` where the publisher suppressed it, `·` where it was unknown."""
    points = chart.points
    begin = points[0].at
    span = chart.end - begin
    columns = 1 if span <= timedelta(0) else min(width, max(len(points), width))
    samples = [_heat_at(points, begin + span * (i / (columns - 1)) if columns > 1 else begin) for i in range(columns)]
    known = [h for h in samples if h is not None and h >= 0]
    if not known:
        return "".join("×" if h == SUPPRESSED else "·" for h in samples)
    low, high = min(known), max(known)
    top = len(SPARK_BARS) - 1

    def bar(heat: int | None) -> str:
        if heat is None:
            return "·"
        if heat == SUPPRESSED:
            return "×"
        if high == low:
            return SPARK_BARS[top // 2]
        return SPARK_BARS[round((heat - low) / (high - low) * top)]

    return "".join(bar(h) for h in samples)


# ----- the PNG ------------------------------------------------------------------------------------------------


# matplotlib's date numbers: days since its epoch (1970 unless configured otherwise, which _draw checks).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _x(moment: datetime) -> float:
    return (moment - _EPOCH) / timedelta(days=1)


def _step_series(chart: HeatChart) -> tuple[list[float], list[float]]:
    """The step line's corners: each reading, held until the next one, then to the chart's end; NaN (a gap) where
    the heat is unknown or suppressed."""
    times = [_x(p.at) for p in chart.points]
    heats = [float(p.heat) if p.known and p.heat is not None else math.nan for p in chart.points]
    if chart.end > chart.points[-1].at:
        times.append(_x(chart.end))
        heats.append(heats[-1])
    return times, heats


def _suppressed_spans(chart: HeatChart) -> list[tuple[datetime, datetime]]:
    spans: list[tuple[datetime, datetime]] = []
    points = chart.points
    for i, point in enumerate(points):
        if point.heat != SUPPRESSED:
            continue
        until = points[i + 1].at if i + 1 < len(points) else chart.end
        if spans and spans[-1][1] == point.at:
            spans[-1] = (spans[-1][0], until)
        else:
            spans.append((point.at, until))
    return spans


def _draw(ax: Axes, chart: HeatChart) -> None:
    from matplotlib import dates as mdates

    epoch = mdates.get_epoch()  # type: ignore[no-untyped-call]
    if epoch != "1970-01-01T00:00:00":
        raise RuntimeError(f"matplotlib's date epoch is {epoch}; the chart expects 1970-01-01")
    times, heats = _step_series(chart)
    ax.step(times, heats, where="post", color=_LINE_COLOUR, linewidth=2, label="heat")
    known = [(_x(p.at), float(p.heat)) for p in chart.points if p.known and p.heat is not None]
    if known:
        ax.plot([t for t, _ in known], [h for _, h in known], "o", color=_LINE_COLOUR, markersize=4)
    width = chart.end - chart.start
    for number, (since, until) in enumerate(_suppressed_spans(chart)):
        # A zero-width span (suppressed at the chart's very end) still shows as a band.
        ax.axvspan(
            _x(since),
            _x(max(until, since + width / 200)),
            color=_SUPPRESSED_COLOUR,
            alpha=0.35,
            label="suppressed by the publisher" if number == 0 else None,
        )
    if chart.breaking is not None:
        ax.axhline(
            chart.breaking.heat,
            color=_BREAKING_COLOUR,
            linestyle="--",
            linewidth=1.2,
            label=f"breaking line {chart.breaking.heat}",
        )
    if chart.median is not None:
        ax.axhline(
            chart.median.median,
            color=_MEDIAN_COLOUR,
            linestyle="-.",
            linewidth=1.2,
            label=f"topic median {_number(chart.median.median)}",
        )
    if chart.story.published_at >= chart.start:
        ax.axvline(
            _x(chart.story.published_at), color=_PUBLISHED_COLOUR, linestyle=":", linewidth=1.2, label="published"
        )
    else:
        # Charted from its first reading (see bot.services.heat_chart): the publication is named, not drawn.
        ax.plot([], [], " ", label=f"published {chart.story.published_at:%Y-%m-%d}, before this chart")
    margin = max(width / 40, timedelta(minutes=5))
    ax.set_xlim(_x(chart.start - margin), _x(chart.end + margin))
    values = [h for _, h in known]
    values += [float(chart.breaking.heat)] if chart.breaking is not None else []
    values += [chart.median.median] if chart.median is not None else []
    ax.set_ylim(0, max(values, default=100.0) * 1.12 + 5)
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]
    ax.set_ylabel("heat")
    ax.set_xlabel("time (UTC)")
    ax.set_title(f"Heat of story {chart.story.id}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.85)


def chart_png(chart: HeatChart) -> bytes:
    """The chart as a CHART_WIDTH×CHART_HEIGHT PNG. CPU work (0.1–1 s): call it off the event loop."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _DRAWING:
        figure = Figure(figsize=(CHART_WIDTH / _DPI, CHART_HEIGHT / _DPI), dpi=_DPI)
        FigureCanvasAgg(figure)
        # Fixed margins that fit the labels: a tight layout measures every text first and doubles the drawing time.
        figure.subplots_adjust(left=0.08, right=0.98, top=0.92, bottom=0.16)
        _draw(figure.add_subplot(), chart)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=_DPI, metadata={"Software": None})
    data = out.getvalue()
    if len(data) > MAX_PNG_BYTES:
        raise ValueError(f"a heat chart of {len(data):,} bytes is over Discord's attachment limit")
    return data
