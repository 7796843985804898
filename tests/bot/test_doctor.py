"""`heatwave doctor` against the Discord stand-in: every check, what a failure says, and the exit code."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock, SystemClock
from bot.doctor import Check, channel_permissions, doctor_command, run_checks
from bot.settings import Settings, SettingsError
from db import StoreLocation, parse_location
from tests.discord_standin import ChannelType, Perm, StandIn
from tests.e2e.harness import Harness, start_harness

pytestmark = pytest.mark.e2e  # most of these run the real bot against the stand-in first


@pytest.fixture
async def harness(tmp_path: Path, clock: ManualClock, location: StoreLocation) -> AsyncIterator[Harness]:
    async with start_harness(tmp_path, clock, location=location) as running:
        yield running


async def subscribe(h: Harness, channel_id: int) -> None:
    result = await h.invoke("alerts add", {"channel": channel_id}, user=h.admin)
    assert "will now get" in result.content


async def checks(settings: Settings) -> dict[str, Check]:
    return {c.name: c for c in await run_checks(settings, SystemClock())}


def by_prefix(found: dict[str, Check], prefix: str) -> Check:
    matches = [c for name, c in found.items() if name.startswith(prefix)]
    assert len(matches) == 1, found
    return matches[0]


async def test_doctor_all_good_passes_every_check(harness: Harness) -> None:
    news = harness.standin.add_channel(harness.guild.id, "news", ChannelType.ANNOUNCEMENT)
    forum = harness.standin.add_channel(harness.guild.id, "stories", ChannelType.FORUM)
    for channel in (harness.channel, news, forum):
        await subscribe(harness, channel.id)

    found = await checks(harness.settings)

    assert all(c.ok for c in found.values()), [c.line() for c in found.values() if not c.ok]
    assert {"store", "news folder", "token", "gateway", "slash commands", "clock"} <= set(found)
    assert by_prefix(found, "#news (announcement)").detail.startswith("the bot can view, send")
    assert by_prefix(found, "#stories (forum)").ok
    assert harness.standin.token not in "\n".join(c.line() for c in found.values())


async def test_doctor_cli_exits_0_when_all_pass_and_1_on_a_missing_permission(harness: Harness) -> None:
    await subscribe(harness, harness.channel.id)
    out = io.StringIO()

    code = await asyncio.to_thread(doctor_command, out=out, load_settings=lambda: harness.settings)

    assert code == 0, out.getvalue()
    assert all(line.startswith("✓") for line in out.getvalue().splitlines())

    harness.standin.deny_bot(harness.channel.id, "embed_links")
    out = io.StringIO()
    code = await asyncio.to_thread(doctor_command, out=out, load_settings=lambda: harness.settings)

    assert code == 1
    failed = [line for line in out.getvalue().splitlines() if line.startswith("✗")]
    assert failed == [
        "✗ #general (text) in Heatwave Test: missing Embed Links — fix: grant the bot's role Embed Links in "
        "#general (channel settings → Permissions), then `/alerts resume` if it was paused"
    ]


async def test_doctor_names_a_deleted_channel_and_how_to_remove_it(harness: Harness) -> None:
    doomed = harness.standin.add_channel(harness.guild.id, "old-news")
    await subscribe(harness, doomed.id)
    harness.standin.delete_channel(doomed.id)

    check = by_prefix(await checks(harness.settings), f"channel {doomed.id}")

    assert not check.ok
    assert "deleted" in check.detail
    assert check.fix is not None
    assert f"/alerts remove channel:{doomed.id}" in check.fix


async def test_doctor_sees_a_channel_the_bot_cannot_view(harness: Harness) -> None:
    hidden = harness.standin.add_channel(harness.guild.id, "hidden")
    await subscribe(harness, hidden.id)
    harness.standin.deny_bot(hidden.id, "view_channel")

    check = by_prefix(await checks(harness.settings), f"channel {hidden.id}")

    assert not check.ok
    assert check.fix is not None
    assert "View Channel" in check.fix


async def test_doctor_reports_clock_skew_from_discords_date_header(harness: Harness) -> None:
    harness.standin.clock_offset = 120.0

    check = (await checks(harness.settings))["clock"]

    assert not check.ok
    assert "s behind Discord's" in check.detail
    assert check.fix is not None
    assert "NTP" in check.fix


async def test_doctor_with_a_rejected_token_skips_what_needs_it(harness: Harness) -> None:
    settings = dataclasses.replace(harness.settings, discord_token="not-the-token")

    found = await checks(settings)

    assert not found["token"].ok
    assert "rejected" in found["token"].detail
    assert "not-the-token" not in "\n".join(c.line() for c in found.values())
    assert not found["gateway"].ok
    assert "not checked" in found["gateway"].detail
    assert found["store"].ok


async def test_doctor_finds_commands_that_were_never_synced(tmp_path: Path, harness: Harness) -> None:
    async with StandIn(token=harness.standin.token) as fresh:
        settings = dataclasses.replace(
            harness.settings, discord_api_base=fresh.base_url, discord_gateway_url=fresh.gateway_url
        )
        check = (await checks(settings))["slash commands"]

    assert not check.ok
    assert "missing" in check.detail
    assert "/alerts" in check.detail
    assert check.fix is not None
    assert "heatwave run" in check.fix


async def test_doctor_reports_an_unreachable_gateway(harness: Harness) -> None:
    settings = dataclasses.replace(harness.settings, discord_gateway_url="ws://127.0.0.1:9/gateway")

    check = (await checks(settings))["gateway"]

    assert not check.ok
    assert "cannot connect" in check.detail


async def test_doctor_reports_a_missing_store_and_news_folder(tmp_path: Path) -> None:
    async with StandIn() as standin:
        settings = dataclasses.replace(
            Settings(),
            store=parse_location(tmp_path / "missing.db"),
            news_dir=tmp_path / "no-news",
            discord_token=standin.token,
            discord_api_base=standin.base_url,
            discord_gateway_url=standin.gateway_url,
        )
        found = await checks(settings)

    assert not found["store"].ok
    assert "heatwave ingest" in found["store"].detail
    assert not found["news folder"].ok
    assert "HEATWAVE_NEWS_DIR" in (found["news folder"].fix or "")
    assert found["token"].ok
    assert found["gateway"].ok
    assert "not checked" in found["slash commands"].detail
    assert not (tmp_path / "missing.db").exists()


def test_doctor_a_setting_that_does_not_parse_is_a_failed_check() -> None:
    def broken() -> Settings:
        raise SettingsError("HEATWAVE_SCAN_SECONDS must be a whole number from 1 to 86400, got 'soon'")

    out = io.StringIO()
    assert doctor_command(out=out, load_settings=broken) == 1
    assert out.getvalue().startswith("✗ settings: HEATWAVE_SCAN_SECONDS must be a whole number")


def _guild(owner: str = "1", everyone: int = 0, roles: dict[str, int] | None = None) -> dict[str, object]:
    listed = [{"id": "10", "permissions": str(everyone)}] + [
        {"id": rid, "permissions": str(p)} for rid, p in (roles or {}).items()
    ]
    return {"id": "10", "owner_id": owner, "roles": listed}


def _member(*roles: str) -> dict[str, object]:
    return {"user": {"id": "7"}, "roles": list(roles)}


def test_channel_permissions_apply_overwrites_in_discords_order() -> None:
    guild = _guild(everyone=Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES, roles={"20": Perm.EMBED_LINKS})
    channel = {
        "permission_overwrites": [
            {"id": "10", "type": 0, "allow": "0", "deny": str(Perm.SEND_MESSAGES)},  # @everyone: no sending
            {"id": "20", "type": 0, "allow": str(Perm.SEND_MESSAGES), "deny": "0"},  # the role may again
            {"id": "7", "type": 1, "allow": "0", "deny": str(Perm.EMBED_LINKS)},  # but this member no embeds
        ]
    }

    perms = channel_permissions(guild, _member("20"), channel)

    assert perms & Perm.SEND_MESSAGES
    assert perms & Perm.VIEW_CHANNEL
    assert not perms & Perm.EMBED_LINKS


def test_channel_permissions_owner_and_administrator_get_everything() -> None:
    deny_all = {"permission_overwrites": [{"id": "7", "type": 1, "allow": "0", "deny": str(2**40 - 1)}]}
    assert channel_permissions(_guild(owner="7"), _member(), deny_all) & Perm.SEND_MESSAGES
    admin = _guild(roles={"30": Perm.ADMINISTRATOR})
    assert channel_permissions(admin, _member("30"), deny_all) & Perm.SEND_MESSAGES


def test_doctor_clock_within_tolerance_passes() -> None:
    from bot.doctor import _check_clock

    clock = ManualClock(SystemClock().now())
    assert _check_clock(clock.now() - timedelta(seconds=3), clock).ok
    assert not _check_clock(clock.now() + timedelta(seconds=60), clock).ok


async def test_doctor_checks_every_source_of_the_settings_file(tmp_path: Path) -> None:
    from bot.sources import FolderSource, GitSource
    from tests.support.git_repos import Origin

    origin = Origin(tmp_path / "publisher")
    origin.write_story("_news/a.md", title="A story")
    head = origin.commit("first", when=datetime(2026, 11, 1, tzinfo=UTC))
    (tmp_path / "drop").mkdir()
    async with StandIn() as standin:
        settings = dataclasses.replace(
            Settings(),
            store=parse_location(tmp_path / "missing.db"),
            news_dir=tmp_path / "drop",
            sources=(
                FolderSource(tmp_path / "drop"),
                FolderSource(tmp_path / "gone"),
                GitSource(url=origin.url, subdir="_news"),
                GitSource(url=origin.url, branch="nope"),
                GitSource(url=(tmp_path / "nowhere").as_uri()),
            ),
            discord_token=standin.token,
            discord_api_base=standin.base_url,
            discord_gateway_url=standin.gateway_url,
        )
        found = await checks(settings)

    assert found["news folder"].ok
    assert f"source {tmp_path / 'drop'}" not in found  # the news folder is checked once
    gone = found[f"source {tmp_path / 'gone'}"]
    assert not gone.ok
    assert "[[sources]]" in (gone.fix or "")
    assert found[f"source {origin.url}:_news"].detail == f"the repository answers (at {head[:12]})"
    assert "no branch nope" in found[f"source {origin.url}@nope"].detail
    unreachable = found[f"source {(tmp_path / 'nowhere').as_uri()}"]
    assert not unreachable.ok
    assert "cannot be read" in unreachable.detail


async def test_doctor_checks_the_thread_permissions_of_a_channel_with_threads_on(harness: Harness) -> None:
    threaded = harness.standin.add_channel(harness.guild.id, "threaded")
    reply = await harness.invoke("alerts add", {"channel": threaded.id, "threads": True}, user=harness.admin)
    assert "will now get" in reply.content, reply.content
    await subscribe(harness, harness.channel.id)
    for channel_id in (threaded.id, harness.channel.id):
        harness.standin.deny_bot(channel_id, "create_public_threads")

    found = await checks(harness.settings)

    assert by_prefix(found, "#threaded (text)").detail == "missing Create Public Threads"
    assert by_prefix(found, "#general (text)").ok  # no threads there: not needed
