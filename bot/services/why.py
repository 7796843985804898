"""`/why story: channel:`: every gate the alert engine applies to one story in one channel, in the engine's order.

The explanation is an ordered list of gate evaluators (`GATES`). Each one reads the facts gathered once into a
`WhyContext` and returns its findings as `Gate`s (a subscription gate gives one per subscription of the channel).
A feature that adds a gate to the engine (quiet hours, digests, "also covered" dedupe) adds an evaluator at its
place in `GATES`, and its facts to `WhyContext` if it needs new ones; rendering (bot.render) stays generic.
No Discord types here: the cog and the console render the same `Explanation`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.clock import Clock
from bot.errors import InvalidArgument, NotFound
from bot.schedules import in_window, load_zone
from bot.services.lookups import Choice, LookupService
from db.interfaces import Store
from db.models import (
    ChannelRecord,
    DeliveryRecord,
    DigestRecord,
    DigestWindow,
    HeatEvent,
    QuietHours,
    StoryView,
    SubscriptionRecord,
    SummaryKind,
)
from db.text import topic_key

Verdict = Literal["pass", "block", "info"]


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a posted alert is (the renderer turns it into a link where there is one)."""

    guild_id: int
    channel_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class Gate:
    """One finding: which gate, for which subscription (None: the channel as a whole), its verdict and numbers.

    `text` is plain (unescaped) text; the renderer escapes it. `message` is set on a posted story."""

    name: str
    verdict: Verdict
    text: str
    subscription: SubscriptionRecord | None = None
    message: MessageRef | None = None


@dataclass(frozen=True, slots=True)
class WhyContext:
    """Everything the gates read, gathered once."""

    story: StoryView
    guild_id: int
    channel_id: int
    subscriptions: tuple[SubscriptionRecord, ...]
    channel: ChannelRecord | None
    guild_paused: bool
    delivery: DeliveryRecord | None
    heat_events: tuple[HeatEvent, ...]
    now: datetime
    posts_per_tick: int
    tick_interval: timedelta
    quiet: QuietHours | None = None
    summary: SummaryKind | None = None  # the summary the story waits in for the channel
    dedupe: bool = True  # one post per event in the channel (living posts)
    covered_by: StoryView | None = None  # the story whose post lists this one as "also covered"
    digests: tuple[DigestFinding, ...] = ()
    carried_with: int = 0  # other stories sent in the same message (a summary), "also covered" ones aside


@dataclass(frozen=True, slots=True)
class DigestFinding:
    """One digest of the channel and where the story stands with it."""

    digest: DigestRecord
    in_window: bool  # first seen in the window of the digest's next issue
    picked: bool  # among the `top` it would hold if it went out now
    alerted: bool  # already posted to the channel as an alert (the digest marks it so)


@dataclass(frozen=True, slots=True)
class Explanation:
    """The /why answer: the story, the channel, and the gates in the engine's order."""

    story: StoryView
    channel_id: int
    gates: tuple[Gate, ...]

    @property
    def blocked_by(self) -> Gate | None:
        """The first gate that stops the story (None: nothing stops it)."""
        return next((g for g in self.gates if g.verdict == "block"), None)


GateEvaluator = Callable[[WhyContext], Awaitable[list[Gate]]]


