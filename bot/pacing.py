"""Pacing the alert fan-out to Discord's rate limits: one global budget per process, a small one per channel.

discord.py follows the per-route buckets Discord reports in X-RateLimit-* headers, but it does not pace the
*global* limit (50 requests per second per bot token): it only learns of it from a 429, and then every request of
the process waits. One hot story fanned out to hundreds of channels is exactly that burst. So the poster asks a
`RestPacer` before each REST request it makes: requests go out evenly spaced at `rate` per second (no burst: a
fixed-window limit of 50/s is never exceeded by 45/s evenly spaced), a channel takes at most `channel_limit`
messages per window, and when requests queue up the hottest story's goes first.

Time is injected (`timer`, `sleep`), so tests drive the pacer without waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable

# A channel's message bucket: 5 messages per 5 s, as Discord's X-RateLimit headers report it for bots.
CHANNEL_LIMIT = (5, 5.0)
# Discord's bucket window starts when *its* clock sees the first request; waiting a little longer than the window
# on ours keeps the sixth message from arriving a few milliseconds early.
CHANNEL_MARGIN_SECONDS = 0.1
# Past this many tracked channels, channels idle for a whole window are forgotten.
IDLE_SWEEP_CHANNELS = 1024

Timer = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RestPacer:
    """Hands out permission to send one REST request: at most `rate` per second, `channel_limit` per channel."""

    def __init__(
        self,
        rate: float,
        *,
        channel_limit: tuple[int, float] = CHANNEL_LIMIT,
        timer: Timer = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._interval = 1.0 / rate
        self._channel_count, window = channel_limit
        self._channel_window = window + CHANNEL_MARGIN_SECONDS
        self._timer = timer
        self._sleep = sleep
        self._next_free = float("-inf")
        # (-priority, arrival, future): the hottest waiting request first, then first come first served.
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self._sent: dict[int, deque[float]] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self.granted = 0

    @property
    def rate(self) -> float:
        """Requests per second."""
        return 1.0 / self._interval

    async def acquire(self, channel_id: int | None = None, *, priority: float = 0.0, message: bool = False) -> None:
        """Wait for this request's turn. `message`: it creates a message in `channel_id` (the channel's bucket
        counts it); `priority`: the story's heat (higher goes first when requests queue)."""
        if message and channel_id is not None:
            await self._channel_turn(channel_id)
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiting, (-priority, next(self._arrivals), turn))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = loop.create_task(self._dispatch(), name="rest-pacer")
        await turn

    async def _channel_turn(self, channel_id: int) -> None:
        # A sliding window: the slot of the oldest of the last `count` messages frees up one window after it.
        # The slot is reserved before sleeping, so concurrent sends to one channel queue behind each other.
        sent = self._sent.setdefault(channel_id, deque())
        now = self._timer()
        while sent and now - sent[0] >= self._channel_window:
            sent.popleft()
        slot = now
        if len(sent) >= self._channel_count:
            slot = sent[-self._channel_count] + self._channel_window
        sent.append(slot)
        if len(self._sent) > IDLE_SWEEP_CHANNELS:
            self._forget_idle(now)
        if slot > now:
            await self._sleep(slot - now)

    def _forget_idle(self, now: float) -> None:
        """Drop channels whose last message is a whole window old: 10k channels must not mean 10k deques forever."""
        idle = [cid for cid, sent in self._sent.items() if not sent or now - sent[-1] >= self._channel_window]
        for cid in idle:
            del self._sent[cid]

    async def _dispatch(self) -> None:
        while self._waiting:
            now = self._timer()
            if now < self._next_free:
                await self._sleep(self._next_free - now)
                continue
            _, _, turn = heapq.heappop(self._waiting)
            if turn.done():  # its caller was cancelled while waiting
                continue
            turn.set_result(None)
            self.granted += 1
            self._next_free = max(now, self._next_free) + self._interval
