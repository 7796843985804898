"""Timestamps are stored as fixed-width ISO-8601 UTC text, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime


def to_db(moment: datetime) -> str:
    """Aware datetime -> '2021-03-31T07:00:00.000000+00:00'."""
    if moment.tzinfo is None:
        raise ValueError("refusing to store a naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def from_db_optional(text: str | None) -> datetime | None:
    return None if text is None else from_db(text)
