"""bot.client: the invite URL and the command-tree hash that decides whether a global sync is needed."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import discord
from discord import app_commands

from bot.client import INVITE_PERMISSIONS, command_tree_hash, invite_url


def _tree(*names: str, description: str = "Stories on a topic") -> app_commands.CommandTree[discord.Client]:
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(
        discord.Client(intents=discord.Intents.none())
    )
    for name in names:

        async def callback(interaction: discord.Interaction, topic: str) -> None:
            """Never run."""

        tree.add_command(app_commands.Command(name=name, description=description, callback=callback))
    return tree


def test_command_tree_hash_is_the_same_for_the_same_commands_in_any_order() -> None:
    assert command_tree_hash(_tree("topic", "search")) == command_tree_hash(_tree("search", "topic"))


def test_command_tree_hash_changes_when_a_command_is_added() -> None:
    assert command_tree_hash(_tree("topic")) != command_tree_hash(_tree("topic", "search"))


def test_command_tree_hash_changes_when_a_description_changes() -> None:
    assert command_tree_hash(_tree("topic")) != command_tree_hash(_tree("topic", description="Topic stories"))


def test_invite_url_asks_for_the_bot_and_commands_scopes_and_only_the_minimal_permissions() -> None:
    query = parse_qs(urlsplit(invite_url(1234)).query)

    assert query["client_id"] == ["1234"]
    assert query["scope"] == ["bot applications.commands"]
    granted = discord.Permissions(int(query["permissions"][0]))
    assert granted.view_channel
    assert granted.send_messages
    assert granted.embed_links
    assert granted.read_message_history
    # Exactly those four bits (discord.py lists view_channel under its alias read_messages).
    assert bin(granted.value).count("1") == 4
    assert granted == INVITE_PERMISSIONS
    assert not granted.administrator
    assert not granted.manage_messages


def test_invite_url_preselects_the_test_guild_when_one_is_configured() -> None:
    query = parse_qs(urlsplit(invite_url(1234, guild_id=555)).query)

    assert query["guild_id"] == ["555"]
