"""Digests: one scheduled message with the hottest stories of a period, delivered exactly once.

Delivery protocol (the same shape as alerts; the database is the only memory):
1. schedule: a subscription whose next due time has come gets a `queued` digest row keyed by (subscription, due
   time), and moves on to its next occurrence, in one transaction. After downtime only the latest missed
   occurrence is queued (older ones are more than one period late); it covers everything since the last digest.
2. claim (`claimed`, attempt + 1) before anything is sent; then send and record the message id (`sent`), or
   `empty` when there is nothing to report (no message).
3. A claim left by a crash is resolved at start by `recover` (look for the digest in the channel, else queue it
   again); a retry looks before it re-sends. A digest still not out when its next occurrence comes is dropped:
   it would be more than one period late.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock
from bot.errors import InvalidArgument, NotFound
from bot.schedules import EVERY, PERIOD, Every, Schedule, latest_due, load_zone, parse_at, parse_weekday, zone_choices
from bot.services.alerts import (
    CHANNEL_CONCURRENCY,
    DEFAULT_MIN_HEAT,
    AlertService,
    DeliveryFailed,
    parse_min_heat,
    retry_delay,
)
from db.interfaces import Store
from db.models import CHANNEL_KINDS, ChannelKind, DigestDelivery, DigestRecord, DigestWindow, ShardSet, StoryView

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_AT",
    "DEFAULT_TOP",
    "TOP_RANGE",
    "Digest",
    "DigestAddResult",
    "DigestItem",
    "DigestPoster",
    "DigestService",
    "DigestTickReport",
]

DEFAULT_EVERY: Every = "daily"
DEFAULT_AT = "09:00"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_TOP = 5
TOP_RANGE = (1, 10)
# Due digests handled per tick; more wait for the next tick (a minute later at most) rather than one huge tick.
DUE_PER_TICK = 20_000


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One numbered line of a digest."""

    story: StoryView
    alerted: bool  # already posted to this channel as an alert


@dataclass(frozen=True, slots=True)
class Digest:
    """One digest message: the stories first seen in [covers_from, due_at), hottest first."""

    subscription_id: int
    channel_id: int
    topic_name: str | None
    every: Every
    timezone: str
    due_at: datetime
    covers_from: datetime
    items: tuple[DigestItem, ...]

    @property
    def marker(self) -> str:
        """Names this digest in its message (the footer), so a retry or crash recovery can find it there."""
        return f"digest {self.subscription_id}/{self.due_at.strftime('%Y%m%dT%H%MZ')}"


class DigestPoster(Protocol):
    """Where digests go: Discord (bot.digest_posters.DiscordDigestPoster), the console, or a test double."""

    async def send_digest(self, channel_id: int, digest: Digest) -> int:
        """Post the digest (a forum gets a new post); return the message id or raise DeliveryFailed."""
        ...

    async def find_digest(self, channel_id: int, digest: Digest) -> int | None:
        """The id of a recent message in the channel that already carries this digest (by its marker), if any."""
        ...


@dataclass(frozen=True, slots=True)
class DigestAddResult:
    """The digest after /digest add, and whether it was new."""

    digest: DigestRecord
    created: bool

    @property
    def schedule(self) -> Schedule:
        return schedule_of(self.digest)


@dataclass(frozen=True, slots=True)
class DigestTickReport:
    """What one digest tick did."""

    scheduled: int = 0
    skipped_late: int = 0  # occurrences passed while the bot was down, older than one period (never sent)
    sent: int = 0
    found_existing: int = 0
    empty: int = 0
    retrying: int = 0
    failed: int = 0
    sent_ids: tuple[tuple[int, int], ...] = field(default=(), repr=False)  # (subscription id, message id)


def schedule_of(record: DigestRecord) -> Schedule:
    """The Schedule a stored digest follows (in UTC if its zone has since left the zone database, so one odd row
    can never stop every digest)."""
    try:
        load_zone(record.timezone)
    except InvalidArgument:
        log.warning("digest %d: unknown time zone %r; following UTC", record.id, record.timezone)
        return Schedule(record.every, record.minute, record.weekday, "UTC")
    return Schedule(record.every, record.minute, record.weekday, record.timezone)


def _label(text: str) -> str:
    return text.strip().replace("`", "'")[:80]


