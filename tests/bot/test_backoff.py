"""Backoff: the waits between attempts to reach Discord at start double, stay within their jitter band, and stop
growing at the cap."""

from __future__ import annotations

import pytest

from bot.backoff import Backoff


def _delays(backoff: Backoff, count: int) -> list[float]:
    return [backoff.next_delay() for _ in range(count)]


def test_without_jitter_luck_each_delay_is_its_full_ceiling_doubling_up_to_the_cap() -> None:
    almost_one = 1.0 - 1e-12

    delays = _delays(Backoff(first=1.0, cap=60.0, jitter=lambda: almost_one), 9)

    assert delays == pytest.approx([1, 2, 4, 8, 16, 32, 60, 60, 60])


def test_with_the_least_jitter_each_delay_is_half_its_ceiling() -> None:
    delays = _delays(Backoff(first=1.0, cap=60.0, jitter=lambda: 0.0), 8)

    assert delays == pytest.approx([0.5, 1, 2, 4, 8, 16, 30, 30])


def test_random_delays_stay_within_half_and_all_of_each_ceiling() -> None:
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60]

    for _ in range(50):
        delays = _delays(Backoff(first=1.0, cap=60.0), len(ceilings))

        assert all(ceiling / 2 <= delay < ceiling for delay, ceiling in zip(delays, ceilings, strict=True)), delays


def test_a_service_retrying_for_days_keeps_getting_the_cap() -> None:
    backoff = Backoff(first=1.0, cap=60.0, jitter=lambda: 0.0)

    delays = _delays(backoff, 5000)

    assert delays[-1] == 30.0


@pytest.mark.parametrize(("first", "cap"), [(0.0, 60.0), (-1.0, 60.0), (10.0, 5.0)])
def test_impossible_delays_are_refused(first: float, cap: float) -> None:
    with pytest.raises(ValueError, match="need 0 < first"):
        Backoff(first=first, cap=cap)
