"""The alert engine: which stories are due where, and delivering each exactly once.

Delivery protocol (the database is the only memory; the scheduler is just a metronome):
1. enqueue: new heat crossings become `queued` rows of the (story, channel) ledger (see db/alerts.py);
2. claim: a row becomes `claimed` (attempt + 1) in its own transaction *before* anything is sent;
3. send, then record the message id (`sent`). A send cannot join a transaction, so the gap between 2 and 3 is
   closed on the way back in: a claim left behind by a crash is resolved by `recover` (look for the story in
   the channel's recent messages, else queue it again), and every retry looks before it re-sends, because a
   timeout or a 5xx does not prove the message was not created.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot.clock import Clock
from bot.errors import InvalidArgument, NotFound
from bot.schedules import in_window, load_zone, parse_at
from db.interfaces import Store
from db.models import (
    CHANNEL_KINDS,
    ChannelKind,
    ChannelRecord,
    DueItem,
    PercentileRule,
    QueuedBy,
    QuietHours,
    ShardSet,
    StoryView,
    SubscriptionRecord,
    SummaryItem,
    SummaryKind,
    ThreadOptions,
    TopicInfo,
)
from db.text import topic_key

if TYPE_CHECKING:
    from bot.services.living_posts import LivingPosts
    from bot.services.threads import RelatedThreads

log = logging.getLogger(__name__)

__all__ = [
    "BACKFILL_RANGE",
    "DEFAULT_MIN_HEAT",
    "MIN_HEAT_RANGE",
    "MIN_QUALITY_RANGE",
    "AddResult",
    "AlertListener",
    "AlertService",
    "BackfillPreview",
    "ChannelKind",
    "DeliveryFailed",
    "GuildAlerts",
    "PauseResult",
    "Poster",
    "Preview",
    "PreviewItem",
    "RecoveryReport",
    "RemoveResult",
    "SubscriptionRecord",
    "ThresholdChange",
    "TickReport",
    "retry_delay",
]

# 70 is the publisher's own line: its `published` flag is true exactly when heat >= 70.
DEFAULT_MIN_HEAT = 70
# Heat has been seen up to 189 (the scale is not 0-100); 500 leaves room for growth while still catching a
# typo such as 7000. Negative values are refused: -1 is the publisher's "suppressed" sentinel, never a line.
MIN_HEAT_RANGE = (0, 500)
MIN_QUALITY_RANGE = (0, 500)
BACKFILL_RANGE = (0, 25)
# Consecutive channel faults (deleted channel, missing permission) before the bot pauses the channel itself.
AUTO_PAUSE_AFTER = 5
# Retry backoff: 15 s, 30 s, 60 s, ... (times a 75-100 % jitter), never more than 15 minutes.
RETRY_BASE_SECONDS = 15.0
RETRY_CAP_SECONDS = 900.0
# Discord allows 10 publishes per announcement channel per hour; the 11th gets a 429 of up to an hour.
CROSSPOSTS_PER_HOUR = 10
CROSSPOST_WINDOW = timedelta(hours=1)
# A claim older than this without an outcome belongs to a tick that was cancelled mid-send.
STALE_CLAIM = timedelta(minutes=10)
# Channels are served concurrently so one slow or failing channel never holds the others up.
CHANNEL_CONCURRENCY = 8
PREVIEW_QUEUE = 10
# A backlog longer than this many ticks' worth of posts is rolled up (the hottest keep their own posts).
ROLLUP_TICKS = 3
# The most stories one roll-up takes (the rest wait for the next tick's); even 1,000 fit ~70 messages.
ROLLUP_MAX = 1_000
# How many of a channel's held stories are checked for the "While you were away" message.
QUIET_CANDIDATES = 1_000


class DeliveryFailed(Exception):
    """A Poster could not deliver. `permanent`: the channel itself is the problem (deleted, no permission);
    `story_only`: Discord rejected this one story (it is never retried); else transient (5xx, timeout, 429)."""

    def __init__(
        self, reason: str, *, permanent: bool, retry_after: float | None = None, story_only: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.story_only = story_only


class Poster(Protocol):
    """Where alerts go: Discord (bot.alert_posters.DiscordPoster), the console, or a test double."""

    async def send(
        self, channel_id: int, story: StoryView, *, ping_roles: Sequence[int] = (), create_tags: bool = False
    ) -> int:
        """Post the story to the channel (a forum gets a new post, tagged with the forum's tags of its topics;
        `create_tags`: missing ones are created first), mentioning exactly `ping_roles` (and pinging nobody
        else); return the message id or raise DeliveryFailed. Callers pass the options only when they are used."""
        ...

    async def publish(self, channel_id: int, message_id: int) -> None:
        """Crosspost a message of an announcement channel to its followers; raise DeliveryFailed on failure."""
        ...

    async def find_recent(self, channel_id: int, story: StoryView) -> int | None:
        """The id of a recent message in the channel that already carries this story, if any."""
        ...

    async def send_summary(
        self, channel_id: int, kind: SummaryKind, stories: Sequence[StoryView]
    ) -> list[tuple[int, tuple[int, ...]]]:
        """Post several stories as one message (several only when one cannot hold them), as content with each
        story's link, so `find_recent` finds them; return (message id, story ids it carries) per message."""
        ...


