"""The /alerts replies (add, list, remove, pause, resume, quiet, preview, log), written once for Discord and the
console, and the alerts log's line for each change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.render.message import (
    ChannelRef,
    Code,
    Entry,
    Line,
    Link,
    Moment,
    Reply,
    Span,
    Strong,
    Untrusted,
    UserRef,
    joined,
    reply,
)
from bot.render.threads import threads_added_text, threads_entries
from db.models import QuietHours

if TYPE_CHECKING:
    from bot.services.alerts import AddResult, GuildAlerts, PauseResult, Preview, PreviewItem, SubscriptionRecord
    from db.models import LogChannelRecord

_TITLE = 120  # a story title's share of a list line


def heat_rule(min_heat: int, percentile: int | None) -> str:
    """'heat ≥ 80', or for a topic-relative line 'heat ≥ 112 (top 10% of the last 30 days)': the rule and today's
    number."""
    if percentile is None:
        return f"heat ≥ {min_heat}"
    return f"heat ≥ {min_heat} (top {percentile}% of the last 30 days)"


def _rule(min_heat: int, min_quality: int | None) -> str:
    return f"heat ≥ {min_heat}" + (f", quality ≥ {min_quality}" if min_quality is not None else "")


def _topic(name: str | None) -> Span:
    return Strong(Untrusted(name) if name else "every topic")


def _threshold(value: int | None) -> str:
    return "off" if value is None else str(value)


def _where(channel_id: int | None) -> Span:
    return ChannelRef(channel_id) if channel_id is not None else "this server"


def subscription_entry(sub: SubscriptionRecord) -> Entry:
    """One /alerts list entry: where, what, thresholds, last post, queue; then its state and last error."""
    parts: list[Line] = [(ChannelRef(sub.channel_id),), (_topic(sub.topic_name),)]
    parts.append((heat_rule(sub.min_heat, sub.heat_percentile),))
    if sub.min_quality is not None:
        parts.append((f"quality ≥ {sub.min_quality}",))
    parts.append(("last post ", Moment(sub.last_post_at)))
    if sub.queued:
        parts.append((f"{sub.queued} queued",))
    details: list[Line] = []
    if sub.auto_paused_reason:
        details.append(("⏸ paused automatically after repeated failures: ", Untrusted(sub.auto_paused_reason)))
    elif sub.channel_paused_at is not None:
        details.append(("⏸ paused",))
    elif sub.failure_count:
        details.append((f"⚠ failing ({sub.failure_count}×): ", Untrusted(sub.last_error or "?")))
    if sub.last_error and not sub.failure_count and not sub.auto_paused_reason:
        details.append(("last error ", Moment(sub.last_error_at), ": ", Untrusted(sub.last_error)))
    return Entry(joined(parts), tuple(details))


def quiet_label(window: QuietHours) -> str:
    """'22:00–07:00 Europe/Berlin, breaking ≥ 150'."""
    start, end = divmod(window.start_minute, 60), divmod(window.end_minute, 60)
    text = f"{start[0]:02d}:{start[1]:02d}–{end[0]:02d}:{end[1]:02d} {window.timezone}"
    return text + (f", breaking ≥ {window.breaking}" if window.breaking is not None else ", nothing breaks through")


def listing(alerts: GuildAlerts, quiet: Sequence[QuietHours] = ()) -> Reply:
    """/alerts list: every subscription, then each channel's quiet hours."""
    if not alerts.subscriptions:
        return reply(("No alerts in this server yet. Add one with ", Code("/alerts add"), "."))
    heading: list[Line] = []
    if alerts.guild_paused:
        heading.append(
            (Strong("⏸ Alerts are paused for the whole server"), " (", Code("/alerts resume"), " to restart).")
        )
    entries = [subscription_entry(s) for s in alerts.subscriptions]
    entries += [Entry(("🌙 ", ChannelRef(q.channel_id), f" quiet {quiet_label(q)}")) for q in quiet]
    entries += threads_entries(alerts.threads)
    return reply(*heading, entries=entries)


