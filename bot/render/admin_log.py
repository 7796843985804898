"""The alerts log channel's messages (bot.services.admin_log): problems and changes, as plain content text."""

from __future__ import annotations

from bot.render.limits import MESSAGE_CONTENT_LIMIT, escape, truncate


def admin_log_failing(channel_id: int, reason: str, failures: int, limit: int) -> str:
    """A channel cannot take alerts (told at most once an hour)."""
    return truncate(
        f"⚠ Alerts to <#{channel_id}> are failing: {escape(reason)} (failure {failures} of {limit}; the channel "
        f"pauses itself after {limit}). Give the bot's role what it lacks there, or `/alerts remove` a channel that is "
        "gone.",
        MESSAGE_CONTENT_LIMIT,
    )


def admin_log_paused(channel_id: int, reason: str) -> str:
    """A channel paused itself after repeated failures."""
    return truncate(
        f"⏸ Alerts to <#{channel_id}> paused automatically after repeated failures: {escape(reason)}. "
        f"Fix the cause, then `/alerts resume channel:` <#{channel_id}>.",
        MESSAGE_CONTENT_LIMIT,
    )


def admin_log_recovered(channel_id: int) -> str:
    """A channel that was reported failing took a post again."""
    return f"✅ Alerts to <#{channel_id}> are posting again."


def admin_log_source_failing(source: str, reason: str, failures: int) -> str:
    """A news source (a git repository) cannot be synced (told at most once an hour)."""
    return truncate(
        f"⚠ The news source {escape(source)} is failing ({failures} in a row): {escape(reason)}. Its stories so far "
        "stay; it is retried with backoff, and `heatwave stats` on the server shows its state.",
        MESSAGE_CONTENT_LIMIT,
    )


def admin_log_source_recovered(source: str) -> str:
    """A news source that was reported failing synced again."""
    return truncate(f"✅ The news source {escape(source)} is syncing again.", MESSAGE_CONTENT_LIMIT)


def admin_log_change(actor_id: int, what: str) -> str:
    """Someone changed the alerts (`what` is already rendered and escaped)."""
    return truncate(f"🛠 <@{actor_id}> {what}", MESSAGE_CONTENT_LIMIT)
