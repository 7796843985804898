"""What every storage engine provides, one protocol per aggregate. Callers outside `db/` see only these.

`db/sqlite/` and `db/postgres/` each implement all of them; `db.open_store` picks one from `HEATWAVE_DB`.
Every method returns the frozen dataclasses of `db.models` (or plain values); times are aware UTC datetimes.
A method that writes does so in one transaction of its own: callers never see a transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Literal, Protocol, Self

from db.ingest_rows import KnownFile, RunCounts, ScannedFile
from db.location import StoreLocation
from db.models import (
    AlertThread,
    BreakingLine,
    ChannelKind,
    ChannelRecord,
    ClaimedItem,
    DeliveryRecord,
    DigestDelivery,
    DigestEvery,
    DigestPick,
    DigestRecord,
    DigestWindow,
    DueEdit,
    DueItem,
    DueThread,
    DueThreadPost,
    FailureOutcome,
    GuildConfigChange,
    HeatEvent,
    LogChannelRecord,
    PercentileRule,
    PostedStory,
    QueuedStory,
    QuietHours,
    RelatedLink,
    RelatedStories,
    SearchHits,
    ShardSet,
    StoreStats,
    StoryChoice,
    StorySort,
    StoryView,
    SubscriptionRecord,
    SummaryItem,
    SummaryKind,
    ThreadOptions,
    TopicInfo,
    TopicMedian,
    TopicRole,
    UpsertOutcome,
)


class LookupStore(Protocol):
    """Read-only queries behind the lookup commands and autocompletes (each a few ms at 1M stories)."""

    async def topic_by_name(self, name: str) -> TopicInfo | None:
        """The topic whose key (`db.text.topic_key`) equals this name's."""

    async def topics_page(self, *, offset: int, limit: int) -> tuple[list[TopicInfo], int]:
        """Topics that have stories, most stories first (then by key), and how many such topics exist."""

    async def topic_names(self, *, limit: int = 5_000) -> list[str]:
        """Display names of topics that have stories, most-used first (for "did you mean")."""

    async def topic_choices(self, text: str, *, limit: int) -> list[TopicInfo]:
        """Topics whose key starts with `text`'s key (first), then contains it; most-used first in each group."""

    async def topic_stories(self, topic: TopicInfo, *, sort: StorySort, offset: int, limit: int) -> list[StoryView]:
        """One page of a topic's stories, hottest (unknown and suppressed heat last) or newest first."""

    async def story_by_id(self, story_id: int) -> StoryView | None: ...

    async def story_by_url(self, normalized_url: str) -> StoryView | None: ...

    async def stories(self, story_ids: Sequence[int]) -> list[StoryView]:
        """The stories with these ids, in the order given (missing ids are skipped)."""

    async def best_title_match(self, text: str) -> StoryView | None:
        """The story whose title best matches free text (all words, else any word), hottest on a tie."""

    async def story_choices(self, text: str, *, limit: int) -> list[StoryChoice]:
        """Autocomplete: titles matching what is typed so far (last word a prefix), titles starting with the
        text first, then hottest; the newest hot stories when nothing is typed."""

    async def related(self, story: StoryView, *, linking_limit: int, similar_limit: int) -> RelatedStories: ...

    async def search(self, terms: list[str], *, offset: int, limit: int, count_up_to: int) -> SearchHits:
        """Stories matching every term (else any), most relevant first: title matches before excerpt-only
        matches, then heat. `terms` come from `db.text.query_terms`."""

    async def trending(
        self, *, since: datetime, topic: TopicInfo | None, offset: int, limit: int, count_up_to: int
    ) -> tuple[list[StoryView], int]:
        """Stories first seen at or after `since` (optionally on a topic), hottest first, without suppressed
        or unknown heat; plus how many qualify, counted up to `count_up_to`."""


