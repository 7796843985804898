"""/heat: a story's heat history with what to compare it with, as plain data (the chart is drawn elsewhere).

The chart's period runs from the story's publication (or its first heat reading, if that came earlier) to now;
a story whose heat stopped changing long ago is cut after as long again as its history took (at least an hour),
so its changes are not squeezed into the left edge by a long flat tail. For the same reason, a story first read
long after it was published (an old story ingested today) is charted from its first reading: a years-long empty
stretch before it would squeeze every reading into the right edge (the publication is then named, not drawn;
the topic median still covers the stories published since it).

The topic median is the median heat now of the other stories on the story's first topic that were published in
that period (widened to at least the 24 hours before its end, so a young story has something to compare with),
the latest MEDIAN_STORIES of them when there are more; suppressed and unknown heat are left out. The cap keeps it
one bounded index walk at any store size, and a thousand stories pin a median down well.

The breaking line is the heat at which a channel treats a story as breaking: its quiet-hours `breaking` (posts
through quiet hours), else its `ping_heat` (pings topic roles). Asked in a channel without one, the server's
highest such line is shown, with the channel it belongs to; a server without any gets no line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.services.lookups import Choice, LookupService
from db.interfaces import Store
from db.models import BreakingLine, StoryView

__all__ = ["HISTORY_LIMIT", "MEDIAN_STORIES", "HeatChart", "HeatChartService", "HeatPoint", "MedianLine"]

SUPPRESSED = -1  # the publisher's "do not show": a heat, not a number to plot
# The latest this many heat changes are charted; a story changes heat a few times a day, so this is months.
HISTORY_LIMIT = 1_000
MEDIAN_STORIES = 1_000
MEDIAN_MIN_PERIOD = timedelta(hours=24)
MIN_TAIL = timedelta(hours=1)
# Publication this much longer before the first reading than the readings span starts the chart at the readings.
LATE_FIRST_READING = 4


@dataclass(frozen=True, slots=True)
class HeatPoint:
    """One heat reading: from `at` on, the story had `heat` (None: unknown; -1: suppressed by the publisher)."""

    at: datetime
    heat: int | None

    @property
    def known(self) -> bool:
        """A heat that can be plotted (not unknown, not suppressed)."""
        return self.heat is not None and self.heat >= 0


@dataclass(frozen=True, slots=True)
class MedianLine:
    """The topic's median heat over `since`..`until` (see the module docstring)."""

    topic: str
    median: float
    stories: int
    since: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class HeatChart:
    """Everything /heat shows for one story."""

    story: StoryView
    points: tuple[HeatPoint, ...]  # oldest first, never empty
    start: datetime
    end: datetime
    breaking: BreakingLine | None
    breaking_here: bool  # the line is the channel's own (else another channel's of the server)
    median: MedianLine | None
    earlier_changes: bool  # older changes exist than the HISTORY_LIMIT charted

    @property
    def first(self) -> HeatPoint | None:
        """The first reading with a known heat."""
        return next((p for p in self.points if p.known), None)

    @property
    def peak(self) -> HeatPoint | None:
        """The highest known heat (its first time, when it was reached more than once)."""
        known = [p for p in self.points if p.known]
        return max(known, key=lambda p: (p.heat, -p.at.timestamp())) if known else None

    @property
    def latest(self) -> HeatPoint:
        return self.points[-1]

    @property
    def suppressed_since(self) -> datetime | None:
        """When the publisher suppressed the story, if it is suppressed now."""
        if self.latest.heat != SUPPRESSED:
            return None
        since = self.latest.at
        for point in reversed(self.points):
            if point.heat != SUPPRESSED:
                break
            since = point.at
        return since

    @property
    def before_suppression(self) -> int | None:
        """The last known heat before the current suppression (None: never known, or not suppressed)."""
        since = self.suppressed_since
        if since is None:
            return None
        earlier = [p for p in self.points if p.at < since and p.known]
        return earlier[-1].heat if earlier else None


class HeatChartService:
    """Finds the story (as /related does), reads its heat history and what to compare it with."""

    def __init__(self, store: Store, lookups: LookupService, clock: Clock) -> None:
        self._store = store
        self._lookups = lookups
        self._clock = clock

    async def story_choices(self, current: str) -> list[Choice]:
        """The /related story autocomplete."""
        return await self._lookups.story_choices(current)

    async def chart(self, reference: str, *, guild_id: int | None = None, channel_id: int | None = None) -> HeatChart:
        """The heat chart of the story `reference` names (id, link or title words; NotFound says what to try)."""
        story = await self._lookups.resolve_story(reference)
        events = await self._store.ledger.heat_events(story.id, limit=HISTORY_LIMIT + 1)
        earlier = len(events) > HISTORY_LIMIT
        points = [HeatPoint(e.observed_at, e.heat) for e in events[-HISTORY_LIMIT:]]
        if not points or points[-1].heat != story.heat:
            # A store filled before heat history was kept: the story's own heat is its one reading.
            points.append(
                HeatPoint(max(story.first_seen_at, points[-1].at) if points else story.first_seen_at, story.heat)
            )
        start, end = self._period(story, points)
        breaking, here = await self._breaking(guild_id, channel_id)
        return HeatChart(
            story,
            tuple(points),
            start,
            end,
            breaking,
            here,
            await self._median(story, end, min(start, story.published_at)),
            earlier,
        )

    def _period(self, story: StoryView, points: list[HeatPoint]) -> tuple[datetime, datetime]:
        start = min(story.published_at, points[0].at)
        readings = max(points[-1].at - points[0].at, MIN_TAIL)
        if points[0].at - story.published_at > readings * LATE_FIRST_READING:
            start = points[0].at - readings / 2
        last = max(points[-1].at, story.published_at)
        tail = max(last - start, MIN_TAIL)
        return start, max(last, min(self._clock.now(), last + tail))

    async def _median(self, story: StoryView, end: datetime, start: datetime) -> MedianLine | None:
        if not story.topics:
            return None
        topic = await self._store.lookups.topic_by_name(story.topics[0])
        if topic is None:
            return None
        since = min(start, end - MEDIAN_MIN_PERIOD)
        found = await self._store.heat_charts.topic_median(
            topic.id, since=since, until=end, exclude_story=story.id, cap=MEDIAN_STORIES
        )
        if found.median is None:
            return None
        return MedianLine(topic.name, found.median, found.stories, since, end)

    async def _breaking(self, guild_id: int | None, channel_id: int | None) -> tuple[BreakingLine | None, bool]:
        if guild_id is None:
            return None, False
        lines = await self._store.heat_charts.breaking_lines(guild_id)
        here = [line for line in lines if line.channel_id == channel_id]
        for candidates, is_here in ((here, True), (lines, False)):
            # Lines come highest first; the quiet-hours line is the one named "breaking", so it goes first.
            for kind in ("quiet", "ping"):
                found = next((line for line in candidates if line.kind == kind), None)
                if found is not None:
                    return found, is_here
        return None, False