def when(moment: datetime) -> str:
    """A time as the explanation shows it (UTC, to the minute)."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _sub_label(sub: SubscriptionRecord) -> str:
    return sub.topic_name if sub.topic_name else "every topic"


def _on_topic(story: StoryView, sub: SubscriptionRecord) -> bool:
    if sub.topic_name is None:
        return True
    wanted = topic_key(sub.topic_name)
    return any(topic_key(t) == wanted for t in story.topics)


def _qualifies(story: StoryView, sub: SubscriptionRecord) -> bool:
    return (
        _on_topic(story, sub)
        and story.heat is not None
        and story.heat >= sub.min_heat
        and (sub.min_quality is None or (story.quality is not None and story.quality >= sub.min_quality))
    )


def _crossings(events: tuple[HeatEvent, ...], line: int) -> list[HeatEvent]:
    """Heat changes that crossed `line` upward (the engine's rule: previous < line <= heat)."""
    found = []
    for e in events:
        below = e.previous_heat if e.previous_heat is not None else -1
        if e.heat is not None and e.heat >= 0 and below < line <= e.heat:
            found.append(e)
    return found


# ----- the gates, in the order the engine applies them ---------------------------------------------------------


async def topic_gate(ctx: WhyContext) -> list[Gate]:
    """Which subscriptions of the channel follow one of the story's topics."""
    gates = []
    for sub in ctx.subscriptions:
        if sub.topic_name is None:
            gates.append(Gate("topic", "pass", "every topic: any story matches", sub))
        elif _on_topic(ctx.story, sub):
            gates.append(Gate("topic", "pass", f"the story is on {sub.topic_name}", sub))
        else:
            on = ", ".join(ctx.story.topics) or "no topic"
            gates.append(Gate("topic", "block", f"the story is not on {sub.topic_name} (it is on {on})", sub))
    return gates


async def heat_gate(ctx: WhyContext) -> list[Gate]:
    """The story's heat against each matching subscription's line."""
    heat = ctx.story.heat
    gates = []
    for sub in ctx.subscriptions:
        if not _on_topic(ctx.story, sub):
            continue
        if heat is None:
            gates.append(Gate("heat", "block", f"heat unknown; the line is {sub.min_heat}", sub))
        elif heat < 0:
            gates.append(Gate("heat", "block", "heat suppressed by the publisher (-1): never posted", sub))
        elif heat >= sub.min_heat:
            gates.append(Gate("heat", "pass", f"heat {heat} ≥ line {sub.min_heat}{_rule(sub)}", sub))
        else:
            gates.append(Gate("heat", "block", f"heat {heat} < line {sub.min_heat} ({sub.min_heat - heat} short)"
                              f"{_rule(sub)}", sub))
    return gates


def _rule(sub: SubscriptionRecord) -> str:
    """How a percentile line was set (nothing for a fixed number)."""
    if sub.heat_percentile is None:
        return ""
    whose = f"{sub.topic_name}'s" if sub.topic_name else "all"
    return f" (the line is top {sub.heat_percentile}% of {whose} stories of the last 30 days: {sub.min_heat} today)"


async def quality_gate(ctx: WhyContext) -> list[Gate]:
    """The story's quality against each matching subscription's quality filter."""
    quality = ctx.story.quality
    gates = []
    for sub in ctx.subscriptions:
        if not _on_topic(ctx.story, sub):
            continue
        if sub.min_quality is None:
            gates.append(Gate("quality", "pass", "no quality filter", sub))
        elif quality is not None and quality >= sub.min_quality:
            gates.append(Gate("quality", "pass", f"quality {quality} ≥ {sub.min_quality}", sub))
        else:
            shown = "unknown" if quality is None else str(quality)
            gates.append(Gate("quality", "block", f"quality {shown} < {sub.min_quality}", sub))
    return gates


async def paused_gate(ctx: WhyContext) -> list[Gate]:
    """Whether the server or the channel is paused (stories that turn hot meanwhile are skipped)."""
    if ctx.guild_paused:
        return [Gate("paused", "block", "alerts are paused for the whole server: stories crossing now are skipped")]
    channel = ctx.channel
    if channel is not None and channel.paused_at is not None:
        why = (
            f"paused automatically after repeated failures ({channel.auto_paused_reason})"
            if channel.auto_paused_reason
            else "this channel is paused"
        )
        return [Gate("paused", "block", f"{why}: stories crossing now are skipped, queued ones wait")]
    return [Gate("paused", "pass", "not paused")]


async def subscribed_gate(ctx: WhyContext) -> list[Gate]:
    """The no-flood rule: only heat changes after a subscription was made count for it."""
    gates = []
    for sub in ctx.subscriptions:
        if not _qualifies(ctx.story, sub):
            continue
        crossings = _crossings(ctx.heat_events, sub.min_heat)
        after = [e for e in crossings if e.id > sub.cursor]
        if after:
            gates.append(
                Gate("subscribed", "pass", f"crossed {sub.min_heat} at {when(after[-1].observed_at)}, after you"
                     f" subscribed ({when(sub.created_at)})", sub)
            )
        elif ctx.delivery is not None and ctx.delivery.queued_by == "backfill":
            gates.append(Gate("subscribed", "pass", "was already hot when you subscribed; queued by backfill", sub))
        else:
            first = when(crossings[0].observed_at) if crossings else when(ctx.story.first_seen_at)
            gates.append(
                Gate("subscribed", "block", f"arrived before you subscribed: hot since {first}, subscribed"
                     f" {when(sub.created_at)} (only stories that cross the line later are posted; `backfill:`"
                     " posts already-hot ones)", sub)
            )
    return gates


def _clock_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _zone(window: QuietHours) -> str:
    """The window's zone, or UTC when it has left the zone database (as the engine does)."""
    try:
        load_zone(window.timezone)
    except InvalidArgument:
        return "UTC"
    return window.timezone


def in_force(window: QuietHours, now: datetime) -> bool:
    """Whether the quiet window holds alerts at `now`."""
    return in_window(window.start_minute, window.end_minute, _zone(window), now)


def quiet_ends(window: QuietHours, now: datetime) -> datetime:
    """When the window in force at `now` ends (its end time, local, at or after now), in UTC."""
    zone = load_zone(_zone(window))
    local = now.astimezone(zone)
    end = local.replace(hour=window.end_minute // 60, minute=window.end_minute % 60, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)  # wall-clock arithmetic: the same local time tomorrow
    return end.astimezone(now.tzinfo)


async def quiet_gate(ctx: WhyContext) -> list[Gate]:
    """Quiet hours: queued alerts are held while the window is in force; only a breaking story posts at once."""
    window = ctx.quiet
    if window is None:
        return [Gate("quiet", "pass", "no quiet hours")]
    span = f"{_clock_text(window.start_minute)}–{_clock_text(window.end_minute)} {window.timezone}"
    breaking = (
        f"stories at heat {window.breaking} or more post at once" if window.breaking is not None
        else "no breaking line: every alert waits"
    )
    if not in_force(window, ctx.now):
        return [Gate("quiet", "pass", f"quiet hours {span}, not in force now ({breaking})")]
    until = when(quiet_ends(window, ctx.now))
    heat = ctx.story.heat
    if window.breaking is not None and heat is not None and heat >= window.breaking:
        return [Gate("quiet", "pass", f"quiet until {until} ({span}), but heat {heat} ≥ breaking line"
                     f" {window.breaking}: it posts at once")]
    d = ctx.delivery
    held = d is not None and d.status in ("queued", "claimed")
    text = f"quiet until {until} ({span}; {breaking})"
    if held:
        return [Gate("quiet", "block", f"held now: {text}; the hottest held stories go out together when it ends")]
    return [Gate("quiet", "info", text)]


_SUMMARY_TEXT = {
    "away": "waits in the “while you were away” message that ends the channel's quiet hours",
    "paused": "waits in the catch-up message for what crossed while alerts here were paused",
    "rollup": "waits in a roll-up: more was queued here than three ticks can post, so the rest go out together in"
              " one message",
}


async def summary_gate(ctx: WhyContext) -> list[Gate]:
    """A story in a summary goes out in one message with others (away, paused catch-up, roll-up)."""
    if ctx.summary is None:
        return []
    return [Gate("summary", "info", _SUMMARY_TEXT[ctx.summary])]


async def dedupe_gate(ctx: WhyContext) -> list[Gate]:
    """One post per event: a story of an event the channel already posted is listed on that post instead."""
    if ctx.covered_by is not None:
        post = ctx.covered_by
        ref = None
        d = ctx.delivery
        if d is not None and d.message_id is not None:
            ref = MessageRef(ctx.guild_id, ctx.channel_id, d.message_id)
        return [Gate("dedupe", "info", f"deduplicated: listed as “also covered” on the post of “{post.title}”"
                     f" (#{post.id}), not posted on its own", message=ref)]
    if not ctx.dedupe:
        return [Gate("dedupe", "pass", "dedupe is off here: every provider's story of an event gets its own post")]
    return [Gate("dedupe", "pass", "no earlier post here covers the same event")]


async def digest_gate(ctx: WhyContext) -> list[Gate]:
    """The channel's digests, which work apart from alerts: would the next one hold the story?"""
    gates = []
    heat = ctx.story.heat
    for found in ctx.digests:
        digest = found.digest
        name = f"{digest.every} digest" + (f" on {digest.topic_name}" if digest.topic_name else "")
        due = when(digest.next_due_at)
        if digest.topic_name is not None and not any(
            topic_key(t) == topic_key(digest.topic_name) for t in ctx.story.topics
        ):
            gates.append(Gate("digest", "info", f"{name}: not on {digest.topic_name}"))
        elif not found.in_window:
            before = ctx.story.first_seen_at < digest.covers_from
            if before and digest.last_sent_at is not None:
                text = (f"{name}: first seen before the window of the next issue (from {when(digest.covers_from)}):"
                        f" the one sent {when(digest.last_sent_at)} covered its time")
            elif before:
                text = f"{name}: first seen before it started (its first issue covers from {when(digest.covers_from)})"
            else:
                text = f"{name}: first seen after the issue due {due} closes"
            gates.append(Gate("digest", "info", text))
        elif heat is None or heat < digest.min_heat:
            gates.append(Gate("digest", "info", f"{name}: heat {heat_text(heat)} < its line {digest.min_heat}"))
        elif found.picked:
            also = " (marked as already posted here)" if found.alerted else ""
            gates.append(Gate("digest", "info", f"{name}: in the issue due {due} as things stand (top {digest.top})"
                              f"{also}"))
        else:
            gates.append(Gate("digest", "info", f"{name}: not among the top {digest.top} of the issue due {due}"
                              " as things stand"))
    return gates


def heat_text(heat: int | None) -> str:
    return "unknown" if heat is None else str(heat)


def _tick_eta(ctx: WhyContext, delivery: DeliveryRecord) -> str:
    position = delivery.queue_position or 1
    ticks = math.ceil(position / ctx.posts_per_tick)
    if ctx.guild_paused or (ctx.channel is not None and ctx.channel.paused_at is not None):
        return "when alerts here are resumed"
    if delivery.next_attempt_at > ctx.now:
        return f"not before {when(delivery.next_attempt_at)} (backing off)"
    hold = delivery.channel_hold_until
    if hold is not None and hold > ctx.now:
        return f"not before {when(hold)}, when the channel's backoff after a failed send ends"
    if ticks <= 1:
        return "the next tick"
    eta = ctx.now + ctx.tick_interval * (ticks - 1)
    return f"tick {ticks} from now (about {when(eta)}, {ctx.posts_per_tick} per tick)"


async def ledger_gate(ctx: WhyContext) -> list[Gate]:
    """What the delivery ledger says: posted, queued, failed, withdrawn, or never queued and why."""
    d = ctx.delivery
    if d is None:
        wanted = [s for s in ctx.subscriptions if _qualifies(ctx.story, s)]
        if not wanted:
            return [Gate("ledger", "info", "never queued: no subscription of this channel wants it")]
        crossed = [s for s in wanted if any(e.id > s.cursor for e in _crossings(ctx.heat_events, s.min_heat))]
        if not crossed:
            return [Gate("ledger", "info", "never queued: it was already hot when the channel subscribed")]
        return [
            Gate("ledger", "block", "never queued: it crossed the line while alerts here were paused (skipped), or"
                 " the next tick has not run yet")
        ]
    if d.status == "sent":
        sent = f" at {when(d.sent_at)}" if d.sent_at else ""
        ref = MessageRef(ctx.guild_id, ctx.channel_id, d.message_id) if d.message_id is not None else None
        if ctx.covered_by is not None:
            return [Gate("ledger", "pass", f"handled{sent}: shown on the post of #{ctx.covered_by.id}", message=ref)]
        if ctx.carried_with:
            others = f"{ctx.carried_with} other {'story' if ctx.carried_with == 1 else 'stories'}"
            return [Gate("ledger", "pass", f"posted{sent} in one summary message with {others} (while you were away,"
                         " a catch-up or a roll-up)", message=ref)]
        return [Gate("ledger", "pass", f"posted{sent}", message=ref)]
    if d.status == "claimed":
        return [Gate("ledger", "info", f"being sent right now (attempt {d.attempts})")]
    if d.status == "failed":
        return [Gate("ledger", "block", f"failed: Discord refused this story ({d.last_error or 'no reason given'});"
                     " it is not retried")]
    if d.status == "withdrawn":
        return [Gate("ledger", "block", "skipped: withdrawn before its turn because it no longer qualified (cooled"
                     " below the line, suppressed, or its subscription was removed); it is queued again if it crosses"
                     " again")]
    if ctx.summary is not None:
        text = f"queued for the channel's {ctx.summary} summary; goes out {_tick_eta(ctx, d)}"
    elif ctx.quiet is not None and _held(ctx):
        text = (f"queued: number {d.queue_position} in this channel's queue, held until quiet hours end"
                f" ({when(quiet_ends(ctx.quiet, ctx.now))})")
    else:
        text = f"queued: number {d.queue_position} in this channel's queue; goes out {_tick_eta(ctx, d)}"
    if d.last_error:
        text += f"; attempt {d.attempts} failed: {d.last_error}; next retry {when(d.next_attempt_at)}"
    return [Gate("ledger", "info", text)]


def _held(ctx: WhyContext) -> bool:
    window = ctx.quiet
    if window is None or not in_force(window, ctx.now):
        return False
    heat = ctx.story.heat
    return window.breaking is None or heat is None or heat < window.breaking


# The engine's order: enqueue filters (topic, heat, quality, pauses, the subscription's cursor), then the tick's:
# quiet hours hold, summaries (away, catch-up, roll-up) carry, a living post absorbs; then the ledger. Digests run
# apart from alerts, on their own schedule.
GATES: tuple[GateEvaluator, ...] = (
    topic_gate, heat_gate, quality_gate, paused_gate, subscribed_gate, quiet_gate, summary_gate, dedupe_gate,
    ledger_gate, digest_gate,
)


class WhyService:
    """Gathers the facts about one story in one channel and runs the gates over them."""

    def __init__(
        self,
        store: Store,
        lookups: LookupService,
        clock: Clock,
        *,
        posts_per_tick: int,
        tick_interval: timedelta,
        gates: tuple[GateEvaluator, ...] = GATES,
    ) -> None:
        self._store = store
        self._lookups = lookups
        self._clock = clock
        self._posts_per_tick = posts_per_tick
        self._tick_interval = tick_interval
        self._gates = gates

    async def story_choices(self, current: str) -> list[Choice]:
        """Autocomplete for `story`: the same suggestions as /related's."""
        return await self._lookups.story_choices(current)

    async def explain(self, *, guild_id: int, channel_id: int, story: str) -> Explanation:
        """Every gate for `story` (an id, a link or title words) in the channel, in the engine's order."""
        found = await self._lookups.resolve_story(story)
        subs = tuple(s for s in await self._store.subscriptions.for_guild(guild_id) if s.channel_id == channel_id)
        if not subs:
            raise NotFound("That channel has no alerts, so nothing is posted there. /alerts list shows what is set up.")
        channel = next((c for c in await self._store.channels.for_guild(guild_id) if c.channel_id == channel_id), None)
        now = self._clock.now()
        post_story = await self._store.living.covered_by(channel_id, found.id)
        covered = None
        if post_story is not None:
            covered = next(iter(await self._store.lookups.stories([post_story])), None)
        delivery = await self._store.ledger.delivery(found.id, channel_id)
        carried = 0
        if delivery is not None and delivery.status == "sent" and delivery.message_id is not None and covered is None:
            carried = await self._store.ledger.carried_with(channel_id, delivery.message_id, found.id)
        ctx = WhyContext(
            story=found,
            guild_id=guild_id,
            channel_id=channel_id,
            subscriptions=subs,
            channel=channel,
            guild_paused=await self._store.channels.guild_paused(guild_id),
            delivery=delivery,
            heat_events=tuple(await self._store.ledger.heat_events(found.id)),
            now=now,
            posts_per_tick=self._posts_per_tick,
            tick_interval=self._tick_interval,
            quiet=next((q for q in await self._store.quiet_hours.for_guild(guild_id) if q.channel_id == channel_id),
                       None),
            summary=await self._store.summaries.kind_of(channel_id, found.id),
            dedupe=await self._store.living.dedupe(channel_id),
            covered_by=covered,
            digests=await self._digests(guild_id, channel_id, found, now),
            carried_with=carried,
        )
        gates: list[Gate] = []
        for evaluate in self._gates:
            gates.extend(await evaluate(ctx))
        return Explanation(found, channel_id, tuple(gates))

    async def _digests(
        self, guild_id: int, channel_id: int, story: StoryView, now: datetime
    ) -> tuple[DigestFinding, ...]:
        """The channel's digests, each with whether its next issue would hold the story as things stand."""
        digests = [d for d in await self._store.digests.for_guild(guild_id) if d.channel_id == channel_id]
        if not digests:
            return ()
        until = now + timedelta(microseconds=1)  # like /digest preview: a story first seen this instant counts
        windows = [DigestWindow(d.channel_id, d.topic_id, d.covers_from, until, d.min_heat, d.top) for d in digests]
        picks = await self._store.digests.stories(windows)
        found = []
        for digest, picked in zip(digests, picks, strict=True):
            pick = next((p for p in picked if p.story_id == story.id), None)
            inside = digest.covers_from <= story.first_seen_at < until
            found.append(DigestFinding(digest, inside, pick is not None, pick is not None and pick.alerted))
        return tuple(found)
