"""The plain values that cross the `db/` boundary. No engine types, no rows, no cursors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Literal


@dataclass(frozen=True, slots=True)
class RelatedRecord:
    """One entry of a story file's own `related` list."""

    url: str  # normalised (identity), may or may not be a story we have
    link_url: str  # as published
    title: str
    excerpt: str
    published_at: datetime | None
    provider_name: str | None
    provider_domain: str | None
    quality: int | None
    image_url: str | None


@dataclass(frozen=True, slots=True)
class StoryRecord:
    """A validated story parsed from one file, ready to be stored."""

    url: str  # normalised identity
    link_url: str  # the URL as published
    title: str
    excerpt: str
    published_at: datetime
    kind: str  # "article" | "video"
    provider_name: str | None
    provider_domain: str | None
    amp_url: str | None
    image_url: str | None
    heat: int | None  # None = unknown, -1 = suppressed
    quality: int | None
    topics: tuple[str, ...]
    related: tuple[RelatedRecord, ...]
    content_hash: str  # over every stored field; `secured` and line endings never count


@dataclass(frozen=True, slots=True)
class StoryView:
    """A stored story as the bot shows it."""

    id: int
    url: str
    link_url: str
    title: str
    excerpt: str
    published_at: datetime
    kind: str
    provider_name: str | None
    provider_domain: str | None
    amp_url: str | None
    image_url: str | None
    heat: int | None
    quality: int | None
    topics: tuple[str, ...]
    first_seen_at: datetime


class StorySort(Enum):
    """How /topic orders stories."""

    HOT = "hot"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A topic and how many stories carry it."""

    id: int
    key: str
    name: str
    story_count: int


@dataclass(frozen=True, slots=True)
class StoryChoice:
    """A story offered by autocomplete."""

    id: int
    title: str


@dataclass(frozen=True, slots=True)
class RelatedEntry(RelatedRecord):
    """One entry of a story's own `related` list as stored, with its place there and our copy when we have one."""

    position: int
    story: StoryView | None


@dataclass(frozen=True, slots=True)
class RelatedStories:
    """What /related shows under a story: its own list, stories whose lists name it, and similar stories."""

    entries: tuple[RelatedEntry, ...]
    linking: tuple[StoryView, ...]
    similar: tuple[StoryView, ...]


@dataclass(frozen=True, slots=True)
class SearchHits:
    """One page of search results; `matched_all` is False when no story had every word and any word counted."""

    stories: tuple[StoryView, ...]
    total: int
    matched_all: bool


# ----- alerts ----------------------------------------------------------------------------------------------

ChannelKind = Literal["text", "announcement", "forum", "console"]
CHANNEL_KINDS: tuple[ChannelKind, ...] = ("text", "announcement", "forum", "console")
DeliveryStatus = Literal["queued", "claimed", "sent", "withdrawn", "failed"]
# Why a delivery was queued: its heat crossed the subscription's line, or /alerts add's backfill asked for it.
QueuedBy = Literal["crossing", "backfill"]


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """One subscription with the state of its channel (pauses and failures are per channel)."""

    id: int
    guild_id: int
    channel_id: int
    channel_kind: ChannelKind
    topic_id: int | None
    topic_name: str | None
    min_heat: int
    min_quality: int | None
    cursor: int
    created_at: datetime
    updated_at: datetime
    channel_paused_at: datetime | None
    auto_paused_reason: str | None
    failure_count: int
    last_error: str | None
    last_error_at: datetime | None
    last_post_at: datetime | None
    guild_paused: bool
    queued: int  # what this subscription queued (a story two subscriptions of the channel want is counted once)
    heat_percentile: int | None = None  # min_heat is "top N%" of the topic's last 30 days, recomputed; None: a number


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """The delivery state of one alert channel."""

    channel_id: int
    guild_id: int
    kind: ChannelKind
    paused_at: datetime | None
    auto_paused_reason: str | None
    failure_count: int
    last_error: str | None
    queued: int


