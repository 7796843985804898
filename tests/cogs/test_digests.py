"""The /digest group as Discord sees it: guild-only, for server managers, options as the issue names them."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.clock import ManualClock
from bot.services.alerts import AlertService
from bot.services.digests import DigestService
from cogs.digests import DigestCog
from db.interfaces import Store


@pytest.fixture
def payload(store: Store, clock: ManualClock, alert_service: AlertService) -> dict[str, Any]:
    group = DigestCog(DigestService(store, clock, alerts=alert_service)).app_command
    assert group is not None
    tree = discord.app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    return group.to_dict(tree)


@pytest.mark.parametrize("engine", ["sqlite"])
def test_digest_group_is_guild_only_and_for_server_managers(payload: dict[str, Any]) -> None:
    assert payload["name"] == "digest"
    assert int(payload["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert payload["dm_permission"] is False
    assert sorted(o["name"] for o in payload["options"]) == ["add", "list", "preview", "remove"]


@pytest.mark.parametrize("engine", ["sqlite"])
def test_digest_add_options_match_the_issue(payload: dict[str, Any]) -> None:
    add = next(o for o in payload["options"] if o["name"] == "add")
    options = {o["name"]: o for o in add["options"]}
    assert list(options) == ["channel", "topic", "every", "at", "day", "timezone", "top", "min_heat"]
    assert [c["value"] for c in options["every"]["choices"]] == ["hourly", "daily", "weekly"]
    assert [c["value"] for c in options["day"]["choices"]] == ["monday", "tuesday", "wednesday", "thursday", "friday",
                                                            "saturday", "sunday"]
    assert (options["top"]["min_value"], options["top"]["max_value"]) == (1, 10)
    assert options["timezone"]["autocomplete"] is True
    assert options["channel"]["required"] is True
