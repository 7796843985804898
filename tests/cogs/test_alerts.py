"""The /alerts command group's shape and the text of its replies (the Discord round trip is in test_e2e_*)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import discord
import pytest

from bot.errors import PermissionDenied
from bot.services.alerts import AlertService, GuildAlerts, PauseResult
from cogs.alerts import (
    AlertsCog,
    _require_manager,
    describe_add,
    describe_listing,
    describe_pause,
    describe_subscription,
)
from db.models import SubscriptionRecord
from tests.support.alerts import StoryWriter

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def record(**changes: Any) -> SubscriptionRecord:
    base: dict[str, Any] = {
        "id": 1,
        "guild_id": 1,
        "channel_id": 100,
        "channel_kind": "text",
        "topic_id": None,
        "topic_name": None,
        "min_heat": 70,
        "min_quality": None,
        "cursor": 0,
        "created_at": NOW,
        "updated_at": NOW,
        "channel_paused_at": None,
        "auto_paused_reason": None,
        "failure_count": 0,
        "last_error": None,
        "last_error_at": None,
        "last_post_at": None,
        "guild_paused": False,
        "queued": 0,
    }
    base.update(changes)
    return SubscriptionRecord(**base)


def payload_of(alert_service: AlertService) -> dict[str, Any]:
    group = AlertsCog(alert_service).app_command
    assert group is not None
    tree = discord.app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    return group.to_dict(tree)


def test_alerts_group_is_guild_only_and_for_server_managers(alert_service: AlertService) -> None:
    payload = payload_of(alert_service)
    assert payload["name"] == "alerts"
    assert int(payload["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert payload["dm_permission"] is False
    names = sorted(option["name"] for option in payload["options"])
    assert names == ["add", "list", "pause", "preview", "remove", "resume"]


def test_alerts_add_offers_text_announcement_and_forum_channels(alert_service: AlertService) -> None:
    add = next(o for o in payload_of(alert_service)["options"] if o["name"] == "add")
    channel = next(o for o in add["options"] if o["name"] == "channel")
    assert set(channel["channel_types"]) >= {
        discord.ChannelType.text.value,
        discord.ChannelType.news.value,
        discord.ChannelType.forum.value,
    }
    assert all(o.get("description") for o in add["options"])


def test_require_manager_refuses_a_member_without_manage_server() -> None:
    interaction = SimpleNamespace(guild_id=5, permissions=discord.Permissions(send_messages=True))
    with pytest.raises(PermissionDenied, match="Manage Server"):
        _require_manager(cast(Any, interaction))


def test_require_manager_accepts_an_administrator() -> None:
    interaction = SimpleNamespace(guild_id=5, permissions=discord.Permissions(administrator=True))
    assert _require_manager(cast(Any, interaction)) == 5


def test_describe_subscription_shows_failing_reason() -> None:
    line = describe_subscription(record(failure_count=2, last_error="the channel no longer exists"))
    assert "failing (2×): the channel no longer exists" in line


def test_describe_subscription_shows_auto_pause_reason() -> None:
    line = describe_subscription(
        record(channel_paused_at=NOW, auto_paused_reason="the bot lacks a permission there", failure_count=5)
    )
    assert "paused automatically after repeated failures: the bot lacks a permission there" in line


def test_describe_subscription_escapes_hostile_topic_names() -> None:
    line = describe_subscription(record(topic_name="@everyone **bold**"))
    assert "**bold**" not in line.replace("\\*", "")
    assert "@everyone" not in line


def test_describe_listing_fits_in_one_message() -> None:
    subs = tuple(record(id=i, channel_id=1000 + i, topic_name=f"Topic {i}" * 5) for i in range(200))
    text = describe_listing(GuildAlerts(False, subs))
    assert len(text) <= 2000
    assert "more" in text


def test_describe_pause_explains_what_happens_to_new_stories() -> None:
    text = describe_pause(PauseResult("guild", True, 3), None, pausing=True)
    assert "3 stories already queued will wait" in text
    assert "skipped" in text


async def test_describe_add_of_a_re_add_states_the_thresholds_now_and_what_changed(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    writer.add(80, topics=["AI"])
    channel = cast(Any, SimpleNamespace(mention="<#100>"))
    added = await alert_service.add_subscription(
        guild_id=1, channel_id=100, channel_kind="text", topic="AI", min_heat=100,
    )
    assert describe_add(added, channel).startswith(
        "<#100> will now get new stories on **AI** with heat ≥ 100 and no quality filter."
    )
    again = await alert_service.add_subscription(
        guild_id=1, channel_id=100, channel_kind="text", topic="AI", min_quality=50,
    )
    text = describe_add(again, channel)
    assert text.startswith("<#100> now gets new stories on **AI** with heat ≥ 100 and quality ≥ 50.")
    assert "Changed: min_quality off → 50." in text
    cleared = await alert_service.add_subscription(
        guild_id=1, channel_id=100, channel_kind="text", topic="AI", min_quality=0,
    )
    assert "with heat ≥ 100 and no quality filter. Changed: min_quality 50 → off." in describe_add(cleared, channel)
    same = await alert_service.add_subscription(guild_id=1, channel_id=100, channel_kind="text", topic="AI")
    assert "Nothing changed." in describe_add(same, channel)


def test_alerts_add_help_says_how_to_remove_the_quality_filter(alert_service: AlertService) -> None:
    add = next(o for o in payload_of(alert_service)["options"] if o["name"] == "add")
    min_quality = next(o for o in add["options"] if o["name"] == "min_quality")
    assert "0 = no quality filter" in min_quality["description"]