class AlertListener(Protocol):
    """Told about channel problems as the engine meets them (the admin log channel); must not raise."""

    async def channel_failing(self, guild_id: int, channel_id: int, reason: str, failures: int, limit: int) -> None:
        """A channel refused a post for a reason of its own (deleted, missing permission)."""
        ...

    async def channel_auto_paused(self, guild_id: int, channel_id: int, reason: str) -> None:
        """A channel paused itself after `limit` such failures in a row."""
        ...

    async def channel_delivered(self, guild_id: int, channel_id: int) -> None:
        """A channel took a post."""
        ...


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did."""

    queued: int = 0
    withdrawn: int = 0
    sent: int = 0
    found_existing: int = 0
    retrying: int = 0
    channel_faults: int = 0
    rejected: int = 0
    crossposted: int = 0
    crosspost_skipped: int = 0
    auto_paused: tuple[int, ...] = ()
    covered: int = 0  # not posted: the same event as a post of the channel, listed on it (living posts)
    edited: int = 0  # posted messages edited to follow their story (living posts)
    held: int = 0  # queued alerts not posted because their channel is in quiet hours
    summaries: int = 0  # summary messages sent (away, paused catch-up, roll-up)
    rolled_up: int = 0  # stories moved into a roll-up this tick
    threads_started: int = 0  # threads started on alert messages (related-story threads)
    thread_messages: int = 0  # related lists and later coverage posted in those threads
    sent_ids: tuple[tuple[int, int], ...] = field(default=(), repr=False)  # (channel_id, story_id) in send order


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What recovery at start-up found for claims left without an outcome."""

    found_existing: int
    requeued: int


@dataclass(frozen=True, slots=True)
class ThresholdChange:
    """One threshold /alerts add changed on an existing subscription (None: no quality filter)."""

    name: Literal["min_heat", "min_quality"]
    before: int | None
    after: int | None


@dataclass(frozen=True, slots=True)
class AddResult:
    """The subscription after /alerts add, and what it was before (None when just created)."""

    subscription: SubscriptionRecord
    created: bool
    backfilled: int
    previous: SubscriptionRecord | None = None
    dedupe: bool | None = None  # one post per event in the channel (living posts); None: not in use
    ping_heat: int | None = None  # stories at or above it ping their topics' roles (living posts); None: never
    threads: ThreadOptions | None = None  # the channel's related-story threads and forum tags; None: not in use

    @property
    def changes(self) -> tuple[ThresholdChange, ...]:
        """The thresholds this add changed; empty for a new subscription or a re-add that changed nothing."""
        if self.previous is None:
            return ()
        before, after = self.previous, self.subscription
        pairs: tuple[tuple[Literal["min_heat", "min_quality"], int | None, int | None], ...] = (
            ("min_heat", before.min_heat, after.min_heat),
            ("min_quality", before.min_quality, after.min_quality),
        )
        return tuple(ThresholdChange(name, old, new) for name, old, new in pairs if old != new)


@dataclass(frozen=True, slots=True)
class RemoveResult:
    """How many subscriptions /alerts remove deleted."""

    removed: int
    topic: str | None


@dataclass(frozen=True, slots=True)
class GuildAlerts:
    """Everything /alerts list shows."""

    guild_paused: bool
    subscriptions: tuple[SubscriptionRecord, ...]
    threads: dict[int, ThreadOptions] = field(default_factory=dict)  # per channel; empty: threads not in use


@dataclass(frozen=True, slots=True)
class PauseResult:
    """The outcome of /alerts pause or resume."""

    scope: Literal["guild", "channel"]
    changed: bool
    queued: int  # stories waiting in the affected channel(s)
    still_paused: tuple[ChannelRecord, ...] = ()  # after a guild resume: channels paused on their own
    catch_up: int = 0  # stories that turned hot during the pause, now in one "While alerts were paused" message


@dataclass(frozen=True, slots=True)
class PreviewItem:
    """A queued story, when it will go, and why it was queued."""

    story: StoryView
    next_tick: bool
    backing_off: bool  # a failed attempt: waits until not_before
    not_before: datetime
    attempts: int
    last_error: str | None
    queued_for: SubscriptionRecord | None = None  # the subscription that queued it (None: since removed)
    queued_by: QueuedBy | None = None  # None: queued before the ledger recorded why


@dataclass(frozen=True, slots=True)
class BackfillPreview:
    """What `/alerts add … backfill:N` would queue for one subscription now (asked for with preview's backfill)."""

    subscription: SubscriptionRecord
    asked: int
    stories: tuple[StoryView, ...]  # the hottest that qualify now and the channel never had, hottest first


@dataclass(frozen=True, slots=True)
class Preview:
    """What a channel would post next (nothing is sent)."""

    subscriptions: tuple[SubscriptionRecord, ...]
    queued: tuple[PreviewItem, ...]
    paused_reason: str | None
    backfill: BackfillPreview | None = None  # only when a backfill was asked for


# Topic-relative lines ("top10%"): over the last 30 days of the topic's stories, recomputed at least daily, and
# sooner when the 30-day set grew or shrank by more than a quarter (checked at most hourly: counting is not free).
LINE_WINDOW = timedelta(days=30)
LINE_MAX_AGE = timedelta(days=1)
LINE_CHECK_EVERY = timedelta(hours=1)
LINE_CHANGE = 0.25
PERCENTILE_RANGE = (1, 99)
_PERCENTILE = re.compile(r"^top\s*(\d*)\s*%$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MinHeat:
    """A `min_heat` as typed: a heat, or a share of the topic's recent stories ("top10%": percentile 10)."""

    value: int | None = None
    percentile: int | None = None


def parse_min_heat(text: str | int | None) -> MinHeat | None:
    """'80' -> heat 80, 'top10%' -> the hottest 10 %; None stays None. InvalidArgument says what to type."""
    if text is None:
        return None
    if isinstance(text, int):
        _check_range("min_heat", text, MIN_HEAT_RANGE, " (stories reach about 190; 70 = the publisher's line)")
        return MinHeat(value=text)
    typed = text.strip()
    match = _PERCENTILE.match(typed)
    if match:
        digits = match.group(1)
        low, high = PERCENTILE_RANGE
        if not digits or not low <= int(digits) <= high:
            raise InvalidArgument(
                f"A share must be top{low}% to top{high}% (e.g. top10%: hotter than 90% of the topic's stories of the"
                f" last 30 days), not “{_label(typed)}”; nothing was changed."
            )
        return MinHeat(percentile=int(digits))
    try:
        value = int(typed)
    except ValueError:
        raise InvalidArgument(
            f"min_heat takes a heat from {MIN_HEAT_RANGE[0]} to {MIN_HEAT_RANGE[1]} (e.g. 80) or a share of the"
            f" topic's stories like top10%, not “{_label(typed)}”; nothing was changed."
        ) from None
    _check_range("min_heat", value, MIN_HEAT_RANGE, " (stories reach about 190; 70 = the publisher's line)")
    return MinHeat(value=value)


def retry_delay(attempt: int, rng: random.Random) -> timedelta:
    """Backoff before retry number `attempt` (1-based): exponential with jitter, capped at 15 minutes."""
    exponent = min(max(attempt, 1) - 1, 16)
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**exponent)
    # Jitter spreads retries of many channels that failed together (an outage) instead of retrying in lockstep.
    return timedelta(seconds=ceiling * rng.uniform(0.75, 1.0))


