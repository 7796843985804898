"""bot.health.HealthState: healthy while connected and both jobs keep finishing within three intervals."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import ManualClock
from bot.health import HealthState


def state(clock: ManualClock) -> HealthState:
    health = HealthState(clock, scan_seconds=60, post_seconds=30)
    health.connected = True
    return health


def test_health_is_ok_at_start_before_any_job_has_run(clock: ManualClock) -> None:
    assert state(clock).check().healthy


def test_health_without_the_gateway_is_unhealthy(clock: ManualClock) -> None:
    health = state(clock)
    health.connected = False

    result = health.check()

    assert not result.healthy
    assert result.body()["reason"] == "the Discord gateway is not connected"


def test_health_turns_unhealthy_after_three_missed_ticks_and_back_after_one(clock: ManualClock) -> None:
    health = state(clock)
    health.last_scan = health.last_tick = clock.now()
    clock.advance(timedelta(seconds=90))
    health.last_scan = clock.now()
    assert health.check().healthy  # exactly three tick intervals: still in time

    clock.advance(timedelta(seconds=1))
    late = health.check()
    health.last_tick = clock.now()

    assert not late.healthy
    assert late.reason == "no alert tick finished for 91 s (every 30 s expected)"
    assert health.check().healthy


def test_health_a_job_that_never_ran_since_start_is_named(clock: ManualClock) -> None:
    health = state(clock)
    clock.advance(timedelta(seconds=181))

    result = health.check()

    assert result.reason == "no rescan finished since start for 181 s (every 60 s expected)"
