"""/alerts export and import end to end: a file out of one server, a dry run and an apply in another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.clock import ManualClock
from tests.discord_standin import ChannelType, Upload
from tests.e2e.test_alerts import alerts_harness
from tests.support.polling import until

pytestmark = pytest.mark.e2e


async def test_e2e_export_then_import_into_another_server(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        desk = h.standin.add_channel(h.guild.id, "ai-desk", ChannelType.ANNOUNCEMENT)
        mod_log = h.standin.add_channel(h.guild.id, "mod-log", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news, "min_heat": 80}, user=h.admin)
        await h.invoke("alerts add", {"channel": desk, "topic": "AI", "min_heat": 60, "min_quality": 40}, user=h.admin)
        await h.invoke("alerts log", {"channel": mod_log}, user=h.admin)
        exported = await h.invoke("alerts export", user=h.admin)
        assert exported.message is not None
        [attachment] = exported.message.attachments
        data = h.standin.file_content(attachment)

        other = h.standin.add_guild("Second server")
        other_admin = h.standin.add_member(other.id, "riley", manage_guild=True)
        other_general = h.standin.add_channel(other.id, "general", ChannelType.TEXT)
        other_news = h.standin.add_channel(other.id, "news", ChannelType.TEXT)
        other_desk = h.standin.add_channel(other.id, "ai-desk", ChannelType.ANNOUNCEMENT)
        other_log = h.standin.add_channel(other.id, "mod-log", ChannelType.TEXT)
        alerts = h.services.alerts
        await until(lambda: h.bot.get_guild(other.id) is not None, 5, "the second server to reach the bot")

        async def run_import(content: bytes, **options: object) -> str:
            result = await h.standin.invoke(
                other.id, other_general.id, other_admin.id, "alerts import",
                {"file": Upload("alerts.json", content, "application/json"), **options},
            )
            assert result.ephemeral
            return result.content

        dry = await run_import(data)
        after_dry = (await alerts.list_subscriptions(other.id)).subscriptions
        applied = await run_import(data, dry_run=False)
        imported = (await alerts.list_subscriptions(other.id)).subscriptions
        told = await h.standin.wait_for_message(other_log.id)
        again = await run_import(data, dry_run=False)
        broken = await run_import(b'{"schema": "heatwave.alerts", "version": 1, "subscriptions": [{"channel": {}}]}')

    document = json.loads(data)
    assert exported.ephemeral
    assert attachment["filename"] == f"heatwave-alerts-{h.guild.id}.json"
    assert document["subscriptions"][1]["channel"] == {"id": str(desk.id), "name": "ai-desk"}
    assert document["log_channel"] == {"id": str(mod_log.id), "name": "mod-log"}
    assert "Dry run: 3 changes would be made" in dry
    assert f"+ add <#{other_desk.id}> · AI (heat ≥ 60, quality ≥ 40)" in dry
    assert after_dry == ()
    assert "Imported: 3 changes made." in applied
    assert [(s.channel_id, s.channel_kind, s.topic_name, s.min_heat, s.min_quality) for s in imported] == sorted([
        (other_news.id, "text", None, 80, None),
        (other_desk.id, "announcement", "AI", 60, 40),
    ])
    assert f"<@{other_admin.id}> imported an alerts file (alerts.json)" in told.content
    assert "nothing to change" in again
    assert "Nothing was imported:\n• subscriptions[1].channel: needs an id or a name" in broken


async def test_e2e_import_names_a_missing_permission_and_changes_nothing(tmp_path: Path, clock: ManualClock) -> None:
    file = {
        "schema": "heatwave.alerts", "version": 1,
        "subscriptions": [{"channel": {"id": "1", "name": "news"}, "topic": None, "min_heat": 70}],
    }
    async with alerts_harness(tmp_path, clock) as h:
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        h.standin.deny_bot(news.id, "send_messages")
        upload = Upload("alerts.json", json.dumps(file).encode())
        refused = await h.invoke("alerts import", {"file": upload, "dry_run": False}, user=h.admin)
        member = await h.invoke("alerts import", {"file": upload}, user=h.member)
        subscriptions = (await h.services.alerts.list_subscriptions(h.guild.id)).subscriptions

    expected = "Nothing was imported:\n• subscriptions[1]: I'm missing Send Messages, Embed Links in #news"
    assert expected in refused.content
    assert "Manage Server" in member.content
    assert subscriptions == ()