@dataclass(frozen=True, slots=True)
class ShardSet:
    """The shards one bot process runs, out of `count`: Discord routes a server to shard (guild_id >> 22) % count,
    and only that shard's process posts its alerts."""

    count: int
    ids: frozenset[int]

    def owns(self, guild_id: int) -> bool:
        return (guild_id >> 22) % self.count in self.ids

    @property
    def every_shard(self) -> bool:
        """One process runs them all: every server is its own."""
        return self.ids >= frozenset(range(self.count))


@dataclass(frozen=True, slots=True)
class DueItem:
    """A queued delivery whose turn has come."""

    story_id: int
    channel_id: int
    guild_id: int
    kind: ChannelKind
    attempts: int
    heat: int | None
    qualifies: bool = True


@dataclass(frozen=True, slots=True)
class ClaimedItem:
    """A delivery claimed for sending whose outcome was never recorded (a crash, a cancelled tick)."""

    story_id: int
    channel_id: int
    guild_id: int
    kind: ChannelKind
    attempts: int
    claimed_at: datetime


@dataclass(frozen=True, slots=True)
class QueuedStory:
    """A story waiting in a channel's queue (for /alerts preview)."""

    story_id: int
    heat: int | None
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    topic_key: int | None = None  # the subscription of the channel that queued it (0 = every topic)
    queued_by: QueuedBy | None = None  # None: queued before the ledger recorded why


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """The ledger row of one (story, channel), as /why shows it."""

    story_id: int
    channel_id: int
    status: DeliveryStatus
    heat: int | None
    queued_at: datetime
    next_attempt_at: datetime
    attempts: int
    message_id: int | None
    sent_at: datetime | None
    last_error: str | None
    topic_key: int | None
    queued_by: QueuedBy | None
    queue_position: int | None  # 1-based place in the channel's queue (posting order) while queued, else None
    channel_hold_until: datetime | None = None  # the channel sends nothing before this (backoff, retry_after)


@dataclass(frozen=True, slots=True)
class HeatEvent:
    """One recorded heat change of a story (the engine turns upward crossings after a subscription's cursor
    into deliveries)."""

    id: int
    observed_at: datetime
    heat: int | None
    previous_heat: int | None


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """A subscription as a configuration import wants it (thresholds as stored: min_quality None = no filter)."""

    channel_id: int
    kind: ChannelKind
    topic_id: int | None
    min_heat: int
    min_quality: int | None
    heat_percentile: int | None = None  # min_heat is today's number of this "top N%" rule; None: a plain number
    line_basis: int | None = None  # how many stories today's number was computed over


@dataclass(frozen=True, slots=True)
class QuietSpec:
    """A channel's quiet window as an import sets it."""

    channel_id: int
    start_minute: int
    end_minute: int
    timezone: str
    breaking: int | None


@dataclass(frozen=True, slots=True)
class ChannelSettingsSpec:
    """A channel's living-post settings as an import sets them: one post per event, and the heat that pings."""

    channel_id: int
    dedupe: bool
    ping_heat: int | None


@dataclass(frozen=True, slots=True)
class ThreadSettingsSpec:
    """A channel's related-story threads and forum-tag creation as an import sets them."""

    channel_id: int
    threads: bool
    create_tags: bool


@dataclass(frozen=True, slots=True)
class DigestSpec:
    """A digest as an import sets it (schedule worked out by the service; min_heat is today's number)."""

    channel_id: int
    kind: ChannelKind
    topic_id: int | None
    every: DigestEvery
    minute: int
    weekday: int | None
    timezone: str
    top: int
    min_heat: int
    next_due_at: datetime
    covers_from: datetime  # a new digest's first window; an existing one keeps its own
    heat_percentile: int | None = None
    line_basis: int | None = None