def added(result: AddResult, channel_id: int) -> Reply:
    """/alerts add: the subscription's thresholds now and, on a re-add, what changed."""
    sub = result.subscription
    what: Line = ("stories on ", _topic(sub.topic_name)) if sub.topic_name else ("stories on every topic",)
    quality = f"quality ≥ {sub.min_quality}" if sub.min_quality is not None else "no quality filter"
    verb = "will now get" if result.created else "now gets"
    line: list[Span] = [ChannelRef(channel_id), f" {verb} new ", *what]
    line.append(f" with {heat_rule(sub.min_heat, sub.heat_percentile)} and {quality}.")
    if result.created:
        line.append(" Stories that are already hot are not posted")
        line.append(f", except the {result.backfilled} hottest (backfill)." if result.backfilled else ".")
    else:
        changes = ", ".join(f"{c.name} {_threshold(c.before)} → {_threshold(c.after)}" for c in result.changes)
        line.append(f" Changed: {changes}." if changes else " Nothing changed.")
        if result.backfilled:
            line.append(f" {result.backfilled} more already-hot stories are queued (backfill).")
    if result.dedupe is False:
        line.append(" Every provider's story of an event is posted (dedupe off).")
    if result.ping_heat is not None:
        line.extend([f" Stories with heat ≥ {result.ping_heat} ping their topics' roles (", Code("/roles list"), ")."])
    threads = threads_added_text(result.threads, sub.channel_kind)
    if threads:
        line.append(threads)
    lines: list[Line] = [tuple(line)]
    if sub.guild_paused or sub.channel_paused_at is not None:
        lines.append(("⏸ Alerts there are paused; ", Code("/alerts resume"), " to start posting."))
    return reply(*lines)


def add_change(result: AddResult, channel_id: int) -> Line:
    """What /alerts add changed, for the alerts log."""
    sub = result.subscription
    what: Span = Strong(Untrusted(sub.topic_name)) if sub.topic_name else "every topic"
    rule = _rule(sub.min_heat, sub.min_quality)
    if result.created:
        return ("added alerts for ", what, " in ", ChannelRef(channel_id), f" ({rule})")
    changes = ", ".join(f"{c.name} {_threshold(c.before)} → {_threshold(c.after)}" for c in result.changes)
    return (
        "changed the alerts for ",
        what,
        " in ",
        ChannelRef(channel_id),
        f": {changes or 'nothing changed'} ({rule})",
    )


def removed(removed_count: int, topic: str | None, channel_id: int) -> Reply:
    """/alerts remove."""
    if topic is not None:
        return reply((ChannelRef(channel_id), " no longer gets alerts for ", Strong(Untrusted(topic)), "."))
    return reply(
        (
            f"Removed {removed_count} alert subscription(s) from ",
            ChannelRef(channel_id),
            "; nothing more will post there.",
        )
    )


def remove_change(topic: str | None, channel_id: int) -> Line:
    """What /alerts remove changed, for the alerts log."""
    if topic is not None:
        return ("removed the alerts for ", Strong(Untrusted(topic)), " from ", ChannelRef(channel_id))
    return ("removed every alert subscription of ", ChannelRef(channel_id))


def pause_change(channel_id: int | None, *, pausing: bool) -> Line:
    """What /alerts pause or resume changed, for the alerts log."""
    where: Span = ChannelRef(channel_id) if channel_id is not None else "the whole server"
    return ("paused" if pausing else "resumed", " alerts in ", where)


def paused(result: PauseResult, channel_id: int | None, *, pausing: bool) -> Reply:
    """/alerts pause or resume, saying what happens to queued and new stories."""
    where = _where(channel_id)
    if pausing:
        if not result.changed:
            return reply(("Alerts in ", where, " were already paused."))
        return reply(
            (
                "Paused alerts in ",
                where,
                f". {result.queued} stories already queued will wait and post after ",
                Code("/alerts resume"),
                "; of the stories that turn hot meanwhile, the hottest come in one message then.",
            )
        )
    if not result.changed and not result.still_paused:
        return reply(("Alerts in ", where, " were not paused."))
    line: list[Span] = ["Resumed alerts in ", where, "."]
    if result.queued:
        line.append(f" {result.queued} queued stories will post over the next few minutes, hottest first.")
    if result.catch_up:
        line.append(
            f" The {result.catch_up} hottest that turned hot meanwhile come in one “While alerts were paused” message."
        )
    lines: list[Line] = [tuple(line)]
    if result.still_paused:
        names = joined([(ChannelRef(c.channel_id),) for c in result.still_paused], ", ")
        lines.append(("Still paused on their own: ", *names, " (", Code("/alerts resume channel:"), " each)."))
    return reply(*lines)


def quiet_set(window: QuietHours, channel_id: int, per_tick: int) -> Reply:
    """/alerts quiet: the window and what happens during and after it."""
    breaking = (
        f"stories with heat ≥ {window.breaking} still post at once" if window.breaking is not None else "nothing posts"
    )
    return reply(
        (
            "Quiet hours in ",
            ChannelRef(channel_id),
            f": {quiet_label(window)}. Alerts are held meanwhile ({breaking});"
            f" when quiet hours end, one “While you were away” message brings the {per_tick} hottest held stories"
            " that still qualify, and the rest are not posted one by one.",
        )
    )


