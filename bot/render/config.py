"""What an alerts import changes (bot.services.config_io), for /alerts import and `heatwave config import`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.render.message import ChannelRef, Code, Entry, Line, Reply, Span, Untrusted, reply

if TYPE_CHECKING:
    from bot.services.config_io import ImportPlan


def _rule(values: tuple[int, int | None], percentile: int | None = None) -> str:
    heat, quality = values
    line = f"top {percentile}% ({heat} today)" if percentile is not None else str(heat)
    return f"heat ≥ {line}" + (f", quality ≥ {quality}" if quality is not None else "")


# How /alerts import is told to apply what a dry run showed.
RERUN_TO_APPLY: Line = ("run it again with ", Code("dry_run:False"))


def import_plan(plan: ImportPlan, *, applied: bool, how_to_apply: Line = ()) -> Reply:
    """What an import changes (dry run) or changed (applied): one line per change, `+ add`, `~ change`, `- remove`."""
    entries: list[Entry] = []
    for diff in plan.subscriptions:
        topic: Span = Untrusted(diff.topic) if diff.topic else "every topic"
        where: Line = (ChannelRef(diff.channel_id), " · ", topic)
        before = None if diff.before is None else _rule(diff.before, diff.percentile_before)
        after = None if diff.after is None else _rule(diff.after, diff.percentile_after)
        if diff.action == "add" and after is not None:
            entries.append(Entry(("+ add ", *where, f" ({after})")))
        elif diff.action == "change" and before is not None and after is not None:
            entries.append(Entry(("~ change ", *where, f": {before} → {after}")))
        elif diff.action == "remove" and before is not None:
            entries.append(Entry(("- remove ", *where, f" ({before})")))
        elif after is not None:
            entries.append(Entry(("= keep ", *where, f" ({after})")))
    if plan.log_given and plan.log_before != plan.log_after:
        log_before: Span = ChannelRef(plan.log_before) if plan.log_before is not None else "off"
        log_after: Span = ChannelRef(plan.log_after) if plan.log_after is not None else "off"
        entries.append(Entry(("~ alerts log: ", log_before, " → ", log_after)))
    for setting in plan.settings:
        what: Span = (
            ChannelRef(setting.channel_id) if setting.channel_id is not None else Untrusted(setting.label or "")
        )
        where = (f"{setting.section} ", what)
        if setting.before is None and setting.after is not None:
            entries.append(Entry(("+ ", *where, ": ", Untrusted(setting.after))))
        elif setting.after is None and setting.before is not None:
            entries.append(Entry(("- ", *where, " (", Untrusted(setting.before), ")")))
        elif setting.before is not None and setting.after is not None:
            entries.append(Entry(("~ ", *where, ": ", Untrusted(setting.before), " → ", Untrusted(setting.after))))
    count = plan.changes
    changes = "change" if count == 1 else "changes"
    head: Line
    if count == 0:
        head = ("The file matches this server's alerts: nothing to change.",)
    elif applied:
        head = (f"Imported: {count} {changes} made.",)
    else:
        head = (f"Dry run: {count} {changes} would be made (nothing was changed yet; ", *how_to_apply, " to apply).")
    return reply(head, entries=entries)