class DigestService:
    """/digest administration and the digest engine; no Discord types here (posters adapt)."""

    def __init__(
        self, store: Store, clock: Clock, *, alerts: AlertService, rng: random.Random | None = None
    ) -> None:
        self._digests = store.digests
        self._lookups = store.lookups
        self._lines = store.heat_lines
        self._alerts = alerts  # for topic names: one resolver, one "did you mean"
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()

    # --- administration -----------------------------------------------------------------------------------

    @staticmethod
    def timezone_choices(text: str, limit: int = 25) -> list[str]:
        """IANA zone names for autocomplete."""
        return zone_choices(text, limit)

    async def topic_choices(self, text: str, limit: int = 25) -> list[str]:
        """Topic names for autocomplete."""
        return await self._alerts.topic_choices(text, limit)

    async def add(
        self,
        *,
        guild_id: int,
        channel_id: int,
        channel_kind: ChannelKind,
        topic: str | None = None,
        every: str = DEFAULT_EVERY,
        at: str = DEFAULT_AT,
        day: str | None = None,
        timezone: str = DEFAULT_TIMEZONE,
        top: int = DEFAULT_TOP,
        min_heat: int | str = DEFAULT_MIN_HEAT,
    ) -> DigestAddResult:
        """Create the (channel, topic) digest, or replace its schedule and rules; everything is checked first,
        so bad input changes nothing."""
        if channel_kind not in CHANNEL_KINDS:
            raise InvalidArgument("Digests can go to text, announcement or forum channels only.")
        schedule = self.parse_schedule(every=every, at=at, day=day, timezone=timezone)
        if not TOP_RANGE[0] <= top <= TOP_RANGE[1]:
            raise InvalidArgument(f"top must be between {TOP_RANGE[0]} and {TOP_RANGE[1]}; nothing was changed.")
        wanted = parse_min_heat(min_heat)
        topic_ref = await self._alerts.resolve_topic(topic) if topic is not None else None
        line, basis = await self._alerts.line_for(topic_ref.id if topic_ref else None, wanted)
        now = self._clock.now()
        next_due = schedule.next_after(now)
        outcome = await self._digests.upsert(
            guild_id=guild_id,
            channel_id=channel_id,
            kind=channel_kind,
            topic_id=topic_ref.id if topic_ref else None,
            every=schedule.every,
            minute=schedule.minute,
            weekday=schedule.weekday,
            timezone=schedule.timezone,
            top=top,
            min_heat=DEFAULT_MIN_HEAT if line is None else line,
            next_due_at=next_due,
            # The first digest covers the period before it (an existing digest keeps its own start).
            covers_from=next_due - PERIOD[schedule.every],
            now=now,
        )
        await self._lines.set_rule("digest", outcome.subscription_id, wanted.percentile if wanted else None, basis, now)
        record = await self._digests.get(channel_id, topic_ref.id if topic_ref else None)
        assert record is not None
        log.info(
            "digest %s: guild %d channel %d topic %s %s top %d min_heat %d",
            "added" if outcome.created else "updated",
            guild_id,
            channel_id,
            topic_ref.name if topic_ref else "*",
            schedule.label(),
            top,
            record.min_heat,
        )
        return DigestAddResult(record, outcome.created)

    @staticmethod
    def parse_schedule(*, every: str, at: str, day: str | None, timezone: str) -> Schedule:
        """Check and combine the schedule options of /digest add."""
        kind = every.strip().casefold()
        if kind not in EVERY:
            raise InvalidArgument(f"every must be one of {', '.join(EVERY)}, not “{_label(every)}”.")
        minute = parse_at(at)
        weekday: int | None = None
        if day is not None and day.strip():
            if kind != "weekly":
                raise InvalidArgument("day only applies to weekly digests (every: weekly); leave it out otherwise.")
            weekday = parse_weekday(day)
        elif kind == "weekly":
            weekday = 0
        zone_name = timezone.strip() or DEFAULT_TIMEZONE
        load_zone(zone_name)
        every_kind: Every = "hourly" if kind == "hourly" else "weekly" if kind == "weekly" else "daily"
        return Schedule(every_kind, minute, weekday, zone_name)

    async def remove(self, *, guild_id: int, channel_id: int, topic: str | None = None) -> int:
        """Remove the (channel, topic) digest, or every digest of the channel when topic is None."""
        digests = [d for d in await self._digests.for_guild(guild_id) if d.channel_id == channel_id]
        if not digests:
            raise NotFound("That channel has no digests. /digest list shows what is set up.")
        topic_id: int | None = None
        if topic is not None:
            topic_ref = await self._alerts.resolve_topic(topic)
            if not any(d.topic_id == topic_ref.id for d in digests):
                has = ", ".join(d.topic_name or "every topic" for d in digests)
                raise NotFound(f"That channel has no {topic_ref.name} digest; it has: {has}.")
            topic_id = topic_ref.id
        return await self._digests.remove(channel_id, topic_id, every_topic=topic is None)

    async def list_digests(self, guild_id: int) -> list[DigestRecord]:
        """Every digest of the guild."""
        return await self._digests.for_guild(guild_id)

    async def preview(self, *, guild_id: int, channel_id: int, topic: str | None = None) -> tuple[DigestRecord, Digest]:
        """What the channel's next digest would say if it were sent now (nothing is sent)."""
        digests = [d for d in await self._digests.for_guild(guild_id) if d.channel_id == channel_id]
        if not digests:
            raise NotFound("That channel has no digest yet. Add one with /digest add.")
        if topic is not None:
            topic_ref = await self._alerts.resolve_topic(topic)
            digests = [d for d in digests if d.topic_id == topic_ref.id]
            if not digests:
                raise NotFound(f"That channel has no {topic_ref.name} digest.")
        elif len(digests) > 1:
            every_topic = [d for d in digests if d.topic_id is None]
            if not every_topic:
                names = ", ".join(d.topic_name or "?" for d in digests)
                raise InvalidArgument(f"That channel has several digests ({_label(names)}); add topic: to pick one.")
            digests = every_topic
        record = digests[0]
        now = self._clock.now()
        # Up to and including this moment: a story first seen as the preview is asked for is in it.
        until = now + timedelta(microseconds=1)
        window = DigestWindow(
            record.channel_id, record.topic_id, record.covers_from, until, record.min_heat, record.top
        )
        items = await self._items([window])
        digest = Digest(
            record.id, record.channel_id, record.topic_name, record.every, record.timezone, now, record.covers_from,
            items[0],
        )
        return record, digest

    async def _items(self, windows: Sequence[DigestWindow]) -> list[tuple[DigestItem, ...]]:
        picked = await self._digests.stories(windows)
        ids = sorted({p.story_id for picks in picked for p in picks})
        views = {s.id: s for s in await self._lookups.stories(ids)} if ids else {}
        return [
            tuple(DigestItem(views[p.story_id], p.alerted) for p in picks if p.story_id in views) for picks in picked
        ]

    # --- the engine ---------------------------------------------------------------------------------------

    async def tick(self, poster: DigestPoster, *, shards: ShardSet | None = None) -> DigestTickReport:
        """Queue the digests that fell due, then send every queued one whose turn has come (with `shards`: only to
        the servers on this process's shards)."""
        now = self._clock.now()
        tally = _Tally()
        for record in await self._digests.due(now, DUE_PER_TICK):
            schedule = schedule_of(record)
            due_at, following = latest_due(schedule, record.next_due_at, now)
            if due_at != record.next_due_at:
                log.info("digest %d: occurrences from %s to before %s were missed (the bot was down); sending the"
                         " latest only", record.id, record.next_due_at, due_at)
                tally.add(DigestTickReport(skipped_late=1))
            if await self._digests.schedule(
                record.id, expected_due=record.next_due_at, due_at=due_at, expires_at=following, now=now
            ):
                tally.add(DigestTickReport(scheduled=1))
        ready = await self._digests.ready(now)
        if shards is not None:
            ready = [delivery for delivery in ready if shards.owns(delivery.guild_id)]
        claimed: list[DigestDelivery] = []
        for delivery in ready:
            if now >= delivery.expires_at:
                await self._digests.mark_failed(
                    delivery.subscription_id,
                    delivery.due_at,
                    error="not delivered within its period; skipped",
                    now=now,
                )
                tally.add(DigestTickReport(failed=1))
            elif await self._digests.claim(delivery.subscription_id, delivery.due_at, now):
                claimed.append(delivery)
        if claimed:
            digests = await self._build(claimed)
            gate = asyncio.Semaphore(CHANNEL_CONCURRENCY)

            async def serve(delivery: DigestDelivery, digest: Digest) -> None:
                async with gate:
                    await self._deliver(poster, delivery, digest, tally)

            await asyncio.gather(*(serve(d, g) for d, g in zip(claimed, digests, strict=True)))
        report = tally.report
        if report.scheduled or claimed:
            log.info(
                "digest tick: %d due, %d sent, %d empty, %d retrying, %d failed",
                report.scheduled,
                report.sent,
                report.empty,
                report.retrying,
                report.failed,
            )
        return report

    async def _build(self, deliveries: Sequence[DigestDelivery]) -> list[Digest]:
        windows = [
            DigestWindow(d.channel_id, d.topic_id, d.covers_from, d.due_at, d.min_heat, d.top) for d in deliveries
        ]
        items = await self._items(windows)
        return [
            Digest(d.subscription_id, d.channel_id, d.topic_name, d.every, d.timezone, d.due_at, d.covers_from, i)
            for d, i in zip(deliveries, items, strict=True)
        ]

    async def _deliver(self, poster: DigestPoster, delivery: DigestDelivery, digest: Digest, tally: _Tally) -> None:
        key = (delivery.subscription_id, delivery.due_at)
        if not digest.items:
            await self._digests.mark_empty(*key, self._clock.now())
            tally.add(DigestTickReport(empty=1))
            return
        existing = False
        try:
            message_id: int | None = None
            if delivery.attempts > 0:
                # An earlier attempt may have reached Discord (a timeout proves nothing): look first.
                message_id = await poster.find_digest(delivery.channel_id, digest)
                existing = message_id is not None
            if message_id is None:
                message_id = await poster.send_digest(delivery.channel_id, digest)
        except DeliveryFailed as exc:
            await self._failed(delivery, exc, tally)
            return
        except asyncio.CancelledError:
            # Shutting down mid-send: the claim stays, and recovery at the next start resolves it.
            raise
        except Exception:
            log.exception("poster crashed delivering digest %d to channel %d", *key[:1], delivery.channel_id)
            await self._failed(delivery, DeliveryFailed("unexpected error while posting", permanent=False), tally)
            return
        await self._digests.mark_sent(
            *key, message_id=message_id, stories=len(digest.items), now=self._clock.now()
        )
        tally.add(
            DigestTickReport(
                sent=1, found_existing=int(existing), sent_ids=((delivery.subscription_id, message_id),)
            )
        )

    async def _failed(self, delivery: DigestDelivery, exc: DeliveryFailed, tally: _Tally) -> None:
        now = self._clock.now()
        key = (delivery.subscription_id, delivery.due_at)
        if exc.permanent or exc.story_only:
            log.warning("digest %d cannot go to channel %d: %s", key[0], delivery.channel_id, exc.reason)
            await self._digests.mark_failed(*key, error=exc.reason, now=now)
            tally.add(DigestTickReport(failed=1))
            return
        delay = retry_delay(delivery.attempts + 1, self._rng)
        if exc.retry_after is not None:
            delay = timedelta(seconds=max(exc.retry_after, 0.0))
        await self._digests.mark_retry(*key, error=exc.reason, retry_at=now + delay, now=now)
        tally.add(DigestTickReport(retrying=1))
        log.info("digest %d to channel %d will be retried in %s: %s", key[0], delivery.channel_id, delay, exc.reason)

    async def recover(self, poster: DigestPoster, *, shards: ShardSet | None = None) -> int:
        """Resolve claims left by a crash: mark sent when the message exists, else queue the digest again.
        Returns how many claims there were. With `shards`, only those of their servers (another process's claims
        may be sends in flight)."""
        left = await self._digests.claimed()
        if shards is not None:
            left = [delivery for delivery in left if shards.owns(delivery.guild_id)]
        if not left:
            return 0
        for delivery, digest in zip(left, await self._build(left), strict=True):
            now = self._clock.now()
            message_id: int | None = None
            try:
                message_id = await poster.find_digest(delivery.channel_id, digest)
            except DeliveryFailed as exc:
                log.warning("cannot check channel %d for digest %s: %s", delivery.channel_id, digest.marker, exc.reason)
            if message_id is not None:
                await self._digests.mark_sent(
                    delivery.subscription_id, delivery.due_at, message_id=message_id, stories=len(digest.items), now=now
                )
            else:
                await self._digests.release_claim(delivery.subscription_id, delivery.due_at, now)
        log.info("digest recovery: %d unfinished digests resolved", len(left))
        return len(left)


class _Tally:
    """The DigestTickReport of a tick in progress (digests are sent concurrently)."""

    __slots__ = ("report",)

    def __init__(self) -> None:
        self.report = DigestTickReport()

    def add(self, outcome: DigestTickReport) -> None:
        self.report = DigestTickReport(
            **{f.name: getattr(self.report, f.name) + getattr(outcome, f.name) for f in fields(DigestTickReport)}
        )
