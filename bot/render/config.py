"""What an alerts import changes (bot.services.config_io), for /alerts import and `heatwave config import`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.render.limits import MESSAGE_CONTENT_LIMIT, clean_text, escape, truncate

if TYPE_CHECKING:
    from bot.services.config_io import ImportPlan


def _rule(values: tuple[int, int | None], percentile: int | None = None) -> str:
    heat, quality = values
    line = f"top {percentile}% ({heat} today)" if percentile is not None else str(heat)
    return f"heat ≥ {line}" + (f", quality ≥ {quality}" if quality is not None else "")


def import_plan_text(
    plan: ImportPlan, channel: Callable[[int], str], *, applied: bool, markdown: bool, how_to_apply: str
) -> str:
    """What an import changes (dry run) or changed (applied); `channel` names a channel id (<#id> or #name)."""
    show = escape if markdown else clean_text
    lines = []
    for diff in plan.subscriptions:
        topic = show(diff.topic) if diff.topic else "every topic"
        where = f"{channel(diff.channel_id)} · {topic}"
        before = None if diff.before is None else _rule(diff.before, diff.percentile_before)
        after = None if diff.after is None else _rule(diff.after, diff.percentile_after)
        if diff.action == "add" and after is not None:
            lines.append(f"+ add {where} ({after})")
        elif diff.action == "change" and before is not None and after is not None:
            lines.append(f"~ change {where}: {before} → {after}")
        elif diff.action == "remove" and before is not None:
            lines.append(f"- remove {where} ({before})")
        elif after is not None:
            lines.append(f"= keep {where} ({after})")
    if plan.log_given and plan.log_before != plan.log_after:
        log_before = channel(plan.log_before) if plan.log_before is not None else "off"
        log_after = channel(plan.log_after) if plan.log_after is not None else "off"
        lines.append(f"~ alerts log: {log_before} → {log_after}")
    for setting in plan.settings:
        what = channel(setting.channel_id) if setting.channel_id is not None else show(setting.label or "")
        where = f"{setting.section} {what}"
        if setting.before is None and setting.after is not None:
            lines.append(f"+ {where}: {show(setting.after)}")
        elif setting.after is None and setting.before is not None:
            lines.append(f"- {where} ({show(setting.before)})")
        elif setting.before is not None and setting.after is not None:
            lines.append(f"~ {where}: {show(setting.before)} → {show(setting.after)}")
    count = plan.changes
    if count == 0:
        head = "The file matches this server's alerts: nothing to change."
    elif applied:
        head = f"Imported: {count} {'change' if count == 1 else 'changes'} made."
    else:
        head = (
            f"Dry run: {count} {'change' if count == 1 else 'changes'} would be made (nothing was changed yet; "
            f"{how_to_apply} to apply)."
        )
    return truncate("\n".join([head, *lines]), MESSAGE_CONTENT_LIMIT)
