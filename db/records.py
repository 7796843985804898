"""Rows (mappings by column name) to the dataclasses of db.models, for every engine.

The engines' rows differ only in how a timestamp comes back, so each mapper takes the engine's `when`: stored
value -> aware UTC datetime (SQLite's ISO text is parsed; psycopg's datetimes pass through `as_is`). A NULL
timestamp stays None without reaching `when`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias, cast

from db.models import (
    ChannelKind,
    ChannelRecord,
    ClaimedItem,
    DeliveryRecord,
    DeliveryStatus,
    DigestDelivery,
    DigestEvery,
    DigestRecord,
    DueItem,
    HeatEvent,
    QueuedBy,
    QueuedStory,
    QuietHours,
    RelatedEntry,
    RelatedStories,
    StoryView,
    SubscriptionRecord,
    SummaryItem,
    SummaryKind,
)

Row: TypeAlias = Mapping[str, Any]
When: TypeAlias = Callable[[Any], datetime]


def as_is(value: datetime) -> datetime:
    """`when` for a driver that already returns aware datetimes."""
    return value


def _optional(when: When, value: Any) -> datetime | None:
    return None if value is None else when(value)


def story_view(row: Row, topics: tuple[str, ...], when: When) -> StoryView:
    return StoryView(
        id=row["id"],
        url=row["url"],
        link_url=row["link_url"],
        title=row["title"],
        excerpt=row["excerpt"],
        published_at=when(row["published_at"]),
        kind=row["kind"],
        provider_name=row["provider_name"],
        provider_domain=row["provider_domain"],
        amp_url=row["amp_url"],
        image_url=row["image_url"],
        heat=row["heat"],
        quality=row["quality"],
        topics=topics,
        first_seen_at=when(row["first_seen_at"]),
    )


def subscription_record(row: Row, when: When) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        channel_kind=cast(ChannelKind, row["kind"]),
        topic_id=row["topic_id"],
        topic_name=row["topic_name"],
        min_heat=row["min_heat"],
        min_quality=row["min_quality"],
        cursor=row["cursor"],
        created_at=when(row["created_at"]),
        updated_at=when(row["updated_at"]),
        channel_paused_at=_optional(when, row["paused_at"]),
        auto_paused_reason=row["auto_paused_reason"],
        failure_count=row["failure_count"],
        last_error=row["last_error"],
        last_error_at=_optional(when, row["last_error_at"]),
        last_post_at=_optional(when, row["last_post_at"]),
        guild_paused=bool(row["guild_paused"]),
        queued=row["queued"],
        heat_percentile=row["heat_percentile"],
    )


def channel_record(row: Row, when: When) -> ChannelRecord:
    return ChannelRecord(
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        kind=cast(ChannelKind, row["kind"]),
        paused_at=_optional(when, row["paused_at"]),
        auto_paused_reason=row["auto_paused_reason"],
        failure_count=row["failure_count"],
        last_error=row["last_error"],
        queued=row["queued"],
    )


def due_item(row: Row) -> DueItem:
    return DueItem(
        row["story_id"],
        row["channel_id"],
        row["guild_id"],
        cast(ChannelKind, row["kind"]),
        row["attempts"],
        row["heat"],
        bool(row["qualifies"]),
    )


def claimed_item(row: Row, when: When) -> ClaimedItem:
    return ClaimedItem(
        row["story_id"],
        row["channel_id"],
        row["guild_id"],
        cast(ChannelKind, row["kind"]),
        row["attempts"],
        when(row["claimed_at"]),
    )


def delivery_record(row: Row, when: When) -> DeliveryRecord:
    return DeliveryRecord(
        row["story_id"],
        row["channel_id"],
        cast(DeliveryStatus, row["status"]),
        row["heat"],
        when(row["queued_at"]),
        when(row["next_attempt_at"]),
        row["attempts"],
        row["message_id"],
        _optional(when, row["sent_at"]),
        row["last_error"],
        row["topic_key"],
        cast(QueuedBy | None, row["queued_by"]),
        None if row["queue_position"] is None else int(row["queue_position"]),
        _optional(when, row["channel_hold_until"]),
    )


def heat_event(row: Row, when: When) -> HeatEvent:
    return HeatEvent(row["id"], when(row["observed_at"]), row["heat"], row["previous_heat"])


def queued_story(row: Row, when: When) -> QueuedStory:
    return QueuedStory(
        row["story_id"],
        row["heat"],
        row["attempts"],
        when(row["next_attempt_at"]),
        row["last_error"],
        row["topic_key"],
        cast(QueuedBy | None, row["queued_by"]),
    )


def related_stories(
    story_id: int,
    entry_rows: Sequence[Row],
    linking_ids: Sequence[int],
    similar_ids: Sequence[int],
    views: Mapping[int, StoryView],
    when: When,
) -> RelatedStories:
    """/related's answer: the story's own list (rows of related_entries with `ours`, our copy's id or None, which
    is never the story itself), then the stories linking to it and the similar ones that `views` holds."""
    entries = tuple(
        RelatedEntry(
            position=r["position"],
            url=r["url"],
            link_url=r["link_url"],
            title=r["title"],
            excerpt=r["excerpt"],
            published_at=_optional(when, r["published_at"]),
            provider_name=r["provider_name"],
            provider_domain=r["provider_domain"],
            quality=r["quality"],
            image_url=r["image_url"],
            story=views.get(r["ours"]) if r["ours"] != story_id else None,
        )
        for r in entry_rows
    )
    return RelatedStories(
        entries,
        tuple(views[i] for i in linking_ids if i in views),
        tuple(views[i] for i in similar_ids if i in views),
    )


def digest_record(row: Row, when: When) -> DigestRecord:
    return DigestRecord(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        channel_kind=cast(ChannelKind, row["kind"]),
        topic_id=row["topic_id"],
        topic_name=row["topic_name"],
        every=cast(DigestEvery, row["every"]),
        minute=row["minute"],
        weekday=row["weekday"],
        timezone=row["timezone"],
        top=row["top"],
        min_heat=row["min_heat"],
        next_due_at=when(row["next_due_at"]),
        covers_from=when(row["covers_from"]),
        created_at=when(row["created_at"]),
        updated_at=when(row["updated_at"]),
        last_sent_at=_optional(when, row["last_sent_at"]),
        last_error=row["last_error"],
        last_error_at=_optional(when, row["last_error_at"]),
        heat_percentile=row["heat_percentile"],
    )


def digest_delivery(row: Row, when: When) -> DigestDelivery:
    return DigestDelivery(
        subscription_id=row["subscription_id"],
        due_at=when(row["due_at"]),
        covers_from=when(row["covers_from"]),
        expires_at=when(row["expires_at"]),
        attempts=row["attempts"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        channel_kind=cast(ChannelKind, row["kind"]),
        topic_id=row["topic_id"],
        topic_name=row["topic_name"],
        every=cast(DigestEvery, row["every"]),
        timezone=row["timezone"],
        top=row["top"],
        min_heat=row["min_heat"],
    )


def quiet_hours(row: Row, when: When) -> QuietHours:
    return QuietHours(
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        start_minute=row["start_minute"],
        end_minute=row["end_minute"],
        timezone=row["timezone"],
        breaking=row["breaking"],
        held_since=_optional(when, row["held_since"]),
    )


def summary_kind(value: str) -> SummaryKind:
    """A stored summary kind."""
    return cast(SummaryKind, value)


def summary_item(row: Row) -> SummaryItem:
    return SummaryItem(
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        channel_kind=cast(ChannelKind, row["channel_kind"]),
        kind=cast(SummaryKind, row["kind"]),
        story_id=row["story_id"],
        heat=row["heat"],
        attempts=row["attempts"],
    )
