"""How long to wait before trying again to reach something that is down: exponential, jittered, capped."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays for one run of failed attempts: the n-th (from 0) is ½–1 × min(cap, first × 2ⁿ) seconds.

    Half of each delay is random so several bots restarted together do not retry in lock-step, yet every delay
    is at least half its ceiling, so the waits really do grow. `jitter` returns a number in [0, 1) (tests fix it).
    """

    first: float = 1.0
    cap: float = 60.0
    jitter: Callable[[], float] = random.random
    _ceiling: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.cap:
            raise ValueError(f"need 0 < first ({self.first}) <= cap ({self.cap})")

    def next_delay(self) -> float:
        """The wait before the next attempt; each call stands for one more failure."""
        # Doubling a float rather than computing 2**n keeps a service that has retried for days from overflowing.
        self._ceiling = self.first if self._ceiling == 0.0 else min(self.cap, self._ceiling * 2)
        return self._ceiling * (0.5 + 0.5 * self.jitter())