def _check_range(name: str, value: int, bounds: tuple[int, int], hint: str) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise InvalidArgument(f"{name} must be between {low} and {high}{hint}; nothing was changed.")


def _label(text: str) -> str:
    # Echoed user input: keep it short and free of backticks so it cannot break the reply's formatting.
    return text.strip().replace("`", "'")[:80]


class AlertService:
    """Subscriptions and the posting engine; no Discord types here (posters adapt)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        max_posts_per_tick: int,
        auto_pause_after: int = AUTO_PAUSE_AFTER,
        rng: random.Random | None = None,
        living: LivingPosts | None = None,
        threads: RelatedThreads | None = None,
    ) -> None:
        if max_posts_per_tick < 1:
            raise ValueError("max_posts_per_tick must be >= 1")
        self._lookups = store.lookups
        self._subscriptions = store.subscriptions
        self._channels = store.channels
        self._ledger = store.ledger
        self._crossposts = store.crossposts
        self._quiet = store.quiet_hours
        self._summaries = store.summaries
        self._lines = store.heat_lines
        self._lines_checked: dict[tuple[int | None, int], datetime] = {}
        self._clock = clock
        self._max_posts = max_posts_per_tick
        self._auto_pause_after = auto_pause_after
        self._rng = rng if rng is not None else random.Random()
        self._living = living
        self._threads = threads
        self._listeners: list[AlertListener] = []

    def add_listener(self, listener: AlertListener) -> None:
        """Tell `listener` about channel failures, auto-pauses and deliveries from now on (once, however often
        it is added)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    async def _tell(self, event: Callable[[AlertListener], Awaitable[None]]) -> None:
        for listener in self._listeners:
            try:
                await event(listener)
            except Exception:
                log.exception("alert listener %r failed", listener)

    @property
    def max_posts_per_tick(self) -> int:
        """Posts per channel per tick."""
        return self._max_posts

    # --- administration -----------------------------------------------------------------------------------

    async def resolve_topic(self, name: str) -> TopicInfo:
        """The stored topic called `name` (any case), or NotFound suggesting close ones."""
        text = name.strip()
        if not text:
            raise InvalidArgument("The topic name is empty; leave it out to follow every topic.")
        found = await self._lookups.topic_by_name(text)
        if found is not None:
            return found
        suggestions = [t.name for t in await self._lookups.topic_choices(text, limit=5)]
        if not suggestions:
            names = await self._lookups.topic_names(limit=5000)
            by_key = {topic_key(n): n for n in names}
            close = difflib.get_close_matches(topic_key(text), list(by_key), n=5, cutoff=0.6)
            suggestions = [by_key[c] for c in close]
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else " /topics lists the stored topics."
        raise NotFound(f"No topic '{_label(text)}'.{hint}")

    async def topic_choices(self, text: str, limit: int = 25) -> list[str]:
        """Topic names for autocomplete (prefix matches first, then the most used)."""
        if not text.strip():
            return await self._lookups.topic_names(limit=limit)
        return [t.name for t in await self._lookups.topic_choices(text, limit=limit)]

    async def add_subscription(
        self,
        *,
        guild_id: int,
        channel_id: int,
        channel_kind: ChannelKind,
        topic: str | None = None,
        min_heat: int | str | None = None,
        min_quality: int | None = None,
        backfill: int = 0,
        dedupe: bool | None = None,
        ping_heat: int | None = None,
        threads: bool | None = None,
        create_tags: bool | None = None,
    ) -> AddResult:
        """Create the (channel, topic) subscription, or change only the thresholds given of an existing one;
        queue the `backfill` hottest qualifying stories. A threshold left out (None) keeps its stored value, or
        takes the default on a new subscription (min_heat 70, no quality filter); min_quality 0 removes the
        quality filter."""
        if channel_kind not in CHANNEL_KINDS:
            raise InvalidArgument(f"Alerts can go to {', '.join(CHANNEL_KINDS[:3])} channels only.")
        wanted = parse_min_heat(min_heat)
        if min_quality is not None:
            _check_range("min_quality", min_quality, MIN_QUALITY_RANGE, " (0 = no quality filter)")
        _check_range("backfill", backfill, BACKFILL_RANGE, " stories")
        if ping_heat is not None:
            _check_range("ping_heat", ping_heat, MIN_HEAT_RANGE, " (0 = no pings)")
        if create_tags and channel_kind != "forum":
            raise InvalidArgument("create_tags is for forum channels: their posts carry tags, messages do not.")
        topic_ref = await self.resolve_topic(topic) if topic is not None else None
        topic_id = topic_ref.id if topic_ref else None
        now = self._clock.now()
        line, basis = await self.line_for(topic_id, wanted)
        # Read only for the reply ("what changed"); the upsert itself decides created vs updated atomically.
        previous = await self._subscriptions.get(channel_id, topic_id)
        outcome = await self._subscriptions.upsert(
            guild_id=guild_id,
            channel_id=channel_id,
            kind=channel_kind,
            topic_id=topic_id,
            min_heat=DEFAULT_MIN_HEAT if line is None else line,
            # "quality >= 0" would silently drop every story whose quality the publisher left out, which no one
            # asks for: 0 means no quality filter, like leaving it out on a new subscription.
            min_quality=min_quality or None,
            now=now,
            keep_min_heat=wanted is None,
            keep_min_quality=min_quality is None,
        )
        if wanted is not None:
            await self._lines.set_rule("alert", outcome.subscription_id, wanted.percentile, basis, now)
        backfilled = await self._ledger.queue_backfill(outcome.subscription_id, backfill, now)
        record = await self._subscriptions.get(channel_id, topic_id)
        assert record is not None
        log.info(
            "subscription %s: guild %d channel %d topic %s min_heat %d min_quality %s backfill %d",
            "added" if outcome.created else "updated",
            guild_id,
            channel_id,
            topic_ref.name if topic_ref else "*",
            record.min_heat,
            record.min_quality,
            backfilled,
            extra={"guild": guild_id, "channel": channel_id},
        )
        deduping = pinging = None
        if self._living is not None:
            # Left out: as it was (dedupe on, no pings for a channel that never said otherwise).
            deduping = await self._living.set_dedupe(channel_id, dedupe)
            pinging = await self._living.set_ping_heat(channel_id, ping_heat)
        options = None
        if self._threads is not None:
            options = await self._threads.set_options(channel_id, threads=threads, create_tags=create_tags)
        return AddResult(
            record, outcome.created, backfilled, None if outcome.created else previous, deduping, pinging, options
        )

    async def remove_subscription(self, *, guild_id: int, channel_id: int, topic: str | None = None) -> RemoveResult:
        """Remove the (channel, topic) subscription, or every subscription of the channel when topic is None."""
        subs = [s for s in await self._subscriptions.for_guild(guild_id) if s.channel_id == channel_id]
        if not subs:
            raise NotFound("That channel has no alerts. /alerts list shows what is set up.")
        topic_ref: TopicInfo | None = None
        if topic is not None:
            topic_ref = await self.resolve_topic(topic)
            if not any(s.topic_id == topic_ref.id for s in subs):
                following = ", ".join(s.topic_name or "every topic" for s in subs)
                raise NotFound(f"That channel does not follow {topic_ref.name}; it follows: {following}.")
        removed = await self._subscriptions.remove(
            channel_id, topic_ref.id if topic_ref else None, every_topic=topic_ref is None
        )
        return RemoveResult(removed, topic_ref.name if topic_ref else None)

    async def list_subscriptions(self, guild_id: int) -> GuildAlerts:
        """Every subscription of the guild with thresholds, last post, last error and pause state."""
        subs = await self._subscriptions.for_guild(guild_id)
        options = await self._threads.options_of([s.channel_id for s in subs]) if self._threads is not None else {}
        return GuildAlerts(await self._channels.guild_paused(guild_id), tuple(subs), options)

    async def pause(self, guild_id: int, channel_id: int | None = None) -> PauseResult:
        """Pause the whole guild or one channel: queued stories wait; stories that turn hot meanwhile are skipped."""
        now = self._clock.now()
        channels = await self._channels.for_guild(guild_id)
        if channel_id is None:
            changed = await self._channels.set_guild_paused(guild_id, True, now)
            return PauseResult("guild", changed, sum(c.queued for c in channels))
        channel = self._channel(channels, channel_id)
        changed = await self._channels.set_channel_paused(guild_id, channel_id, True, now)
        return PauseResult("channel", changed, channel.queued)

    async def resume(self, guild_id: int, channel_id: int | None = None) -> PauseResult:
        """Resume the guild or one channel (also clears a channel's failures and auto-pause). The stories that
        turned hot during the pause (the hottest max_posts_per_tick) go out as one "While alerts were paused"
        message; stories queued before the pause post normally."""
        now = self._clock.now()
        channels = await self._channels.for_guild(guild_id)
        if channel_id is None:
            since = await self._summaries.guild_paused_at(guild_id)
            changed = await self._channels.set_guild_paused(guild_id, False, now)
            still = tuple(c for c in channels if c.paused_at is not None)
            caught = 0
            if changed and since is not None:
                for channel in channels:
                    if channel.paused_at is None:
                        caught += await self._catch_up(channel.channel_id, since, now)
            return PauseResult("guild", changed, sum(c.queued for c in channels), still, caught)
        channel = self._channel(channels, channel_id)
        changed = await self._channels.set_channel_paused(guild_id, channel_id, False, now)
        caught = 0
        if changed and channel.paused_at is not None:
            caught = await self._catch_up(channel_id, channel.paused_at, now)
        return PauseResult("channel", changed, channel.queued, catch_up=caught)

    async def _catch_up(self, channel_id: int, since: datetime, now: datetime) -> int:
        """Put what a pause skipped (the hottest max_posts_per_tick that crossed a line since `since`) in one
        "paused" summary for the channel; returns how many."""
        missed = await self._summaries.crossed_since(channel_id, since, self._max_posts)
        if not missed:
            return 0
        added = await self._summaries.add(channel_id, "paused", missed, now)
        log.info("channel %d: %d stories that turned hot during the pause go out in one message", channel_id, added)
        return added

    # --- topic-relative lines ------------------------------------------------------------------------------

    async def line_for(self, topic_id: int | None, wanted: MinHeat | None) -> tuple[int | None, int | None]:
        """(today's number for `wanted`, how many stories it was computed over); a plain heat is itself. A share
        of a topic without stories in the last 30 days is the publisher's line (70) until it has some."""
        if wanted is None:
            return None, None
        if wanted.percentile is None:
            return wanted.value, None
        line, count = await self._lines.line(topic_id, self._clock.now() - LINE_WINDOW, wanted.percentile)
        return (DEFAULT_MIN_HEAT if line is None else line), count

    async def refresh_lines(self) -> int:
        """Recompute percentile lines a day old, or whose topic's 30-day set changed a lot; returns how many
        subscriptions got a new number."""
        rules = await self._lines.rules()
        if not rules:
            return 0
        now = self._clock.now()
        since = now - LINE_WINDOW
        groups: dict[tuple[int | None, int], list[PercentileRule]] = {}
        for rule in rules:
            groups.setdefault((rule.topic_id, rule.percentile), []).append(rule)
        changed = 0
        for (topic_id, percentile), members in groups.items():
            stale = any(r.line_at is None or now - r.line_at >= LINE_MAX_AGE for r in members)
            if not stale and now - self._lines_checked.get((topic_id, percentile), now - LINE_CHECK_EVERY) < (
                LINE_CHECK_EVERY
            ):
                continue
            self._lines_checked[(topic_id, percentile)] = now
            if not stale:
                count = await self._lines.recent_count(topic_id, since)
                basis = min((r.line_basis or 0) for r in members)
                if abs(count - basis) <= LINE_CHANGE * max(basis, 1) and basis > 0:
                    continue
            line, count = await self._lines.line(topic_id, since, percentile)
            value = DEFAULT_MIN_HEAT if line is None else line
            for rule in members:
                await self._lines.set_line(rule.kind, rule.subscription_id, value, count, now)
                changed += int(rule.min_heat != value)
        if changed:
            log.info("percentile lines: %d subscriptions have a new heat line", changed)
        return changed

    # --- quiet hours --------------------------------------------------------------------------------------

    async def set_quiet(
        self,
        *,
        guild_id: int,
        channel_id: int,
        start: str,
        end: str,
        timezone: str = "UTC",
        breaking: int | None = None,
    ) -> tuple[QuietHours, bool]:
        """Set the channel's daily quiet window (checked first: bad input changes nothing); returns the window
        and whether it is new."""
        start_minute, end_minute = parse_at(start), parse_at(end)
        if start_minute == end_minute:
            raise InvalidArgument("start and end must differ (22:00 to 07:00 is quiet overnight); nothing was changed.")
        zone = timezone.strip() or "UTC"
        load_zone(zone)
        if breaking is not None:
            _check_range("breaking", breaking, MIN_HEAT_RANGE, " (stories at or above it post at once)")
        subs = [s for s in await self._subscriptions.for_guild(guild_id) if s.channel_id == channel_id]
        if not subs:
            raise NotFound("That channel has no alerts. Add one with /alerts add, then set its quiet hours.")
        created = await self._quiet.set(
            guild_id=guild_id,
            channel_id=channel_id,
            start_minute=start_minute,
            end_minute=end_minute,
            timezone=zone,
            breaking=breaking,
            now=self._clock.now(),
        )
        window = next(q for q in await self._quiet.for_guild(guild_id) if q.channel_id == channel_id)
        return window, created

    async def quiet_off(self, guild_id: int, channel_id: int) -> bool:
        """Remove the channel's quiet hours (held alerts then post normally); False when it had none."""
        if not any(q.channel_id == channel_id for q in await self._quiet.for_guild(guild_id)):
            return False
        return await self._quiet.clear(channel_id)

    async def quiet_hours(self, guild_id: int) -> list[QuietHours]:
        """The guild's quiet windows."""
        return await self._quiet.for_guild(guild_id)

    async def _quiet_now(self, now: datetime) -> dict[int, int | None]:
        """Channels in quiet hours now, with their breaking line; windows that just ended become summaries."""
        quiet: dict[int, int | None] = {}
        for window in await self._quiet.every():
            try:
                quiet_now = in_window(window.start_minute, window.end_minute, window.timezone, now)
            except InvalidArgument:  # a zone gone from the zone database: UTC rather than a stuck tick
                quiet_now = in_window(window.start_minute, window.end_minute, "UTC", now)
            if quiet_now:
                quiet[window.channel_id] = window.breaking
                if window.held_since is None:
                    await self._quiet.mark_held(window.channel_id, now)
            elif window.held_since is not None:
                await self._end_quiet(window, now)
        return quiet

    async def _end_quiet(self, window: QuietHours, now: datetime) -> None:
        # The hottest held stories that still qualify (one suppressed or cooled below the line meanwhile is left
        # out) go in one message; every other held story is handled, not posted one by one.
        held = await self._summaries.queued_ids(window.channel_id, QUIET_CANDIDATES)
        keep = (await self._summaries.qualifying(window.channel_id, held))[: self._max_posts]
        dropped = await self._quiet.end(window.channel_id, keep, now)
        log.info(
            "channel %d: quiet hours over; %d held stories in one message, %d more marked handled",
            window.channel_id,
            len(keep),
            dropped,
        )

    async def _roll_up(self, quiet: dict[int, int | None], now: datetime) -> int:
        """More queued for a channel than three ticks can post: the hottest keep their own posts, the rest go
        out together in one roll-up (queued, never dropped, and no hours of trickling)."""
        keep = ROLLUP_TICKS * self._max_posts
        rolled = 0
        for channel_id in await self._summaries.backlogged(keep):
            if channel_id in quiet:
                continue  # held, not posted: the end of quiet hours decides what goes out
            rest = (await self._summaries.queued_ids(channel_id, ROLLUP_MAX))[keep:]
            if rest:
                rolled += await self._summaries.add(channel_id, "rollup", rest, now)
        return rolled

    async def _send_summaries(
        self, poster: Poster, quiet: dict[int, int | None], tally: _Tally, shards: ShardSet | None
    ) -> None:
        groups: dict[tuple[int, SummaryKind], list[SummaryItem]] = {}
        for item in await self._summaries.pending(self._clock.now()):
            if shards is not None and not shards.owns(item.guild_id):
                continue  # another process's server (its shard)
            if item.channel_id not in quiet:
                groups.setdefault((item.channel_id, item.kind), []).append(item)
        for (channel_id, kind), items in groups.items():
            await self._send_summary(poster, channel_id, kind, items, tally)

    async def _send_summary(
        self, poster: Poster, channel_id: int, kind: SummaryKind, items: list[SummaryItem], tally: _Tally
    ) -> None:
        """Claim every story of the summary, send one message (or several when one cannot hold them), record
        each story as sent with the message that carries it: exactly once, like a single alert."""
        now = self._clock.now()
        # Cooled below every line of the channel, or suppressed, while it waited: withdrawn, as a single alert is.
        wanted = set(await self._summaries.qualifying(channel_id, [i.story_id for i in items]))
        for item in items:
            if item.story_id not in wanted:
                await self._ledger.withdraw(item.story_id, channel_id)
                tally.add(TickReport(withdrawn=1))
        await self._summaries.finish(channel_id, [i.story_id for i in items if i.story_id not in wanted])
        items = [i for i in items if i.story_id in wanted]
        claimed = [i for i in items if await self._ledger.claim(i.story_id, channel_id, now)]
        stories = await self._lookups.stories([i.story_id for i in claimed])
        by_id = {s.id: s for s in stories}
        to_send: list[StoryView] = []
        for item in claimed:
            story = by_id.get(item.story_id)
            if story is None:
                await self._ledger.release_claim(item.story_id, channel_id, now)
                continue
            found = None
            if item.attempts > 0:
                # An earlier attempt may have reached Discord: a story already in the channel is not sent again.
                try:
                    found = await poster.find_recent(channel_id, story)
                except DeliveryFailed:
                    found = None
            if found is not None:
                await self._ledger.mark_sent(item.story_id, channel_id, found, self._clock.now())
                tally.add(TickReport(sent=1, found_existing=1, sent_ids=((channel_id, item.story_id),)))
            else:
                to_send.append(story)
        done = [s.id for s in stories if s.id not in {t.id for t in to_send}]
        if to_send:
            try:
                messages = await poster.send_summary(channel_id, kind, to_send)
            except asyncio.CancelledError:
                raise  # shutting down mid-send: the claims stay, and recovery at the next start resolves them
            except Exception as exc:
                if not isinstance(exc, DeliveryFailed):
                    log.exception("poster crashed delivering a %s summary to channel %d", kind, channel_id)
                failure = exc if isinstance(exc, DeliveryFailed) else DeliveryFailed(
                    "unexpected error while posting", permanent=False
                )
                # One failed message is one failure of the channel (its count, its hold); the summary's other
                # stories simply go back to the queue behind that hold, and the next attempt looks before sending.
                first = next(i for i in claimed if i.story_id == to_send[0].id)
                await self._failed(
                    DueItem(first.story_id, channel_id, first.guild_id, first.channel_kind, first.attempts, first.heat),
                    failure,
                    tally,
                )
                for story in to_send[1:]:
                    await self._ledger.release_claim(story.id, channel_id, self._clock.now())
                await self._summaries.finish(channel_id, done)
                return
            for message_id, carried in messages:
                for story_id in carried:
                    await self._ledger.mark_sent(story_id, channel_id, message_id, self._clock.now())
                    tally.add(TickReport(sent=1, sent_ids=((channel_id, story_id),)))
                    done.append(story_id)
            tally.add(TickReport(summaries=len(messages)))
            log.info("channel %d: %s summary of %d stories sent", channel_id, kind, len(to_send))
            guild_id = claimed[0].guild_id
            await self._tell(lambda listener: listener.channel_delivered(guild_id, channel_id))
        await self._summaries.finish(channel_id, done)

    @staticmethod
    def _channel(channels: Sequence[ChannelRecord], channel_id: int) -> ChannelRecord:
        for channel in channels:
            if channel.channel_id == channel_id:
                return channel
        raise NotFound("That channel has no alerts. /alerts list shows what is set up.")

    async def preview(
        self, *, guild_id: int, channel_id: int, topic: str | None = None, backfill: int = 0
    ) -> Preview:
        """What the channel would post next, in order, without sending anything (with a topic: only what that
        topic's subscription queued); with `backfill`, also what `/alerts add … backfill:N` would queue now."""
        _check_range("backfill", backfill, BACKFILL_RANGE, " stories")
        subs = [s for s in await self._subscriptions.for_guild(guild_id) if s.channel_id == channel_id]
        if not subs:
            raise NotFound("That channel has no alerts yet. Add one with /alerts add.")
        channel_subs = list(subs)
        topic_key: int | None = None
        if topic is not None:
            topic_ref = await self.resolve_topic(topic)
            subs = [s for s in subs if s.topic_id == topic_ref.id]
            if not subs:
                raise NotFound(f"That channel does not follow {topic_ref.name}.")
            topic_key = topic_ref.id
        now = self._clock.now()
        queued = await self._ledger.queued_for(channel_id, topic_key, PREVIEW_QUEUE)
        stories = {s.id: s for s in await self._lookups.stories([q.story_id for q in queued])}
        owners = {s.topic_id or 0: s for s in channel_subs}
        first = subs[0]
        paused_reason = None
        if first.guild_paused:
            paused_reason = "alerts are paused for this server"
        elif first.channel_paused_at is not None:
            paused_reason = (
                f"paused automatically: {first.auto_paused_reason}"
                if first.auto_paused_reason
                else "this channel is paused"
            )
        items = []
        for position, q in enumerate(queued):
            if q.story_id in stories:
                items.append(
                    PreviewItem(
                        stories[q.story_id],
                        next_tick=position < self._max_posts and q.next_attempt_at <= now and paused_reason is None,
                        backing_off=q.next_attempt_at > now,
                        not_before=q.next_attempt_at,
                        attempts=q.attempts,
                        last_error=q.last_error,
                        queued_for=owners.get(q.topic_key) if q.topic_key is not None else None,
                        queued_by=q.queued_by,
                    )
                )
        backfill_preview = None
        if backfill > 0:
            target = self._backfill_target(subs, topic is not None)
            candidates = await self._subscriptions.backfill_candidates(target.id, backfill)
            backfill_preview = BackfillPreview(target, backfill, tuple(await self._lookups.stories(candidates)))
        return Preview(tuple(subs), tuple(items), paused_reason, backfill_preview)

    @staticmethod
    def _backfill_target(subs: Sequence[SubscriptionRecord], topic_given: bool) -> SubscriptionRecord:
        """The subscription a previewed backfill is for: the topic's, the channel's only one, or "every topic"
        (what /alerts add without a topic would backfill)."""
        if topic_given or len(subs) == 1:
            return subs[0]
        for sub in subs:
            if sub.topic_id is None:
                return sub
        topics = ", ".join(s.topic_name or "?" for s in subs)
        raise InvalidArgument(
            f"That channel follows several topics ({_label(topics)}); add topic: to say whose backfill to preview."
        )

    # --- the engine ---------------------------------------------------------------------------------------

    async def tick(self, poster: Poster, *, shards: ShardSet | None = None) -> TickReport:
        """Queue new crossings, then post up to max_posts_per_tick per channel, hottest first. With `shards`, only
        to the servers on those shards (a process posts for its own shards; the others post the rest)."""
        now = self._clock.now()
        stale = await self._ledger.requeue_stale_claims(now - STALE_CLAIM, now)
        if stale:
            log.warning("%d alert claims from an interrupted tick went back to the queue", stale)
        await self.refresh_lines()
        queued = await self._ledger.enqueue_due(now)
        tally = _Tally(TickReport(queued=queued))
        # Summaries first: their stories are claimed here, before the batch could pick them one by one.
        quiet = await self._quiet_now(now)
        tally.add(TickReport(rolled_up=await self._roll_up(quiet, now)))
        await self._send_summaries(poster, quiet, tally, shards)
        # The time after queueing, not the tick's start: rows another process queued while this one waited for the
        # engine's lock are due from that process's clock, which may be later than this tick began; with the
        # start time they would wait a whole post interval for this process's next tick.
        batch = await self._ledger.next_batch(self._clock.now(), self._max_posts, shards=shards)
        by_channel: dict[int, list[DueItem]] = {}
        for item in batch:
            if item.channel_id in quiet:
                line = quiet[item.channel_id]
                if line is None or item.heat is None or item.heat < line:
                    # Quiet hours: held in the queue (a restart keeps it); only a breaking story posts at once.
                    tally.add(TickReport(held=1))
                    continue
            if item.qualifies:
                by_channel.setdefault(item.channel_id, []).append(item)
            else:
                # Cooled below every subscription of its channel, or suppressed, while it waited its turn.
                await self._ledger.withdraw(item.story_id, item.channel_id)
                tally.add(TickReport(withdrawn=1))
        gate = asyncio.Semaphore(CHANNEL_CONCURRENCY)

        async def serve(items: list[DueItem]) -> None:
            async with gate:
                await self._serve_channel(poster, items, tally)

        # Hottest first across channels too: when the REST budget makes channels queue, the hottest story's
        # channels are served first (each channel's own items are already in heat order).
        hottest_first = sorted(by_channel.values(), key=lambda items: -max(i.heat or 0 for i in items))
        await asyncio.gather(*(serve(items) for items in hottest_first))
        await self._crossposts.prune(self._clock.now() - CROSSPOST_WINDOW)
        if self._living is not None:
            tally.add(TickReport(edited=(await self._living.edit_pass(poster)).edited))
        if self._threads is not None:
            done = await self._threads.thread_pass(poster, shards=shards)
            tally.add(TickReport(threads_started=done.started, thread_messages=done.posted))
        report = tally.report
        if batch or queued:
            log.info(
                "alert tick: %d queued, %d sent, %d retrying, %d channel faults, %d withdrawn",
                queued,
                report.sent,
                report.retrying,
                report.channel_faults,
                report.withdrawn,
            )
        return report

    async def _serve_channel(self, poster: Poster, items: list[DueItem], tally: _Tally) -> None:
        for item in items:
            if not await self._deliver(poster, item, tally):
                # The channel is failing or rate limited: the rest wait for its hold to pass, in heat order.
                return

    async def _deliver(self, poster: Poster, item: DueItem, tally: _Tally) -> bool:
        """One claim-send-record cycle; False when the channel should not be tried again this tick."""
        if not await self._ledger.claim(item.story_id, item.channel_id, self._clock.now()):
            return True
        found = await self._lookups.stories([item.story_id])
        if not found:
            await self._ledger.release_claim(item.story_id, item.channel_id, self._clock.now())
            return True
        story = found[0]
        if self._living is not None:
            post_id = await self._living.absorb(item.channel_id, story)
            if post_id is not None:
                await self._ledger.mark_sent(item.story_id, item.channel_id, post_id, self._clock.now())
                if self._threads is not None:
                    await self._threads.covered(item.channel_id, story.id)
                tally.add(TickReport(covered=1))
                return True
        existing = False
        try:
            message_id: int | None = None
            if item.attempts > 0:
                # An earlier attempt may have reached Discord (a timeout or 5xx proves nothing): look first.
                message_id = await poster.find_recent(item.channel_id, story)
                existing = message_id is not None
            if message_id is None:
                roles = await self._living.pings_for(item.channel_id, item.guild_id, story) if self._living else []
                extra: dict[str, Any] = {}
                if roles:
                    extra["ping_roles"] = roles
                if (
                    item.kind == "forum"
                    and self._threads is not None
                    and (await self._threads.options(item.channel_id)).create_tags
                ):
                    extra["create_tags"] = True
                message_id = await poster.send(item.channel_id, story, **extra)
                if roles and self._living is not None:
                    await self._living.pinged(item.channel_id, roles)
        except DeliveryFailed as exc:
            return await self._failed(item, exc, tally)
        except asyncio.CancelledError:
            # Shutting down mid-send: the claim stays, and recovery at the next start resolves it.
            raise
        except Exception:
            log.exception("poster crashed delivering story %d to channel %d", item.story_id, item.channel_id)
            return await self._failed(item, DeliveryFailed("unexpected error while posting", permanent=False), tally)
        await self._ledger.mark_sent(item.story_id, item.channel_id, message_id, self._clock.now())
        if self._living is not None:
            await self._living.posted(item.channel_id, item.kind, story, message_id)
        if self._threads is not None:
            await self._threads.posted(
                channel_id=item.channel_id, guild_id=item.guild_id, kind=item.kind, story=story, message_id=message_id
            )
        log.debug("story %d posted to channel %d of server %d", item.story_id, item.channel_id, item.guild_id)
        await self._tell(lambda listener: listener.channel_delivered(item.guild_id, item.channel_id))
        tally.add(TickReport(sent=1, found_existing=int(existing), sent_ids=((item.channel_id, item.story_id),)))
        if item.kind == "announcement":
            await self._crosspost(poster, item.channel_id, message_id, tally)
        return True

    async def _failed(self, item: DueItem, exc: DeliveryFailed, tally: _Tally) -> bool:
        now = self._clock.now()
        if exc.story_only:
            log.warning(
                "channel %d rejected story %d for good: %s", item.channel_id, item.story_id, exc.reason,
                extra=_fields(item),
            )
            await self._ledger.mark_rejected(item.story_id, item.channel_id, exc.reason, now)
            tally.add(TickReport(rejected=1))
            return True
        delay = retry_delay(item.attempts + 1, self._rng)
        if exc.retry_after is not None:
            # Discord said exactly when: waiting less only earns another 429.
            delay = timedelta(seconds=max(exc.retry_after, 0.0))
        outcome = await self._ledger.mark_retry(
            item.story_id,
            item.channel_id,
            error=exc.reason,
            retry_at=now + delay,
            channel_fault=exc.permanent,
            auto_pause_after=self._auto_pause_after,
            now=now,
        )
        if exc.permanent:
            tally.add(TickReport(channel_faults=1))
            log.warning(
                "channel %d cannot take alerts (%s), failure %d of %d",
                item.channel_id,
                exc.reason,
                outcome.failure_count,
                self._auto_pause_after,
                extra=_fields(item),
            )
            await self._tell(
                lambda listener: listener.channel_failing(
                    item.guild_id, item.channel_id, exc.reason, outcome.failure_count, self._auto_pause_after
                )
            )
        else:
            tally.add(TickReport(retrying=1))
            log.info(
                "alert to channel %d will be retried in %s: %s", item.channel_id, delay, exc.reason, extra=_fields(item)
            )
        if outcome.auto_paused:
            tally.add(TickReport(auto_paused=(item.channel_id,)))
            log.warning(
                "channel %d paused automatically after repeated failures: %s", item.channel_id, exc.reason,
                extra=_fields(item),
            )
            await self._tell(lambda listener: listener.channel_auto_paused(item.guild_id, item.channel_id, exc.reason))
        return False

    async def _crosspost(self, poster: Poster, channel_id: int, message_id: int, tally: _Tally) -> None:
        # Over the budget we skip the publish rather than delay it: the alert is already in the channel, and a
        # delayed publish would reach followers late and pile up behind a busy channel without bound.
        now = self._clock.now()
        if await self._crossposts.count_since(channel_id, now - CROSSPOST_WINDOW) >= CROSSPOSTS_PER_HOUR:
            log.info("not publishing message %d in channel %d: 10 publishes this hour already", message_id, channel_id)
            tally.add(TickReport(crosspost_skipped=1))
            return
        await self._crossposts.record(channel_id, message_id, now)
        try:
            await poster.publish(channel_id, message_id)
        except DeliveryFailed as exc:
            log.warning("publishing message %d in channel %d failed: %s", message_id, channel_id, exc.reason)
            tally.add(TickReport(crosspost_skipped=1))
            return
        tally.add(TickReport(crossposted=1))

    async def recover(self, poster: Poster, *, shards: ShardSet | None = None) -> RecoveryReport:
        """Resolve claims left by a crash: mark sent when the message exists, else queue the story again. With
        `shards`, only the claims of their servers: another process's claims may be sends in flight."""
        found_existing = requeued = 0
        for item in await self._ledger.claimed():
            if shards is not None and not shards.owns(item.guild_id):
                continue
            now = self._clock.now()
            stories = await self._lookups.stories([item.story_id])
            message_id: int | None = None
            if stories:
                try:
                    message_id = await poster.find_recent(item.channel_id, stories[0])
                except DeliveryFailed as exc:
                    # Re-queued all the same: its attempt count makes the tick look again before re-sending.
                    log.warning("cannot check channel %d for story %d: %s", item.channel_id, item.story_id, exc.reason)
            if message_id is not None:
                await self._ledger.mark_sent(item.story_id, item.channel_id, message_id, now)
                if self._living is not None:
                    await self._living.posted(item.channel_id, item.kind, stories[0], message_id)
                if self._threads is not None:
                    await self._threads.posted(
                        channel_id=item.channel_id,
                        guild_id=item.guild_id,
                        kind=item.kind,
                        story=stories[0],
                        message_id=message_id,
                    )
                found_existing += 1
            else:
                await self._ledger.release_claim(item.story_id, item.channel_id, now)
                requeued += 1
        if self._threads is not None:
            await self._threads.recover(shards=shards)
        if found_existing or requeued:
            log.info("alert recovery: %d already posted, %d queued again", found_existing, requeued)
        return RecoveryReport(found_existing, requeued)


def _fields(item: DueItem) -> dict[str, int]:
    """Structured log fields of a delivery (HEATWAVE_LOG_FORMAT=json shows them as keys)."""
    return {"guild": item.guild_id, "channel": item.channel_id, "story": item.story_id}


class _Tally:
    """The TickReport of a tick in progress; channels served concurrently each add their outcomes to it."""

    __slots__ = ("report",)

    def __init__(self, report: TickReport) -> None:
        self.report = report

    def add(self, outcome: TickReport) -> None:
        """Sum the counts and append the tuples of `outcome`, so TickReport's fields are declared only once."""
        # No await in here: on one event loop, concurrent channels cannot interleave inside an update.
        self.report = TickReport(
            **{f.name: getattr(self.report, f.name) + getattr(outcome, f.name) for f in fields(TickReport)}
        )
