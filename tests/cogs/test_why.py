"""/why's shape: a top-level command for server managers, with story autocomplete and an alert-channel picker."""

from __future__ import annotations

from datetime import timedelta

import discord

from bot.clock import ManualClock
from bot.services.lookups import LookupService
from bot.services.why import WhyService
from cogs.why import WhyCog
from db.interfaces import Store


def test_why_is_guild_only_for_managers_with_story_autocomplete(store: Store, clock: ManualClock) -> None:
    why = WhyService(store, LookupService(store.lookups, clock), clock, posts_per_tick=5,
                     tick_interval=timedelta(minutes=1))
    [command] = WhyCog(why).get_app_commands()
    tree = discord.app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    payload = command.to_dict(tree)
    assert payload["name"] == "why"
    assert int(payload["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert payload["dm_permission"] is False
    options = {o["name"]: o for o in payload["options"]}
    assert options["story"]["autocomplete"] is True
    assert options["story"]["required"] is True
    assert set(options["channel"]["channel_types"]) >= {
        discord.ChannelType.text.value, discord.ChannelType.news.value, discord.ChannelType.forum.value
    }
