"""Digest schedules: when is the next hourly, daily or weekly digest, in local time, across daylight-saving changes.

Pure functions over aware datetimes (no clock, no I/O), so every case is testable with fixed instants.

The rules for local times that do not map to exactly one instant:
* a time that does not exist on that date (02:30 on a spring-forward day in Europe/Berlin) is sent at the next
  valid minute (03:00 there);
* a time that exists twice (02:30 on a fall-back day) is sent once, at its first occurrence (fold=0).
An hourly digest runs at minute MM of every hour as it passes, so on a fall-back day the repeated hour has one too:
an hour has passed between them.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal

from bot.errors import InvalidArgument

Every = Literal["hourly", "daily", "weekly"]
EVERY: tuple[Every, ...] = ("hourly", "daily", "weekly")
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# The nominal length of a period: only the first digest of a subscription uses it (it covers "the last period").
PERIOD: dict[Every, timedelta] = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(days=7)}

_HHMM = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")
# The longest stretch of local time a zone has ever skipped is under a day; a search that goes further is a bug.
_GAP_SEARCH_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a digest is due: every hour at minute `minute % 60`, or every day / one weekday at `minute` (minutes
    after local midnight), in `timezone` (an IANA name)."""

    every: Every
    minute: int  # 0..1439 (hourly uses minute % 60)
    weekday: int | None  # 0 = Monday .. 6 = Sunday, weekly only
    timezone: str

    @property
    def zone(self) -> tzinfo:
        return load_zone(self.timezone)

    def next_after(self, moment: datetime) -> datetime:
        """The first due instant strictly after `moment` (aware, returned in UTC)."""
        return next_occurrence(self, moment)

    def label(self) -> str:
        """'daily at 09:00 Europe/Berlin', 'hourly at :15 UTC', 'weekly on Monday at 09:00 UTC'."""
        hh, mm = divmod(self.minute, 60)
        if self.every == "hourly":
            return f"hourly at :{mm:02d} {self.timezone}"
        if self.every == "weekly" and self.weekday is not None:
            return f"weekly on {WEEKDAYS[self.weekday].title()} at {hh:02d}:{mm:02d} {self.timezone}"
        return f"daily at {hh:02d}:{mm:02d} {self.timezone}"


@lru_cache(maxsize=512)
def load_zone(name: str) -> tzinfo:
    """The zone called `name`; InvalidArgument (with close names) when there is none."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidArgument(_unknown_zone(name)) from None


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this installation knows (tzdata ships them when the system has none), sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


def zone_choices(text: str, limit: int = 25) -> list[str]:
    """Zone names for autocomplete: those starting with what was typed first, then those containing it."""
    typed = text.strip().casefold().replace(" ", "_")
    names = zone_names()
    if not typed:
        preferred = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
                     "Asia/Tokyo", "Australia/Sydney"]
        return [n for n in preferred if n in names][:limit]
    starts = [n for n in names if n.casefold().startswith(typed)]
    parts = [n for n in names if n not in starts and any(p.startswith(typed) for p in n.casefold().split("/"))]
    contains = [n for n in names if typed in n.casefold() and n not in starts and n not in parts]
    return (starts + parts + contains)[:limit]


def _unknown_zone(name: str) -> str:
    shown = name.strip().replace("`", "'")[:60] or "(empty)"
    by_key = {n.casefold(): n for n in zone_names()}
    close = difflib.get_close_matches(name.strip().casefold(), list(by_key), n=3, cutoff=0.6)
    if not close:
        close = [by_key[k] for k in by_key if name.strip().casefold() in k][:3] if name.strip() else []
    hint = f" Did you mean: {', '.join(by_key.get(c, c) for c in close)}?" if close else ""
    return f"Unknown time zone “{shown}”.{hint} Use an IANA name such as Europe/Berlin or America/New_York."


def parse_at(text: str) -> int:
    """'09:00' -> 540 minutes after midnight; InvalidArgument saying what to type otherwise."""
    match = _HHMM.match(text)
    if match:
        hours, minutes = int(match.group(1)), int(match.group(2))
        if hours < 24 and minutes < 60:
            return hours * 60 + minutes
    shown = text.strip().replace("`", "'")[:20] or "(empty)"
    raise InvalidArgument(f"at must be a time of day as HH:MM (24-hour clock), e.g. 09:00 or 18:30, not “{shown}”.")


def parse_weekday(text: str) -> int:
    """'monday' (or 'mon', any case) -> 0; InvalidArgument otherwise."""
    typed = text.strip().casefold()
    matches = [i for i, day in enumerate(WEEKDAYS) if typed and day.startswith(typed)] if len(typed) >= 2 else []
    if len(matches) == 1:
        return matches[0]
    shown = text.strip().replace("`", "'")[:20] or "(empty)"
    raise InvalidArgument(f"day must be a day of the week (monday … sunday), not “{shown}”.")


def _exists(naive: datetime, zone: tzinfo) -> datetime | None:
    """The first instant showing wall time `naive` in `zone`, or None when that wall time is skipped there."""
    aware = naive.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != naive:
        return None
    return aware.astimezone(UTC)


def resolve_local(day: date, minute: int, zone: tzinfo) -> datetime:
    """The instant of local `day` at `minute` after midnight: its first occurrence when it exists twice, the next
    valid minute when it does not exist (a spring-forward gap)."""
    naive = datetime.combine(day, time(0, 0)) + timedelta(minutes=minute)
    for step in range(_GAP_SEARCH_MINUTES):
        found = _exists(naive + timedelta(minutes=step), zone)
        if found is not None:
            return found
    raise AssertionError(f"no valid local time within a day after {naive} in {zone}")


def next_occurrence(schedule: Schedule, moment: datetime) -> datetime:
    """The first instant of `schedule` strictly after `moment`."""
    if moment.tzinfo is None:
        raise ValueError("next_occurrence needs an aware datetime")
    zone = schedule.zone
    if schedule.every == "hourly":
        # Walk whole minutes: at most two hours of them, and it is right for every offset (+05:45 included).
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        wanted = schedule.minute % 60
        for step in range(2 * 60 + 1):
            candidate = start + timedelta(minutes=step)
            if candidate.astimezone(zone).minute == wanted:
                return candidate
        raise AssertionError("no hourly occurrence within two hours")
    local_day = moment.astimezone(zone).date()
    # From the day before (an occurrence resolved across a gap may land on the next day) to eight days ahead.
    for offset in range(-1, 9):
        day = local_day + timedelta(days=offset)
        if schedule.every == "weekly" and day.weekday() != schedule.weekday:
            continue
        candidate = resolve_local(day, schedule.minute, zone)
        if candidate > moment:
            return candidate
    raise AssertionError("no occurrence within eight days")


def latest_due(schedule: Schedule, due_at: datetime, now: datetime) -> tuple[datetime, datetime]:
    """(the most recent occurrence at or before `now`, starting from the due one `due_at`; the one after it).

    After downtime several occurrences may have passed: only the latest is still less than one period late."""
    current = due_at
    following = schedule.next_after(current)
    while following <= now:
        current, following = following, schedule.next_after(following)
    return current, following


def in_window(start_minute: int, end_minute: int, timezone: str, moment: datetime) -> bool:
    """Whether local wall time at `moment` is in [start, end) (a window may span midnight: 22:00-07:00)."""
    local = moment.astimezone(load_zone(timezone))
    minute = local.hour * 60 + local.minute
    if start_minute < end_minute:
        return start_minute <= minute < end_minute
    return minute >= start_minute or minute < end_minute
