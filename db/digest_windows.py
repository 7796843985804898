"""How both engines answer many digest windows at once: one query per distinct period, not per subscription.

Subscriptions with the same schedule fall due together and cover the same period, so 10k digests due at one
minute ask about a handful of distinct (since, until) periods. Per period one query ranks the period's stories
per topic (and over every topic) and keeps the hottest `top` of each at or above the lowest `min_heat` asked;
each window then takes its own prefix of its topic's list: "the `top` hottest at or above m" is always a prefix
of "the hottest at or above a lower line", because both are in heat order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from db.models import DigestPick, DigestWindow


@dataclass(slots=True)
class PeriodQuery:
    """Everything one query over one period must return: the topics asked (0 = every topic), the deepest `top`
    and the lowest `min_heat` among its windows."""

    since: datetime
    until: datetime
    topic_keys: set[int] = field(default_factory=set)
    top: int = 0
    min_heat: int | None = None

    @property
    def topic_ids(self) -> list[int]:
        return sorted(k for k in self.topic_keys if k != 0)

    @property
    def every_topic(self) -> bool:
        return 0 in self.topic_keys


def group_by_period(windows: Sequence[DigestWindow]) -> list[PeriodQuery]:
    """One PeriodQuery per distinct (since, until), in first-asked order."""
    periods: dict[tuple[datetime, datetime], PeriodQuery] = {}
    for window in windows:
        query = periods.setdefault((window.since, window.until), PeriodQuery(window.since, window.until))
        query.topic_keys.add(window.topic_id or 0)
        query.top = max(query.top, window.top)
        query.min_heat = window.min_heat if query.min_heat is None else min(query.min_heat, window.min_heat)
    return list(periods.values())


# (since, until, topic key) -> [(story id, heat)] hottest first, as a period query returned them.
Ranked = Mapping[tuple[datetime, datetime, int], Sequence[tuple[int, int]]]


def picks(
    windows: Sequence[DigestWindow], ranked: Ranked, alerted: Iterable[tuple[int, int]]
) -> list[list[DigestPick]]:
    """Each window's own prefix of its period's list for its topic, flagged by the (story, channel) pairs that
    were posted as alerts."""
    sent = set(alerted)
    return [
        [DigestPick(s, h, (s, window.channel_id) in sent) for s, h in _chosen(window, ranked)] for window in windows
    ]


def _chosen(window: DigestWindow, ranked: Ranked) -> list[tuple[int, int]]:
    listed = ranked.get((window.since, window.until, window.topic_id or 0), ())
    return [(story_id, heat) for story_id, heat in listed if heat >= window.min_heat][: window.top]


def candidate_pairs(windows: Sequence[DigestWindow], ranked: Ranked) -> list[tuple[int, int]]:
    """(story id, channel id) pairs worth checking against the alert ledger."""
    return sorted({(story_id, window.channel_id) for window in windows for story_id, _ in _chosen(window, ranked)})