@dataclass(frozen=True, slots=True)
class GuildConfigChange:
    """What a configuration import changes in one guild, applied in one transaction."""

    upserts: tuple[SubscriptionSpec, ...] = ()
    removals: tuple[tuple[int, int | None], ...] = ()  # (channel_id, topic_id) of subscriptions to delete
    set_log_channel: int | None = None  # make this the log channel
    clear_log_channel: bool = False
    actor_id: int = 0  # who set the log channel
    quiet: tuple[QuietSpec, ...] = ()  # set (create or replace) these windows
    quiet_removals: tuple[int, ...] = ()  # channels whose quiet hours go
    channel_settings: tuple[ChannelSettingsSpec, ...] = ()
    roles: tuple[tuple[int, int], ...] = ()  # (topic_id, role_id) mappings to set
    role_removals: tuple[int, ...] = ()  # topic ids whose role mapping goes
    digests: tuple[DigestSpec, ...] = ()  # create or replace
    digest_removals: tuple[tuple[int, int | None], ...] = ()  # (channel_id, topic_id) of digests to delete
    thread_settings: tuple[ThreadSettingsSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class UpsertOutcome:
    """What add did: the subscription id and whether it was new."""

    subscription_id: int
    created: bool


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    """The channel's state after a failed send was recorded."""

    failure_count: int
    auto_paused: bool


# ----- stats -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastRun:
    started_at: datetime
    finished_at: datetime
    scanned: int
    added: int
    updated: int
    unchanged: int
    duplicates: int
    rejected: int


@dataclass(frozen=True, slots=True)
class RejectedFile:
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counts over the whole store. Heat range covers known heats only (-1 is 'suppressed', NULL 'unknown')."""

    stories: int
    topics: int
    heat_min: int | None
    heat_max: int | None
    suppressed: int
    unknown_heat: int
    last_run: LastRun | None
    rejected_files: tuple[RejectedFile, ...]


# ----- digests ---------------------------------------------------------------------------------------------

DigestEvery = Literal["hourly", "daily", "weekly"]
# queued -> claimed -> sent | empty (nothing to report: no message); claimed -> queued on a failed send;
# queued -> failed when the channel cannot take it, or it is more than one period late.
DigestStatus = Literal["queued", "claimed", "sent", "empty", "failed"]


@dataclass(frozen=True, slots=True)
class DigestRecord:
    """One digest subscription: where, what, when, and how its last digest went."""

    id: int
    guild_id: int
    channel_id: int
    channel_kind: ChannelKind
    topic_id: int | None
    topic_name: str | None
    every: DigestEvery
    minute: int  # minutes after local midnight (hourly: minute % 60 of every hour)
    weekday: int | None  # 0 = Monday, weekly only
    timezone: str
    top: int
    min_heat: int
    next_due_at: datetime
    covers_from: datetime  # the next digest holds stories first seen from here up to its due time
    created_at: datetime
    updated_at: datetime
    last_sent_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    heat_percentile: int | None = None  # min_heat is "top N%" of the topic's last 30 days, recomputed


@dataclass(frozen=True, slots=True)
class DigestDelivery:
    """One digest that fell due: the exactly-once unit (subscription, due time) and what it covers."""

    subscription_id: int
    due_at: datetime
    covers_from: datetime
    expires_at: datetime  # the next occurrence: from then on this one is more than one period late
    attempts: int
    guild_id: int
    channel_id: int
    channel_kind: ChannelKind
    topic_id: int | None
    topic_name: str | None
    every: DigestEvery
    timezone: str
    top: int
    min_heat: int


@dataclass(frozen=True, slots=True)
class DigestWindow:
    """A question for `DigestStore.stories`: the `top` hottest stories at or above `min_heat` (on `topic_id`, or
    any topic) first seen in [since, until), each flagged when it was already posted to `channel_id` as an alert."""

    channel_id: int
    topic_id: int | None
    since: datetime
    until: datetime
    min_heat: int
    top: int


@dataclass(frozen=True, slots=True)
class DigestPick:
    """A story chosen for a digest."""

    story_id: int
    heat: int
    alerted: bool  # already posted to the digest's channel as an alert


# ----- quiet hours and summaries -----------------------------------------------------------------------------

# Why several stories go out in one message: quiet hours ended, a pause ended, or a backlog rolled up.
SummaryKind = Literal["away", "paused", "rollup"]


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A channel's daily quiet window in its own time zone (it may span midnight)."""

    channel_id: int
    guild_id: int
    start_minute: int
    end_minute: int
    timezone: str
    breaking: int | None  # stories at or above this heat post at once even when quiet; None: none do
    held_since: datetime | None  # set while a window is in force


@dataclass(frozen=True, slots=True)
class SummaryItem:
    """A queued story that is due to go out in a summary message."""

    channel_id: int
    guild_id: int
    channel_kind: ChannelKind
    kind: SummaryKind
    story_id: int
    heat: int | None
    attempts: int


@dataclass(frozen=True, slots=True)
class PercentileRule:
    """A subscription (alert or digest) whose line is a share of its topic's recent stories."""

    kind: Literal["alert", "digest"]
    subscription_id: int
    topic_id: int | None
    percentile: int
    min_heat: int
    line_at: datetime | None
    line_basis: int | None


@dataclass(frozen=True, slots=True)
class LogChannelRecord:
    """A guild's admin log channel (`/alerts log channel:`)."""

    guild_id: int
    channel_id: int
    set_by: int
    set_at: datetime


# ----- living posts ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostedStory:
    """A story a channel showed recently (posted, or listed as "also covered" on a post): a dedupe candidate."""

    post_story_id: int  # the story of the message that shows it
    message_id: int
    story_id: int
    title: str
    provider_domain: str | None
    related: bool  # it lists the new story in its `related`, or the new story lists it


@dataclass(frozen=True, slots=True)
class TopicRole:
    """/roles: the role a guild mapped to a topic."""

    topic_id: int
    topic_name: str
    role_id: int


@dataclass(frozen=True, slots=True)
class DueEdit:
    """An alert message whose story changed enough since it was written."""

    channel_id: int
    story_id: int
    message_id: int
    edit_channel_id: int  # where the message lives (a forum post: its thread)
    shown_heat: int | None
    heat: int | None
    version: int
    attempts: int


@dataclass(frozen=True, slots=True)
class BreakingLine:
    """A heat at which a guild's channel treats a story as breaking: its quiet-hours `breaking` (posts through
    quiet hours) or its `ping_heat` (pings the topic roles)."""

    channel_id: int
    kind: Literal["quiet", "ping"]
    heat: int


@dataclass(frozen=True, slots=True)
class TopicMedian:
    """The median heat of a topic's stories over a period (`median` None: no story with a known heat)."""

    median: float | None
    stories: int  # how many stories the median is over


# ----- related-story threads and forum tags ---------------------------------------------------------------

ThreadPostKind = Literal["related", "coverage"]


@dataclass(frozen=True, slots=True)
class ThreadOptions:
    """A channel's thread options (/alerts add … threads, create_tags); both off unless turned on."""

    threads: bool = False
    create_tags: bool = False


@dataclass(frozen=True, slots=True)
class DueThread:
    """An alert message that is owed a thread (text and announcement channels; a forum post is its own)."""

    channel_id: int
    story_id: int
    guild_id: int
    message_id: int
    heat: int | None
    attempts: int


@dataclass(frozen=True, slots=True)
class DueThreadPost:
    """A message owed in a post's thread: the post story's related list, or later coverage of its event."""

    channel_id: int
    post_story_id: int
    story_id: int  # the related list: the post's own story; coverage: the story that covers the event too
    kind: ThreadPostKind
    guild_id: int
    thread_id: int
    heat: int | None
    attempts: int
    unsure: bool  # an earlier attempt failed or was never recorded: it may have reached Discord


@dataclass(frozen=True, slots=True)
class AlertThread:
    """The thread of one alert message, as the ledger knows it."""

    channel_id: int
    story_id: int
    message_id: int
    thread_id: int | None
    state: Literal["owed", "open", "gone"]
    last_error: str | None


@dataclass(frozen=True, slots=True)
class RelatedLink:
    """One entry of a story's own `related` list, with where the server shows our copy of it (if anywhere)."""

    title: str
    url: str  # as published
    provider_name: str | None
    story_id: int | None  # our copy, when we have the story
    guild_id: int
    jump_channel_id: int | None  # where our message about it lives (a forum post: its thread)
    jump_message_id: int | None
