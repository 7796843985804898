"""Posters: how Discord failures are classified, the console poster, and /alerts in the console playground."""

from __future__ import annotations

import io
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.alert_posters import CONSOLE_CHANNEL_ID, ConsolePoster, delivery_failure
from bot.clock import ManualClock
from bot.console import run_console
from bot.services.alerts import AlertService
from tests.support.alerts import FakePoster, StoryWriter, permanent, transient


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
    assert "#console will now get new stories on AI with heat ≥ 80 and no quality filter. Stories that are already hot"\
        " are not posted, except the 1 hottest (backfill)." in text
    assert "#console · AI · heat ≥ 80" in text
    assert "1. heat 120 · Already hot · https://news.example/1 · next tick · for AI (backfill)" in text
    assert "min_heat takes a heat from 0 to 500 (e.g. 80) or a share of the topic's stories like top10%" in text
    assert "Paused alerts in #console. 1 stories already queued will wait and post after /alerts resume" in text
    assert "Resumed alerts in #console. 1 queued stories will post" in text
    assert "#console no longer gets alerts for AI." in text
    assert "No alerts in this server yet. Add one with /alerts add." in text


async def console(alert_service: AlertService, *commands: str) -> str:
    """What the playground prints for these commands."""
    out = io.StringIO()
    stdin = io.StringIO("\n".join(commands) + "\n")
    await run_console(SimpleNamespace(alerts=alert_service, lookups=None), stdin=stdin, stdout=out)
    return out.getvalue()


async def test_console_list_counts_on_each_subscription_only_what_it_queued(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    for heat in (100, 110, 120):
        writer.add(heat, topics=["AI"])
    text = await console(alert_service, "/alerts add", "/alerts add AI backfill:3", "/alerts list")
    assert "#console · every topic · heat ≥ 70 · last post never\n" in text
    assert "#console · AI · heat ≥ 70 · last post never · 3 queued" in text


async def test_console_preview_shows_backfill_only_when_asked(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    writer.add(130, title="Hot before anyone followed")
    writer.add(95, topics=["AI"], title="AI story from the backfill")
    plain = await console(alert_service, "/alerts add", "/alerts preview")
    assert "Nothing is queued" in plain
    assert "Hot before anyone followed" not in plain
    await console(alert_service, "/alerts add AI backfill:1")
    writer.add(90, title="Crossed the line later")
    poster.fail(CONSOLE_CHANNEL_ID, transient())
    await alert_service.tick(poster)
    queue = await console(alert_service, "/alerts preview")
    lines = {line.split(" · ")[1]: line for line in queue.splitlines() if " · " in line}
    assert " · for AI (backfill) · last try failed: " in lines["AI story from the backfill"]
    assert " · for every topic (crossed heat 70)" in lines["Crossed the line later"]
    assert "Hot before anyone followed" not in queue
    asked = await console(alert_service, "/alerts preview backfill:2")
    assert (
        "  backfill:2 on the every topic subscription would queue 1 story: the hottest that qualify now (heat ≥ 70)"
        " and were never posted here.\n  • heat 130 · Hot before anyone followed · https://" in asked
    )


async def test_console_list_drops_the_old_error_once_a_post_goes_through_after_resume(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await console(alert_service, "/alerts add")
    writer.add(90)
    poster.fail(CONSOLE_CHANNEL_ID, *[permanent("Unknown Channel") for _ in range(5)])
    for _ in range(5):
        await alert_service.tick(poster)
        clock.advance(timedelta(minutes=15))
    failing = await console(alert_service, "/alerts list", "/alerts resume")
    assert "\n  ⏸ paused automatically after repeated failures: Unknown Channel\n" in failing
    assert "Resumed alerts in #console. 1 queued stories will post" in failing
    await alert_service.tick(poster)
    healthy = await console(alert_service, "/alerts list")
    assert "every topic · heat ≥ 70 · last post 2026-11-26" in healthy
    assert "last error" not in healthy
