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
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from bot.clock import Clock
from bot.errors import InvalidArgument, NotFound
from db.interfaces import Store
from db.models import (
    CHANNEL_KINDS,
    ChannelKind,
    ChannelRecord,
    DueItem,
    QueuedBy,
    StoryView,
    SubscriptionRecord,
    TopicInfo,
)
from db.text import topic_key

if TYPE_CHECKING:
    from bot.services.living_posts import LivingPosts

log = logging.getLogger(__name__)

__all__ = [
    "BACKFILL_RANGE",
    "DEFAULT_MIN_HEAT",
    "MIN_HEAT_RANGE",
    "MIN_QUALITY_RANGE",
    "AddResult",
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

    async def send(self, channel_id: int, story: StoryView, *, ping_roles: Sequence[int] = ()) -> int:
        """Post the story to the channel (a forum gets a new post), mentioning exactly `ping_roles` (and pinging
        nobody else); return the message id or raise DeliveryFailed."""
        ...

    async def publish(self, channel_id: int, message_id: int) -> None:
        """Crosspost a message of an announcement channel to its followers; raise DeliveryFailed on failure."""
        ...

    async def find_recent(self, channel_id: int, story: StoryView) -> int | None:
        """The id of a recent message in the channel that already carries this story, if any."""
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


@dataclass(frozen=True, slots=True)
class PauseResult:
    """The outcome of /alerts pause or resume."""

    scope: Literal["guild", "channel"]
    changed: bool
    queued: int  # stories waiting in the affected channel(s)
    still_paused: tuple[ChannelRecord, ...] = ()  # after a guild resume: channels paused on their own


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
    ) -> None:
        if max_posts_per_tick < 1:
            raise ValueError("max_posts_per_tick must be >= 1")
        self._lookups = store.lookups
        self._subscriptions = store.subscriptions
        self._channels = store.channels
        self._ledger = store.ledger
        self._crossposts = store.crossposts
        self._clock = clock
        self._max_posts = max_posts_per_tick
        self._auto_pause_after = auto_pause_after
        self._rng = rng if rng is not None else random.Random()
        self._living = living

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
        min_heat: int | None = None,
        min_quality: int | None = None,
        backfill: int = 0,
        dedupe: bool | None = None,
        ping_heat: int | None = None,
    ) -> AddResult:
        """Create the (channel, topic) subscription, or change only the thresholds given of an existing one;
        queue the `backfill` hottest qualifying stories. A threshold left out (None) keeps its stored value, or
        takes the default on a new subscription (min_heat 70, no quality filter); min_quality 0 removes the
        quality filter."""
        if channel_kind not in CHANNEL_KINDS:
            raise InvalidArgument(f"Alerts can go to {', '.join(CHANNEL_KINDS[:3])} channels only.")
        if min_heat is not None:
            _check_range("min_heat", min_heat, MIN_HEAT_RANGE, " (stories reach about 190; 70 = the publisher's line)")
        if min_quality is not None:
            _check_range("min_quality", min_quality, MIN_QUALITY_RANGE, " (0 = no quality filter)")
        _check_range("backfill", backfill, BACKFILL_RANGE, " stories")
        if ping_heat is not None:
            _check_range("ping_heat", ping_heat, MIN_HEAT_RANGE, " (0 = no pings)")
        topic_ref = await self.resolve_topic(topic) if topic is not None else None
        topic_id = topic_ref.id if topic_ref else None
        now = self._clock.now()
        # Read only for the reply ("what changed"); the upsert itself decides created vs updated atomically.
        previous = await self._subscriptions.get(channel_id, topic_id)
        outcome = await self._subscriptions.upsert(
            guild_id=guild_id,
            channel_id=channel_id,
            kind=channel_kind,
            topic_id=topic_id,
            min_heat=DEFAULT_MIN_HEAT if min_heat is None else min_heat,
            # "quality >= 0" would silently drop every story whose quality the publisher left out, which no one
            # asks for: 0 means no quality filter, like leaving it out on a new subscription.
            min_quality=min_quality or None,
            now=now,
            keep_min_heat=min_heat is None,
            keep_min_quality=min_quality is None,
        )
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
        )
        deduping = pinging = None
        if self._living is not None:
            # Left out: as it was (dedupe on, no pings for a channel that never said otherwise).
            deduping = await self._living.set_dedupe(channel_id, dedupe)
            pinging = await self._living.set_ping_heat(channel_id, ping_heat)
        return AddResult(
            record, outcome.created, backfilled, None if outcome.created else previous, deduping, pinging
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
        return GuildAlerts(await self._channels.guild_paused(guild_id), tuple(subs))

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
        """Resume the guild or one channel (also clears a channel's failures and auto-pause)."""
        now = self._clock.now()
        channels = await self._channels.for_guild(guild_id)
        if channel_id is None:
            changed = await self._channels.set_guild_paused(guild_id, False, now)
            still = tuple(c for c in channels if c.paused_at is not None)
            return PauseResult("guild", changed, sum(c.queued for c in channels), still)
        channel = self._channel(channels, channel_id)
        changed = await self._channels.set_channel_paused(guild_id, channel_id, False, now)
        return PauseResult("channel", changed, channel.queued)

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

    async def tick(self, poster: Poster) -> TickReport:
        """Queue new crossings, then post up to max_posts_per_tick per channel, hottest first."""
        now = self._clock.now()
        stale = await self._ledger.requeue_stale_claims(now - STALE_CLAIM, now)
        if stale:
            log.warning("%d alert claims from an interrupted tick went back to the queue", stale)
        queued = await self._ledger.enqueue_due(now)
        batch = await self._ledger.next_batch(now, self._max_posts)
        tally = _Tally(TickReport(queued=queued))
        by_channel: dict[int, list[DueItem]] = {}
        for item in batch:
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

        await asyncio.gather(*(serve(items) for items in by_channel.values()))
        await self._crossposts.prune(self._clock.now() - CROSSPOST_WINDOW)
        if self._living is not None:
            tally.add(TickReport(edited=(await self._living.edit_pass(poster)).edited))
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
                if roles and self._living is not None:
                    message_id = await poster.send(item.channel_id, story, ping_roles=roles)
                    await self._living.pinged(item.channel_id, roles)
                else:
                    message_id = await poster.send(item.channel_id, story)
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
        tally.add(TickReport(sent=1, found_existing=int(existing), sent_ids=((item.channel_id, item.story_id),)))
        if item.kind == "announcement":
            await self._crosspost(poster, item.channel_id, message_id, tally)
        return True

    async def _failed(self, item: DueItem, exc: DeliveryFailed, tally: _Tally) -> bool:
        now = self._clock.now()
        if exc.story_only:
            log.warning("channel %d rejected story %d for good: %s", item.channel_id, item.story_id, exc.reason)
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
            )
        else:
            tally.add(TickReport(retrying=1))
            log.info("alert to channel %d will be retried in %s: %s", item.channel_id, delay, exc.reason)
        if outcome.auto_paused:
            tally.add(TickReport(auto_paused=(item.channel_id,)))
            log.warning("channel %d paused automatically after repeated failures: %s", item.channel_id, exc.reason)
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

    async def recover(self, poster: Poster) -> RecoveryReport:
        """Resolve claims left by a crash: mark sent when the message exists, else queue the story again."""
        found_existing = requeued = 0
        for item in await self._ledger.claimed():
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
                found_existing += 1
            else:
                await self._ledger.release_claim(item.story_id, item.channel_id, now)
                requeued += 1
        if found_existing or requeued:
            log.info("alert recovery: %d already posted, %d queued again", found_existing, requeued)
        return RecoveryReport(found_existing, requeued)


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