class SubscriptionStore(Protocol):
    """/alerts add|remove|list: which channel wants which stories."""

    async def upsert(
        self,
        *,
        guild_id: int,
        channel_id: int,
        kind: ChannelKind,
        topic_id: int | None,
        min_heat: int,
        min_quality: int | None,
        now: datetime,
        keep_min_heat: bool = False,
        keep_min_quality: bool = False,
    ) -> UpsertOutcome:
        """Create the (channel, topic) subscription with these thresholds (min_quality None: no quality filter),
        or update an existing one: a threshold whose `keep_*` is true stays as stored, the others take the given
        value. The channel row follows; all in one transaction."""

    async def for_guild(self, guild_id: int) -> list[SubscriptionRecord]:
        """Every subscription of a guild, by channel then topic ("every topic" first)."""

    async def get(self, channel_id: int, topic_id: int | None) -> SubscriptionRecord | None: ...

    async def remove(self, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
        """Delete the (channel, topic) subscription, or all of the channel's; queued stories no longer wanted
        are withdrawn and a channel left without subscriptions is forgotten (its ledger rows stay)."""

    async def backfill_candidates(self, subscription_id: int, limit: int) -> list[int]:
        """Ids of the hottest stories that qualify now and the channel never had."""

    async def apply_config(self, guild_id: int, change: GuildConfigChange, now: datetime) -> None:
        """Apply an imported configuration in one transaction: removals (as `remove` does them), then upserts (a
        new subscription reacts only to later heat changes, like `upsert`), then the log channel."""


class ChannelStore(Protocol):
    """Per-channel delivery state and pauses."""

    async def for_guild(self, guild_id: int) -> list[ChannelRecord]: ...

    async def every_channel(self) -> list[ChannelRecord]:
        """Every alert channel of every guild (`heatwave doctor` checks each one)."""

    async def guild_paused(self, guild_id: int) -> bool: ...

    async def set_guild_paused(self, guild_id: int, paused: bool, now: datetime) -> bool:
        """Pause or resume a guild; returns whether anything changed."""

    async def set_channel_paused(self, guild_id: int, channel_id: int, paused: bool, now: datetime) -> bool:
        """Pause or resume one channel (resuming clears failures, an auto-pause and the backoff, and makes its
        queue due now); returns whether anything changed."""


class DeliveryLedger(Protocol):
    """The exactly-once ledger: one row per (story, channel). Claims are atomic across processes."""

    async def queue_backfill(self, subscription_id: int, limit: int, now: datetime) -> int: ...

    async def enqueue_due(self, now: datetime) -> int:
        """Turn new heat crossings into queued deliveries and advance the engine cursor; returns rows queued.
        Safe when several processes run it at once (each heat change is turned into deliveries once)."""

    async def newest_heat_event(self) -> int:
        """The id of the newest heat change (0 when there is none): one index probe, cheap enough to poll every
        second, so a process notices stories that another process (or `heatwave ingest`) has just stored."""

    async def withdraw(self, story_id: int, channel_id: int) -> None: ...

    async def requeue_stale_claims(self, claimed_before: datetime, now: datetime) -> int: ...

    async def next_batch(self, now: datetime, per_channel: int, *, shards: ShardSet | None = None) -> list[DueItem]:
        """Up to `per_channel` due deliveries per postable channel, hottest first; with `shards`, only the channels
        of the servers on those shards (the rest are other processes' to post)."""

    async def claim(self, story_id: int, channel_id: int, now: datetime) -> bool:
        """queued -> claimed (attempt + 1); False when another tick or process got it first."""

    async def mark_sent(self, story_id: int, channel_id: int, message_id: int, now: datetime) -> None:
        """claimed -> sent with the message id; the channel's failures, backoff and last error are cleared."""

    async def mark_retry(
        self,
        story_id: int,
        channel_id: int,
        *,
        error: str,
        retry_at: datetime,
        channel_fault: bool,
        auto_pause_after: int,
        now: datetime,
    ) -> FailureOutcome: ...

    async def mark_rejected(self, story_id: int, channel_id: int, error: str, now: datetime) -> None: ...

    async def release_claim(self, story_id: int, channel_id: int, now: datetime) -> None: ...

    async def claimed(self) -> list[ClaimedItem]: ...

    async def pending_counts(self) -> dict[str, int]:
        """Deliveries per unfinished state: {"queued": n, "claimed": n} (for the metrics endpoint)."""

    async def queued_for(self, channel_id: int, topic_key: int | None, limit: int) -> list[QueuedStory]:
        """The channel's queue in posting order; with a topic key (0 = every topic), only what that subscription
        of the channel queued."""

    async def delivery(self, story_id: int, channel_id: int) -> DeliveryRecord | None:
        """The (story, channel) ledger row, with its place in the channel's queue while queued (for /why)."""

    async def carried_with(self, channel_id: int, message_id: int, story_id: int) -> int:
        """How many other stories the channel recorded as sent with this message, not counting those listed on
        it as "also covered" (more than none: it was a summary message)."""

    async def heat_events(self, story_id: int, *, limit: int = 200) -> list[HeatEvent]:
        """The story's recorded heat changes, oldest first (the latest `limit`)."""


class CrosspostLog(Protocol):
    """Publishes of announcement messages (Discord allows 10 per channel per hour)."""

    async def count_since(self, channel_id: int, since: datetime) -> int: ...

    async def record(self, channel_id: int, message_id: int, now: datetime) -> None: ...

    async def prune(self, before: datetime) -> None: ...


class DigestStore(Protocol):
    """/digest: scheduled summaries, and their own exactly-once ledger (one row per subscription and due time)."""

    async def upsert(
        self,
        *,
        guild_id: int,
        channel_id: int,
        kind: ChannelKind,
        topic_id: int | None,
        every: DigestEvery,
        minute: int,
        weekday: int | None,
        timezone: str,
        top: int,
        min_heat: int,
        next_due_at: datetime,
        covers_from: datetime,
        now: datetime,
    ) -> UpsertOutcome:
        """Create the (channel, topic) digest, or replace an existing one's schedule and content rules (its
        `covers_from` stays: the next digest still starts where the last one ended)."""

    async def for_guild(self, guild_id: int) -> list[DigestRecord]:
        """Every digest of a guild, by channel then topic ("every topic" first)."""

    async def get(self, channel_id: int, topic_id: int | None) -> DigestRecord | None: ...

    async def remove(self, channel_id: int, topic_id: int | None, *, every_topic: bool) -> int:
        """Delete the (channel, topic) digest, or all of the channel's; returns how many."""

    async def due(self, now: datetime, limit: int) -> list[DigestRecord]:
        """Digests whose next due time has come, earliest first."""

    async def schedule(
        self, subscription_id: int, *, expected_due: datetime, due_at: datetime, expires_at: datetime, now: datetime
    ) -> bool:
        """Queue the digest due at `due_at` (covering from the subscription's `covers_from`) and move the
        subscription on to `expires_at` (its next occurrence), covering from `due_at`; in one transaction, and
        only when the subscription is still due at `expected_due` (False: another process got there first)."""

    async def ready(self, now: datetime) -> list[DigestDelivery]:
        """Queued digests whose (next) attempt is due, earliest first."""

    async def claim(self, subscription_id: int, due_at: datetime, now: datetime) -> bool:
        """queued -> claimed (attempt + 1); False when another tick or process got it first."""

    async def stories(self, windows: Sequence[DigestWindow]) -> list[list[DigestPick]]:
        """For each window, its stories hottest first (ties: lowest id), at most `top`."""

    async def mark_sent(
        self, subscription_id: int, due_at: datetime, *, message_id: int, stories: int, now: datetime
    ) -> None: ...

    async def mark_empty(self, subscription_id: int, due_at: datetime, now: datetime) -> None:
        """Nothing to report: finished without a message."""

    async def mark_retry(
        self, subscription_id: int, due_at: datetime, *, error: str, retry_at: datetime, now: datetime
    ) -> None:
        """claimed -> queued until `retry_at`; the subscription shows the error."""

    async def mark_failed(self, subscription_id: int, due_at: datetime, *, error: str, now: datetime) -> None:
        """queued or claimed -> failed for good (the channel cannot take it, or it is too late)."""

    async def release_claim(self, subscription_id: int, due_at: datetime, now: datetime) -> None:
        """claimed -> queued now (a claim whose send was never confirmed; the next attempt looks first)."""

    async def claimed(self) -> list[DigestDelivery]:
        """Every claim without a recorded outcome (left by a crash)."""


class QuietHoursStore(Protocol):
    """/alerts quiet: per-channel quiet windows, and what happens to the alerts held during one."""

    async def set(
        self,
        *,
        guild_id: int,
        channel_id: int,
        start_minute: int,
        end_minute: int,
        timezone: str,
        breaking: int | None,
        now: datetime,
    ) -> bool:
        """Create or replace the channel's window (a window already in force stays in force); True when new."""

    async def clear(self, channel_id: int) -> bool:
        """Remove the channel's window; False when it had none. Alerts held so far post normally."""

    async def for_guild(self, guild_id: int) -> list[QuietHours]: ...

    async def every(self) -> list[QuietHours]:
        """Every channel's window (a few rows per server)."""

    async def mark_held(self, channel_id: int, since: datetime) -> None:
        """A window came into force at `since` (alerts are held from now on)."""

    async def end(self, channel_id: int, keep: Sequence[int], now: datetime) -> int:
        """A window ended: the `keep` stories go out together in one "away" summary, every other story queued for
        the channel is withdrawn (handled, never posted one by one), and the window is no longer in force; one
        transaction. Returns how many were withdrawn."""


class SummaryStore(Protocol):
    """Stories that go out together in one message; each keeps its own ledger row (exactly once)."""

    async def add(self, channel_id: int, kind: SummaryKind, story_ids: Sequence[int], now: datetime) -> int:
        """Put these stories in the channel's next `kind` summary, queueing a ledger row for any the channel does
        not have yet (owned by its first subscription that wants it); returns how many were added."""

    async def pending(self, now: datetime) -> list[SummaryItem]:
        """Summary stories whose ledger row is queued and due, in postable channels, by channel then heat."""

    async def finish(self, channel_id: int, story_ids: Sequence[int]) -> None:
        """These stories left their summary (sent, or no longer wanted)."""

    async def kind_of(self, channel_id: int, story_id: int) -> SummaryKind | None:
        """The summary the story waits in for the channel (None: in none)."""

    async def qualifying(self, channel_id: int, story_ids: Sequence[int]) -> list[int]:
        """Those of the stories that some subscription of the channel still wants now, hottest first."""

    async def crossed_since(self, channel_id: int, since: datetime, limit: int) -> list[int]:
        """The hottest stories that crossed a line of the channel's subscriptions at or after `since`, still
        qualify, and were never queued for the channel (what a pause skipped)."""

    async def queued_ids(self, channel_id: int, limit: int) -> list[int]:
        """The channel's queued stories that are in no summary, hottest first."""

    async def backlogged(self, more_than: int) -> list[int]:
        """Channels with more than `more_than` queued stories that are in no summary."""

    async def guild_paused_at(self, guild_id: int) -> datetime | None:
        """When the guild's alerts were paused (None: not paused)."""


class HeatLineStore(Protocol):
    """Topic-relative lines ("top10%"): the heat above which a share of a topic's recent stories lie."""

    async def line(self, topic_id: int | None, since: datetime, percentile: int) -> tuple[int | None, int]:
        """(the lowest heat among the hottest `percentile`% of the stories on the topic, or on any topic, first
        seen since `since`, without suppressed or unknown heat; how many such stories there are). None: none."""

    async def recent_count(self, topic_id: int | None, since: datetime) -> int:
        """How many stories `line` would look at."""

    async def rules(self) -> list[PercentileRule]:
        """Every alert and digest subscription whose line is a percentile."""

    async def set_rule(
        self, kind: Literal["alert", "digest"], subscription_id: int, percentile: int | None, basis: int | None,
        now: datetime,
    ) -> None:
        """Make the subscription's min_heat a percentile rule (computed over `basis` stories now), or a plain
        number again (None)."""

    async def set_line(
        self, kind: Literal["alert", "digest"], subscription_id: int, min_heat: int, basis: int, now: datetime
    ) -> None:
        """Today's number for a percentile rule."""


class HeatChartStore(Protocol):
    """/heat: what a story's heat chart is compared with (its history is `DeliveryLedger.heat_events`)."""

    async def topic_median(
        self, topic_id: int, *, since: datetime, until: datetime, exclude_story: int, cap: int
    ) -> TopicMedian:
        """The median heat now of the topic's stories published from `since` to `until` (both included), the
        latest `cap` of them when there are more; suppressed and unknown heat and `exclude_story` left out. The
        mean of the two middle heats when their number is even. Bounded by `cap`, whatever the topic's size."""

    async def breaking_lines(self, guild_id: int) -> list[BreakingLine]:
        """Every breaking line of the guild's channels (quiet-hours `breaking`, `ping_heat`), highest first."""


class AdminLogStore(Protocol):
    """The admin log channel of each guild, and when each problem was last told there."""

    async def get(self, guild_id: int) -> LogChannelRecord | None: ...

    async def logged_guilds(self) -> list[int]:
        """Every guild that has a log channel, in id order (for problems that are not one guild's, like a source)."""

    async def set(self, guild_id: int, channel_id: int, set_by: int, now: datetime) -> None:
        """Make `channel_id` the guild's log channel (replacing any other)."""

    async def clear(self, guild_id: int) -> bool:
        """Stop logging for the guild (and forget its notices); returns whether a log channel was set."""

    async def claim_notice(self, guild_id: int, problem: str, now: datetime, told_before: datetime) -> bool:
        """Mark the problem open; True (and the notice stamped `now`) when it was never told or last told at or
        before `told_before`: the caller then posts it. Atomic across processes."""

    async def resolve_notices(self, guild_id: int, problems: Sequence[str], now: datetime) -> list[str]:
        """Close these problems where open; returns the ones that were open (told and not yet resolved)."""


class LivingPostStore(Protocol):
    """Alert messages that follow their story: the edit ledger and the stories listed as "also covered"."""

    async def record_post(
        self,
        *,
        channel_id: int,
        story_id: int,
        message_id: int,
        edit_channel_id: int,
        heat: int | None,
        words: Sequence[str],
        now: datetime,
    ) -> None:
        """Remember a message that carries a story, with the story's normalised title words (again: nothing
        changes)."""

    async def recent_posts(
        self, channel_id: int, story: StoryView, since: datetime, *, words: Sequence[str], min_shared: int
    ) -> list[PostedStory]:
        """Stories the channel showed since `since` on messages that still exist (each post's story and the
        stories listed on it) that share at least `min_shared` of `words` with `story` or list each other in
        `related` (either way; those first). Nothing for a channel whose dedupe is off."""

    async def set_dedupe(self, channel_id: int, dedupe: bool) -> None:
        """Turn the one-post-per-event rule on or off for a channel (on unless turned off)."""

    async def dedupe(self, channel_id: int) -> bool: ...

    async def add_coverage(
        self, *, channel_id: int, story_id: int, post_story_id: int, words: Sequence[str], now: datetime
    ) -> bool:
        """List `story_id` on the channel's post of `post_story_id` (its message is owed an edit); False when
        it already was."""

    async def coverage(self, channel_id: int, post_story_id: int) -> list[int]:
        """The ids of the stories listed on a post, in the order they came."""

    async def covered_by(self, channel_id: int, story_id: int) -> int | None:
        """The story whose post in the channel lists `story_id` as "also covered" (None: it is on no post)."""

    async def prune_words(self, before: datetime) -> int:
        """Forget the title words of stories shown before `before` (outside every dedupe window); how many."""

    async def same_event(self, story_id: int, *, limit: int) -> list[int]:
        """The other stories of the event the story was posted or listed with, in any channel (oldest first)."""

    async def due_edits(self, now: datetime, *, since: datetime, min_change: int, limit: int) -> list[DueEdit]:
        """Messages posted since `since`, not gone and out of their edit window, whose story's heat moved by
        `min_change` or more, crossed one of the channel's lines, or was suppressed, or that owe an edit for new
        coverage; biggest change first."""

    async def claim_edit(self, channel_id: int, story_id: int, now: datetime, *, until: datetime) -> bool:
        """Take the message's edit (no other edit of it before `until`); False when another tick has it."""

    async def edit_done(
        self, channel_id: int, story_id: int, *, heat: int | None, version: int, now: datetime
    ) -> None:
        """The message now shows this heat and coverage version."""

    async def edit_failed(
        self, channel_id: int, story_id: int, *, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        """A failed edit: tried again from `retry_at`, or never again when it is None (the message is gone)."""


class ThreadStore(Protocol):
    """Related-story threads: each channel's options, the thread ledger of alert messages, and the messages
    owed in those threads (the related list, later coverage). Every step is claimed before Discord is asked
    and recorded after, like the alert ledger."""

    async def set_options(self, channel_id: int, *, threads: bool | None, create_tags: bool | None) -> ThreadOptions:
        """Change the options given (None: leave it); the channel's options now."""

    async def options(self, channel_ids: Sequence[int]) -> dict[int, ThreadOptions]:
        """The options of these channels (a channel never set has both off and is left out)."""

    async def open_thread(
        self,
        *,
        channel_id: int,
        story_id: int,
        guild_id: int,
        message_id: int,
        thread_id: int | None,
        heat: int | None,
        now: datetime,
    ) -> bool:
        """Owe the message a thread (`thread_id` given: it already is one, a forum post) and its related list;
        False when the message already had a row."""

    async def queue_coverage(self, channel_id: int, story_id: int, now: datetime) -> bool:
        """Owe the thread of the channel's post that lists `story_id` as "also covered" a message about it;
        False when that post has no thread (or it is gone) or it is owed already."""

    async def due_threads(self, now: datetime, *, limit: int) -> list[DueThread]:
        """Messages owed a thread and not held (claimed, or waiting after a failure), hottest first."""

    async def claim_thread(self, channel_id: int, story_id: int, now: datetime, *, until: datetime) -> bool: ...

    async def thread_opened(self, channel_id: int, story_id: int, thread_id: int, now: datetime) -> None: ...

    async def thread_failed(
        self, channel_id: int, story_id: int, *, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        """Try again from `retry_at`; None: the message or channel is gone, never again (nor its thread's posts)."""

    async def due_posts(self, now: datetime, *, limit: int) -> list[DueThreadPost]:
        """Messages owed in open threads and not held, hottest post first, each thread's in the order owed."""

    async def claim_post(
        self, channel_id: int, post_story_id: int, story_id: int, now: datetime, *, until: datetime
    ) -> bool: ...

    async def post_done(
        self, channel_id: int, post_story_id: int, story_id: int, *, message_id: int | None, now: datetime
    ) -> None:
        """Sent as `message_id` (None: there was nothing to say, e.g. no related stories)."""

    async def post_failed(
        self,
        channel_id: int,
        post_story_id: int,
        story_id: int,
        *,
        error: str,
        retry_at: datetime | None,
        thread_gone: bool,
        now: datetime,
    ) -> None:
        """Try again from `retry_at`; None: never again. `thread_gone`: the whole thread is gone."""

    async def claimed_guilds(self) -> list[int]:
        """Guilds with thread work claimed and never recorded (a crash, a cancelled tick)."""

    async def release_claims(self, guild_ids: Sequence[int], now: datetime) -> int:
        """Make those guilds' claimed work due at once (marked unsure: it may have reached Discord); how many."""

    async def thread(self, channel_id: int, story_id: int) -> AlertThread | None: ...

    async def related_links(self, story_id: int, *, channel_id: int, guild_id: int, limit: int) -> list[RelatedLink]:
        """The first `limit` entries of the story's own related list, each with our message about it when the
        guild has one (a post or summary of `channel_id` first, else of another of the guild's channels)."""


class TopicRoleStore(Protocol):
    """/roles and breaking pings: a guild's topic roles, each channel's ping line, and the last ping per role."""

    async def set_role(self, *, guild_id: int, topic_id: int, role_id: int, now: datetime) -> int | None:
        """Map the topic to the role in the guild; returns the role it had before (None: none)."""

    async def remove_role(self, guild_id: int, topic_id: int) -> int | None:
        """Forget the topic's role in the guild; returns it (None: there was none)."""

    async def roles(self, guild_id: int) -> list[TopicRole]:
        """The guild's topic roles, by topic name."""

    async def set_ping_heat(self, channel_id: int, ping_heat: int | None) -> None:
        """Stories at or above `ping_heat` ping their topics' roles in the channel (None: never)."""

    async def ping_heat(self, channel_id: int) -> int | None: ...

    async def roles_to_ping(self, *, channel_id: int, guild_id: int, story_id: int, since: datetime) -> list[int]:
        """The guild's roles of the story's topics that were not pinged in the channel since `since`."""

    async def record_pings(self, channel_id: int, role_ids: Sequence[int], now: datetime) -> None: ...


class AppStateStore(Protocol):
    """Small named values remembered between runs."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class LeaseStore(Protocol):
    """Named leases: one holder at a time (a process scanning the news folder, syncing commands), until it runs
    out. Safe when several processes try at once: exactly one gets a free or expired lease."""

    async def acquire(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        """Take the lease, or renew it when `holder` already has it, until now + ttl; False while another
        holder's lease has not run out."""

    async def release(self, name: str, holder: str) -> None:
        """Give the lease back if `holder` has it, so another process can take it at once."""

    async def holder(self, name: str, *, now: datetime) -> str | None:
        """Who holds the lease at `now` (None: nobody, or it ran out)."""


class NewsSignal(Protocol):
    """A prompt wake-up when any process sharing the store (another bot process, `heatwave ingest` from cron, this
    process's own ingester) commits heat changes, so an alert tick can start at once instead of at its next poll.
    How the engine learns of a commit is its own business; a lost connection is survived, not reported."""

    async def wait_newer(self, than: int) -> int:
        """Return the newest heat-change id once one above `than` is committed (at once when there already is
        one). Ends only by returning or by being cancelled."""


class Store(Protocol):
    """The bot's handle on one store: every repository, over the connection(s) it owns."""

    @property
    def location(self) -> StoreLocation: ...

    @property
    def lookups(self) -> LookupStore: ...

    @property
    def subscriptions(self) -> SubscriptionStore: ...

    @property
    def channels(self) -> ChannelStore: ...

    @property
    def ledger(self) -> DeliveryLedger: ...

    @property
    def crossposts(self) -> CrosspostLog: ...

    @property
    def app_state(self) -> AppStateStore: ...

    @property
    def digests(self) -> DigestStore: ...

    @property
    def quiet_hours(self) -> QuietHoursStore: ...

    @property
    def summaries(self) -> SummaryStore: ...

    @property
    def heat_lines(self) -> HeatLineStore: ...

    @property
    def heat_charts(self) -> HeatChartStore: ...

    @property
    def admin_log(self) -> AdminLogStore: ...

    @property
    def leases(self) -> LeaseStore: ...

    @property
    def living(self) -> LivingPostStore: ...

    @property
    def roles(self) -> TopicRoleStore: ...

    @property
    def threads(self) -> ThreadStore: ...

    @property
    def news(self) -> NewsSignal: ...

    async def close(self) -> None: ...


class IngestRun(Protocol):
    """One ingest run: batches of scanned files, each written in one short transaction."""

    def write_batch(self, files: Sequence[ScannedFile], *, now: datetime) -> None: ...

    def count_skipped(self, *, unchanged: int, rejected: int) -> None: ...

    def forget_files(self, paths: Sequence[str]) -> None: ...

    def counts(self) -> RunCounts: ...

    def refused(self) -> list[tuple[str, str]]:
        """(path, reason) of this run's files whose rows the database refused (stored as rejected)."""

    def finish(self, *, scanned: int, finished_at: datetime) -> RunCounts: ...


class IngestStore(Protocol):
    """The ingester's synchronous side of the store (it runs in the CLI or a worker thread of the bot)."""

    def known_files(self) -> dict[str, KnownFile]: ...

    def begin_run(self, started_at: datetime) -> IngestRun: ...

    def story_ids(self, urls: Sequence[str]) -> dict[str, int]:
        """The ids of the stored stories among these normalised URLs."""

    def read_stats(self) -> StoreStats:
        """One consistent snapshot of what the store holds, for `heatwave stats`."""

    def app_state_value(self, key: str) -> str | None:
        """An app_state value, read on this store's own connection (None when never set)."""

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
