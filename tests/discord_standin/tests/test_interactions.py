"""Slash commands, autocomplete, deferrals and button clicks against a real discord.py bot."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest
from discord.ext import commands

from tests.discord_standin import NoReply, StandIn, Upload
from tests.support.polling import until

from .conftest import TOPICS, World


async def test_invoke_slash_command_answers_with_embed_in_time(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    result = await standin.invoke(world.guild.id, world.text.id, world.member.id, "echo", {"text": "hello"})
    assert result.in_time
    assert result.ack_seconds is not None
    assert result.ack_seconds < 3
    assert result.callback_type == 4
    assert not result.ephemeral
    assert result.embeds[0]["title"] == "Echo"
    assert result.embeds[0]["description"] == "hello"
    assert result.message is not None
    assert result.message.allowed_mentions == {"parse": []}
    assert standin.messages_in(world.text.id) == [result.message]
    standin.assert_clean()


async def test_invoke_ephemeral_reply_is_flagged_and_hidden_from_channel(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    result = await standin.invoke(world.guild.id, world.text.id, world.member.id, "topic", {"name": "AI"})
    assert result.ephemeral
    assert result.content == "topic AI"
    assert result.message is not None
    assert result.message.flags & 64
    assert standin.messages_in(world.text.id) == []


async def test_invoke_deferred_command_waits_for_original_edit(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    result = await standin.invoke(world.guild.id, world.text.id, world.member.id, "slow")
    assert result.deferred
    assert result.in_time
    assert result.content == "done slowly"
    assert [e.kind for e in result.record.events] == ["callback", "original_edit"]


async def test_autocomplete_returns_at_most_25_matching_choices(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    choices = await standin.autocomplete(world.guild.id, world.text.id, world.member.id, "topic", {"name": "topic"})
    assert len(choices) == 25
    assert choices[0] == {"name": TOPICS[0], "value": TOPICS[0]}
    narrowed = await standin.autocomplete(world.guild.id, world.text.id, world.member.id, "topic", {"name": "ai"})
    assert [c["value"] for c in narrowed] == ["AI", "AI safety"]
    standin.assert_clean()


async def test_click_button_by_invoker_updates_message(standin: StandIn, world: World, bot: commands.Bot) -> None:
    first = await standin.invoke(world.guild.id, world.text.id, world.member.id, "page")
    assert first.custom_ids() == ["pager:next"]
    clicked = await standin.click(first, "pager:next", world.member.id)
    assert clicked.callback_type == 7
    assert clicked.in_time
    assert clicked.content == "page 2"
    assert first.content == "page 2"  # the same message, edited in place


async def test_click_button_by_someone_else_is_refused_ephemerally(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    first = await standin.invoke(world.guild.id, world.text.id, world.member.id, "page")
    refused = await standin.click(first, "pager:next", world.admin.id)
    assert refused.callback_type == 4
    assert refused.ephemeral
    assert "Only the person" in refused.content
    assert first.content == "page 1"


async def test_invoke_subcommand_with_channel_option_sees_permissions(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    result = await standin.invoke(
        world.guild.id, world.text.id, world.admin.id, "alerts add", {"channel": world.news, "min_heat": 80}
    )
    assert result.content == f"added <#{world.news.id}> at 80; bot can post: True"
    options = result.record.payload["data"]["options"]
    assert options[0]["name"] == "add"
    assert options[0]["type"] == 1
    assert str(world.news.id) in result.record.payload["data"]["resolved"]["channels"]


async def test_invoke_member_without_manage_server_is_refused(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    result = await standin.invoke(world.guild.id, world.text.id, world.member.id, "alerts add", {"channel": world.text})
    assert result.ephemeral
    assert result.content == "You need Manage Server."


def _bot_may_not_send(bot: commands.Bot, channel_id: int) -> bool:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return not channel.permissions_for(channel.guild.me).send_messages


async def test_invoke_channel_option_reflects_denied_bot_permission(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    standin.deny_bot(world.text.id, "send_messages")
    await until(lambda: _bot_may_not_send(bot, world.text.id), 5, "CHANNEL_UPDATE to reach the bot's cache")
    result = await standin.invoke(world.guild.id, world.text.id, world.admin.id, "alerts add", {"channel": world.text})
    assert result.content.endswith("bot can post: False")


async def test_invoke_validates_options_like_the_discord_client(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    with pytest.raises(ValueError, match="min_value"):
        await standin.invoke(world.guild.id, world.text.id, world.admin.id, "alerts add",
                             {"channel": world.text, "min_heat": -1})
    with pytest.raises(LookupError, match="never synced"):
        await standin.invoke(world.guild.id, world.text.id, world.admin.id, "nope")


async def test_limit_violation_is_rejected_and_recorded(standin: StandIn, world: World, bot: commands.Bot) -> None:
    with pytest.raises(NoReply):
        await standin.invoke(world.guild.id, world.text.id, world.member.id, "big", timeout=1.0)
    assert len(standin.violations) == 1
    violation = standin.violations[0]
    assert violation.path.endswith("/callback")
    assert [p.code for p in violation.problems] == ["BASE_TYPE_MAX_LENGTH"]
    assert violation.problems[0].path == ("data", "embeds", 0, "description")
    assert standin.problems()


async def test_late_callback_misses_the_deadline(world: World, bot: commands.Bot, standin: StandIn) -> None:
    standin.interaction_deadline = 0.01

    @bot.tree.command(name="sleepy", description="Answers too late")
    async def sleepy(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.05)
        await interaction.response.send_message("late")

    await bot.tree.sync(guild=discord.Object(world.guild.id))
    bot.tree.copy_global_to(guild=discord.Object(world.guild.id))
    await bot.tree.sync(guild=discord.Object(world.guild.id))
    with pytest.raises(NoReply):
        await standin.invoke(world.guild.id, world.text.id, world.member.id, "sleepy", timeout=0.5)
    record = next(iter(standin.interactions.values()))
    assert record.late_callback
    assert any("late callback" in p for p in standin.problems())


async def test_followups_after_thinking_defer(standin: StandIn, world: World, bot: commands.Bot) -> None:
    @bot.tree.command(name="multi", description="Defers, then two followups")
    async def multi(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("first", ephemeral=True)
        await interaction.followup.send("second", ephemeral=True)

    bot.tree.copy_global_to(guild=discord.Object(world.guild.id))
    await bot.tree.sync(guild=discord.Object(world.guild.id))
    result = await standin.invoke(world.guild.id, world.text.id, world.member.id, "multi")
    await standin.wait_for(lambda: len(result.followups) == 1, 2)
    assert result.ephemeral
    assert result.content == "first"  # the first followup replaces the "thinking..." message, as on Discord
    assert [m.content for m in result.followups] == ["second"]
    assert result.followups[0].ephemeral


async def test_invoke_global_command(standin: StandIn, world: World) -> None:
    client = commands.Bot(command_prefix=commands.when_mentioned, intents=discord.Intents.default(),
                          allowed_mentions=discord.AllowedMentions.none())

    @client.tree.command(name="ping", description="Global ping")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    async with standin.running(client):
        await client.tree.sync()
        assert [c["name"] for c in standin.global_commands] == ["ping"]
        result = await standin.invoke(world.guild.id, world.text.id, world.member.id, "ping")
    assert result.content == "pong"
    assert "guild_id" not in result.record.payload["data"]


@pytest.mark.parametrize("deferred", [False, True])
async def test_attachment_option_reaches_the_bot_and_its_uploaded_file_comes_back(
    standin: StandIn, world: World, bot: commands.Bot, deferred: bool
) -> None:
    upload = Upload("notes.txt", b"hello file", "text/plain")
    result = await standin.invoke(
        world.guild.id, world.text.id, world.member.id, "reverse", {"file": upload, "deferred": deferred}
    )
    assert result.ephemeral
    assert result.content == "notes.txt: 10 bytes"
    assert result.message is not None
    [attachment] = result.message.attachments
    assert attachment["filename"] == "reversed.txt"
    assert attachment["size"] == 10
    assert standin.file_content(attachment) == b"elif olleh"
    standin.assert_clean()


async def test_upload_over_the_size_limit_is_refused(standin: StandIn, world: World, bot: commands.Bot) -> None:
    channel = bot.get_channel(world.text.id)
    assert isinstance(channel, discord.TextChannel)
    big = discord.File(io.BytesIO(b"x" * (10 * 1024 * 1024 + 1)), filename="big.bin")
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send("too big", file=big)
    assert refused.value.status == 413
    assert standin.messages_in(world.text.id) == []