def quiet_off(was_on: bool, channel_id: int) -> Reply:
    """/alerts quiet off."""
    if was_on:
        return reply(("Quiet hours in ", ChannelRef(channel_id), " are off; held alerts post as usual."))
    return reply((ChannelRef(channel_id), " had no quiet hours."))


def _why_queued(item: PreviewItem) -> Line:
    """Which subscription queued a story and how: ' · for **AI** (backfill)', or nothing when the ledger cannot say."""
    if item.queued_for is None:
        return ()
    how = {"crossing": f" (crossed heat {item.queued_for.min_heat})", "backfill": " (backfill)", None: ""}
    return (" · for ", _topic(item.queued_for.topic_name), how[item.queued_by])


def preview(result: Preview, channel_id: int, per_tick: int) -> Reply:
    """/alerts preview: the queue in posting order with why each story is there, then what a backfill would add,
    when one was asked for."""
    heading: list[Line] = [("What ", ChannelRef(channel_id), " would post next (nothing was sent):")]
    if result.paused_reason:
        heading.append(("⏸ Nothing posts until resumed: ", Untrusted(result.paused_reason), "."))
    entries: list[Entry] = []
    for number, item in enumerate(result.queued, start=1):
        when: Line
        if item.next_tick:
            when = ("next tick",)
        elif item.backing_off:
            when = ("retry ", Moment(item.not_before))
        elif result.paused_reason:
            when = ("when resumed",)
        else:
            when = (f"a later tick ({per_tick} per tick)",)
        title = Link(Untrusted(item.story.title, _TITLE), item.story.link_url, card=False)
        line: Line = (f"{number}. heat {item.story.heat} · ", title, " · ", *when, *_why_queued(item))
        if item.last_error:
            line = (*line, " · last try failed: ", Untrusted(item.last_error))
        entries.append(Entry(line))
    backfill = result.backfill
    if not result.queued:
        tail: Line = (
            (".",) if backfill is not None else (" (", Code("backfill:N"), " shows what a backfill would queue now).")
        )
        entries.append(
            Entry(("Nothing is queued. New stories crossing the threshold will post when they arrive", *tail))
        )
    if backfill is not None:
        sub = backfill.subscription
        rule = _rule(sub.min_heat, sub.min_quality)
        asked: Line = (
            Code(f"backfill:{backfill.asked}"),
            " on the ",
            _topic(sub.topic_name),
            " subscription would queue",
        )
        count = len(backfill.stories)
        if count:
            entries.append(
                Entry(
                    (
                        *asked,
                        f" {count} {'story' if count == 1 else 'stories'}: the hottest that qualify now ({rule})"
                        " and were never posted here.",
                    )
                )
            )
            entries += [
                Entry((f"• heat {s.heat} · ", Link(Untrusted(s.title, _TITLE), s.link_url, card=False)))
                for s in backfill.stories
            ]
        else:
            entries.append(
                Entry(
                    (
                        *asked,
                        f" nothing: no story that qualifies now ({rule}) is missing from this channel.",
                    )
                )
            )
    return reply(*heading, entries=entries)


def log_set(channel_id: int) -> Reply:
    """/alerts log channel: once a channel is set."""
    return reply(
        (
            "Problems and changes of this server's alerts now go to ",
            ChannelRef(channel_id),
            ": a channel failing"
            " (deleted, a missing permission), paused after repeated failures, or posting again, and who changed which"
            " alerts. Each problem is told at most once an hour; nothing is posted while all is well. ",
            Code("/alerts log off:True"),
            " stops it.",
        )
    )


def log_off(was_on: bool) -> Reply:
    """/alerts log off:True."""
    if was_on:
        return reply(("The alerts log is off. Failing channels still show in ", Code("/alerts list"), "."))
    return reply(("There was no alerts log to turn off.",))


def log_current(current: LogChannelRecord | None) -> Reply:
    """/alerts log without options: where the log goes."""
    if current is None:
        return reply(("There is no alerts log. ", Code("/alerts log channel:"), " picks a channel for it."))
    return reply(
        (
            "The alerts log goes to ",
            ChannelRef(current.channel_id),
            " (set by ",
            UserRef(current.set_by),
            " ",
            Moment(current.set_at),
            ").",
        )
    )


def export_note() -> Reply:
    """The words with /alerts export's file."""
    return reply(
        ("This server's alerts; ", Code("/alerts import"), " reads the file back (here or in another server).")
    )


def log_change(channel_id: int) -> Line:
    """/alerts log channel, for the alerts log itself."""
    return ("made ", ChannelRef(channel_id), " the alerts log")
