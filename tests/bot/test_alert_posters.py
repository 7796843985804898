"""Posters: how Discord failures are classified, the console poster, and /alerts in the console playground."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.alert_posters import ConsolePoster, delivery_failure
from bot.console import run_console
from bot.services.alerts import AlertService
from tests.support.alerts import StoryWriter


def http_error(cls: type[discord.HTTPException], status: int, code: int, headers: dict[str, str] | None = None) -> Any:
    response = SimpleNamespace(status=status, reason="Reason", headers=headers or {})
    return cls(response, {"code": code, "message": "Something"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "permanent", "story_only", "reason"),
    [
        (http_error(discord.NotFound, 404, 10003), True, False, "no longer exists"),
        (http_error(discord.Forbidden, 403, 50013), True, False, "lacks a permission"),
        (http_error(discord.Forbidden, 403, 50001), True, False, "Missing Access"),
        (http_error(discord.HTTPException, 400, 40067), True, False, "requires a tag"),
        (http_error(discord.HTTPException, 400, 50035), True, True, "rejected the post"),
        (http_error(discord.DiscordServerError, 503, 0), False, False, "503"),
        (TimeoutError(), False, False, "timed out"),
        (OSError("reset"), False, False, "connection problem"),
    ],
)
def test_delivery_failure_classifies_discord_errors(
    error: BaseException, permanent: bool, story_only: bool, reason: str
) -> None:
    failure = delivery_failure(error)
    assert (failure.permanent, failure.story_only) == (permanent, story_only)
    assert reason in failure.reason


def test_delivery_failure_keeps_retry_after_of_a_rate_limit() -> None:
    assert delivery_failure(discord.RateLimited(42.0)).retry_after == 42.0
    limited = http_error(discord.HTTPException, 429, 0, {"Retry-After": "7.5"})
    assert delivery_failure(limited).retry_after == 7.5


async def test_console_poster_prints_the_story_and_remembers_it(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    lines: list[str] = []
    poster = ConsolePoster(lines.append)
    await alert_service.add_subscription(guild_id=0, channel_id=1, channel_kind="console")
    writer.add(130, title="Console alert headline")
    await alert_service.tick(poster)
    assert "alert in #console" in lines[0]
    assert "Console alert headline" in lines[0]


async def test_console_alerts_commands_run_the_whole_loop(alert_service: AlertService, writer: StoryWriter) -> None:
    writer.add(120, topics=["AI"], title="Already hot")
    script = "\n".join(
        [
            "/alerts add AI min_heat:80 backfill:1",
            "/alerts list",
            "/alerts preview",
            "/alerts add AI min_heat:abc",
            "/alerts pause",
            "/alerts resume",
            "/alerts remove AI",
            "/alerts list",
        ]
    )
    out = io.StringIO()
    await run_console(SimpleNamespace(alerts=alert_service, lookups=None), stdin=io.StringIO(script + "\n"), stdout=out)
    text = out.getvalue()
    assert "#console now follows AI at heat ≥ 80; 1 stories queued by backfill" in text
    assert "AI · heat ≥ 80" in text
    assert "heat 120 · Already hot · next tick" in text
    assert "min_heat must be a whole number" in text
    assert "Paused alerts in #console. 1 queued stories wait" in text
    assert "Resumed alerts in #console; 1 queued stories will post" in text
    assert "Removed 1 subscription(s)" in text
    assert "No alerts yet" in text
