"""A one-line progress bar for long commands on a terminal (`heatwave ingest`, `heatwave copy-store`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

_INTERVAL_S = 0.1
_WIDTH = 30


def progress_bar(stream: TextIO, *, label: str, unit: str, min_total: int) -> Callable[[int, int], None]:
    """`update(done, total)` redraws the bar at most ten times a second; `update(-1, -1)` clears it.

    Nothing is drawn while `total < min_total`: a bar is noise for a job that ends at once.
    """
    state = {"last": 0.0, "shown": False}

    def update(done: int, total: int) -> None:
        if done < 0:
            if state["shown"]:
                stream.write("\r\x1b[2K")
                stream.flush()
            return
        if total < min_total or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - state["last"] < _INTERVAL_S:
            return
        state["last"] = now
        state["shown"] = True
        filled = _WIDTH * min(done, total) // total
        stream.write(f"\rheatwave: {label} [{'#' * filled}{'.' * (_WIDTH - filled)}] {done}/{total} {unit}")
        stream.flush()

    return update
