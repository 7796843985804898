"""How the bot names its shards in the start-up log."""

from __future__ import annotations

import pytest

from bot.client import describe_shards


@pytest.mark.parametrize(
    ("ids", "count", "expected"),
    [
        ((0,), 1, "shard 0 of 1"),
        ((0, 1, 2, 3), 8, "shards 0-3 of 8"),
        ((5, 0, 2), 6, "shards 0, 2, 5 of 6"),
        ((0, 1, 4, 5, 6, 9), 10, "shards 0-1, 4-6, 9 of 10"),
    ],
)
def test_describe_shards_joins_consecutive_ids_into_ranges(ids: tuple[int, ...], count: int, expected: str) -> None:
    assert describe_shards(ids, count) == expected
