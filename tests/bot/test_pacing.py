"""The REST pacer: evenly spaced requests under the global budget, a channel's message bucket, hottest first."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.pacing import CHANNEL_MARGIN_SECONDS, RestPacer


class FakeTime:
    """A clock that only moves when the pacer sleeps (one sleeper at a time in these tests)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def timer(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        # Let whoever was just granted run first, at the time it was granted.
        for _ in range(3):
            await asyncio.sleep(0)
        self.now += seconds


def _pacer(time: FakeTime, rate: float, **options: object) -> RestPacer:
    return RestPacer(rate, timer=time.timer, sleep=time.sleep, **options)  # type: ignore[arg-type]


async def test_requests_go_out_evenly_spaced_at_the_rate() -> None:
    time = FakeTime()
    pacer = _pacer(time, rate=10)
    granted: list[float] = []

    async def request(channel: int) -> None:
        await pacer.acquire(channel)
        granted.append(time.now)

    await asyncio.gather(*(request(c) for c in range(20)))

    assert granted[0] == pytest.approx(100.0)
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    assert gaps == pytest.approx([0.1] * 19)
    # No window of one second ever holds more than `rate` requests.
    assert max(sum(1 for t in granted if start <= t < start + 0.999) for start in granted) == 10


async def test_queued_requests_are_served_hottest_story_first() -> None:
    time = FakeTime()
    pacer = _pacer(time, rate=10)
    order: list[int] = []

    async def request(heat: int) -> None:
        await pacer.acquire(heat, priority=heat)
        order.append(heat)

    # All five queue before the first turn is handed out, so they leave hottest first, whatever their arrival.
    await asyncio.gather(*(request(heat) for heat in (75, 90, 180, 120, 80)))
    assert order == [180, 120, 90, 80, 75]
    # One that arrives while others wait goes ahead of every cooler one.
    order.clear()
    first = [asyncio.ensure_future(request(heat)) for heat in (70, 71, 72)]
    await asyncio.sleep(0)
    await asyncio.gather(*first, request(150))
    assert order.index(150) <= 1


async def test_a_channel_gets_five_messages_per_window_then_waits_for_the_oldest_to_age_out() -> None:
    time = FakeTime()
    pacer = _pacer(time, rate=1000, channel_limit=(5, 5.0))
    granted: list[float] = []
    for _ in range(7):
        await pacer.acquire(1, message=True)
        granted.append(time.now - 100.0)

    assert all(t < 0.01 for t in granted[:5])
    assert granted[5] >= 5.0 + CHANNEL_MARGIN_SECONDS - 1e-9
    assert granted[6] >= 5.0 + CHANNEL_MARGIN_SECONDS - 1e-9
    # Requests that create no message (a history read) do not count against the channel.
    before = time.now
    await pacer.acquire(1)
    assert time.now - before < 0.01


async def test_other_channels_are_not_held_up_by_a_full_one() -> None:
    time = FakeTime()
    pacer = _pacer(time, rate=1000, channel_limit=(1, 5.0))
    await pacer.acquire(1, message=True)
    before = time.now
    await pacer.acquire(2, message=True)
    assert time.now - before < 0.01


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    time = FakeTime()
    pacer = _pacer(time, rate=10)
    await pacer.acquire(1)  # the free slot
    gone = asyncio.ensure_future(pacer.acquire(2, priority=200))
    stays = asyncio.ensure_future(pacer.acquire(3, priority=100))
    await asyncio.sleep(0)
    gone.cancel()
    await stays
    assert gone.cancelled()
    assert pacer.granted == 2


def test_the_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        RestPacer(0)
