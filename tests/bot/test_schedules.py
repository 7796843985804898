"""Digest schedules with fixed instants: every kind, and both daylight-saving changes in two zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import InvalidArgument
from bot.schedules import Schedule, latest_due, load_zone, parse_at, parse_weekday, zone_choices


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run(schedule: Schedule, start: datetime, count: int) -> list[datetime]:
    found, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment)
    return found


def test_schedule_daily_berlin_stays_at_nine_local_across_spring_forward() -> None:
    daily = Schedule("daily", 9 * 60, None, "Europe/Berlin")
    # 2027-03-28: clocks go from 02:00 CET to 03:00 CEST.
    assert run(daily, utc(2027, 3, 26, 12), 3) == [utc(2027, 3, 27, 8), utc(2027, 3, 28, 7), utc(2027, 3, 29, 7)]


def test_schedule_daily_berlin_stays_at_nine_local_across_fall_back() -> None:
    daily = Schedule("daily", 9 * 60, None, "Europe/Berlin")
    # 2027-10-31: clocks go from 03:00 CEST back to 02:00 CET.
    assert run(daily, utc(2027, 10, 29, 12), 3) == [utc(2027, 10, 30, 7), utc(2027, 10, 31, 8), utc(2027, 11, 1, 8)]


def test_schedule_time_missing_on_spring_forward_day_goes_at_next_valid_minute() -> None:
    daily = Schedule("daily", 2 * 60 + 30, None, "Europe/Berlin")
    # 02:30 does not exist on 2027-03-28: sent at 03:00 CEST (01:00 UTC), then 02:30 CEST again.
    assert run(daily, utc(2027, 3, 27, 12), 2) == [utc(2027, 3, 28, 1), utc(2027, 3, 29, 0, 30)]


def test_schedule_time_repeated_on_fall_back_day_is_sent_once() -> None:
    daily = Schedule("daily", 2 * 60 + 30, None, "Europe/Berlin")
    # 02:30 happens twice on 2027-10-31 (00:30 and 01:30 UTC): only the first counts.
    assert run(daily, utc(2027, 10, 30, 12), 2) == [utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30)]


def test_schedule_new_york_both_changes() -> None:
    daily = Schedule("daily", 2 * 60 + 30, None, "America/New_York")
    # 2027-03-14: 02:00 EST -> 03:00 EDT, so 02:30 goes at 03:00 EDT (07:00 UTC).
    assert run(daily, utc(2027, 3, 13, 12), 2) == [utc(2027, 3, 14, 7), utc(2027, 3, 15, 6, 30)]
    # 2027-11-07: 01:30 exists twice (05:30 and 06:30 UTC); 01:30 is sent once, at the first.
    early = Schedule("daily", 90, None, "America/New_York")
    assert run(early, utc(2027, 11, 6, 12), 2) == [utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30)]
    nine = Schedule("daily", 9 * 60, None, "America/New_York")
    assert run(nine, utc(2027, 11, 6, 0), 2) == [utc(2027, 11, 6, 13), utc(2027, 11, 7, 14)]


def test_schedule_hourly_follows_the_local_minute() -> None:
    hourly = Schedule("hourly", 0, None, "Asia/Kathmandu")  # +05:45: local :00 is :15 UTC
    assert run(hourly, utc(2027, 1, 1, 10, 15), 2) == [utc(2027, 1, 1, 11, 15), utc(2027, 1, 1, 12, 15)]
    berlin = Schedule("hourly", 30, None, "Europe/Berlin")
    # The repeated hour of a fall-back day is a real hour: it gets its digest too.
    assert run(berlin, utc(2027, 10, 31, 0), 3) == [utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 1, 30),
                                                     utc(2027, 10, 31, 2, 30)]


def test_schedule_weekly_on_its_day_only() -> None:
    weekly = Schedule("weekly", 9 * 60, 0, "UTC")  # Mondays
    assert run(weekly, utc(2027, 1, 5, 12), 2) == [utc(2027, 1, 11, 9), utc(2027, 1, 18, 9)]
    assert weekly.label() == "weekly on Monday at 09:00 UTC"


def test_schedule_latest_due_after_downtime_is_the_last_missed_occurrence() -> None:
    daily = Schedule("daily", 9 * 60, None, "UTC")
    # Due Monday 09:00, back on Wednesday 10:00: only Wednesday's is less than a period late.
    assert latest_due(daily, utc(2027, 1, 4, 9), utc(2027, 1, 6, 10)) == (utc(2027, 1, 6, 9), utc(2027, 1, 7, 9))
    assert latest_due(daily, utc(2027, 1, 4, 9), utc(2027, 1, 4, 9, 5)) == (utc(2027, 1, 4, 9), utc(2027, 1, 5, 9))


@pytest.mark.parametrize("text", ["25:00", "9am", "09:60", "", "9"])
def test_parse_at_refuses_malformed_times(text: str) -> None:
    with pytest.raises(InvalidArgument, match="HH:MM"):
        parse_at(text)


def test_parse_at_and_weekday_accept_usual_forms() -> None:
    assert parse_at("09:00") == 540
    assert parse_at("7:05") == 425
    assert parse_weekday("Sunday") == 6
    assert parse_weekday("tue") == 1
    with pytest.raises(InvalidArgument, match="monday"):
        parse_weekday("t")


def test_unknown_zone_suggests_close_names() -> None:
    with pytest.raises(InvalidArgument, match="Europe/Berlin"):
        load_zone("Europe/Berln")


def test_zone_choices_prefer_prefix_matches() -> None:
    assert "Europe/Berlin" in zone_choices("europe/be")
    assert zone_choices("berlin")[0] == "Europe/Berlin"
    assert "America/New_York" in zone_choices("new_y")
    assert zone_choices("")[0] == "UTC"
