"""Channel messages, permissions, history, crossposting and forum posts, sent by the real client."""

from __future__ import annotations

import io

import discord
import pytest
from discord.ext import commands

from tests.discord_standin import StandIn

from .conftest import World

NONE = discord.AllowedMentions.none()


def text_channel(bot: commands.Bot, channel_id: int) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_send_records_message_with_allowed_mentions_and_no_pings(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    role_id = world.guild.id + 1
    sent = await text_channel(bot, world.text.id).send(f"@everyone <@&{role_id}> <@{world.member.id}> hi",
                                                       allowed_mentions=NONE)
    stored = await standin.wait_for_message(world.text.id, lambda m: "hi" in m.content)
    assert stored.id == sent.id
    assert stored.allowed_mentions == {"parse": []}
    assert stored.pings() == set()
    assert not sent.mention_everyone
    standin.assert_clean()


async def test_send_without_allowed_mentions_is_rejected(standin: StandIn, world: World) -> None:
    with standin.patch_discord():
        client = discord.Client(intents=discord.Intents.none())
        await client.login(standin.token)
        try:
            channel = await client.fetch_channel(world.text.id)
            assert isinstance(channel, discord.TextChannel)
            with pytest.raises(discord.HTTPException) as caught:
                await channel.send("@everyone look")
        finally:
            await client.close()
    assert caught.value.status == 400
    assert standin.violations[0].problems[0].code == "HEATWAVE_ALLOWED_MENTIONS_REQUIRED"


async def test_send_to_channel_denying_send_messages_is_forbidden(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    standin.deny_bot(world.text.id, "send_messages")
    with pytest.raises(discord.Forbidden) as caught:
        await text_channel(bot, world.text.id).send("hello", allowed_mentions=NONE)
    assert caught.value.code == 50013
    assert standin.messages_in(world.text.id) == []


async def test_send_embed_without_embed_links_is_forbidden(standin: StandIn, world: World, bot: commands.Bot) -> None:
    standin.deny_bot(world.text.id, "embed_links")
    channel = text_channel(bot, world.text.id)
    with pytest.raises(discord.Forbidden):
        await channel.send(embed=discord.Embed(title="story"), allowed_mentions=NONE)
    await channel.send("plain text still works", allowed_mentions=NONE)


async def test_send_to_hidden_channel_is_missing_access(standin: StandIn, world: World, bot: commands.Bot) -> None:
    standin.deny_bot(world.text.id, "view_channel")
    with pytest.raises(discord.Forbidden) as caught:
        await bot.http.send_message(world.text.id, params=_params("hi"))
    assert caught.value.code == 50001


async def test_send_to_deleted_channel_is_unknown_channel(standin: StandIn, world: World, bot: commands.Bot) -> None:
    standin.delete_channel(world.text.id)
    with pytest.raises(discord.NotFound) as caught:
        await bot.http.send_message(world.text.id, params=_params("hi"))
    assert caught.value.code == 10003


def _params(content: str) -> discord.http.MultipartParameters:
    return discord.http.handle_message_parameters(content=content, allowed_mentions=NONE)


async def test_history_supports_limit_and_before(standin: StandIn, world: World, bot: commands.Bot) -> None:
    channel = text_channel(bot, world.text.id)
    sent = [await channel.send(f"story {i} https://example.com/{i}", allowed_mentions=NONE) for i in range(5)]
    recent = [m.id async for m in channel.history(limit=3)]
    assert recent == [m.id for m in reversed(sent[2:])]
    older = [m.id async for m in channel.history(limit=10, before=sent[2])]
    assert older == [sent[1].id, sent[0].id]


async def test_crosspost_in_announcement_channel_is_limited_to_ten_per_hour(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    bot.http.max_ratelimit_timeout = 30.0  # a real bot sets this so an hour-long 429 raises instead of sleeping
    news = bot.get_channel(world.news.id)
    assert isinstance(news, discord.TextChannel)
    assert news.is_news()
    for i in range(10):
        message = await news.send(f"alert {i}", allowed_mentions=NONE)
        await message.publish()
    assert sum(m.crossposted for m in standin.messages_in(world.news.id)) == 10
    eleventh = await news.send("alert 10", allowed_mentions=NONE)
    with pytest.raises(discord.RateLimited) as caught:
        await eleventh.publish()
    assert caught.value.retry_after > 3000


async def test_crosspost_outside_announcement_channel_fails(standin: StandIn, world: World, bot: commands.Bot) -> None:
    message = await text_channel(bot, world.text.id).send("hi", allowed_mentions=NONE)
    with pytest.raises(discord.HTTPException) as caught:
        await message.publish()
    assert caught.value.status == 400


async def test_forum_post_creates_thread_with_starter_message(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    forum = bot.get_channel(world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    created = await forum.create_thread(name="A story title", embed=discord.Embed(title="Story"),
                                        allowed_mentions=NONE)
    assert created.thread.name == "A story title"
    [thread] = standin.threads_in(world.forum.id)
    assert thread.id == created.thread.id
    [starter] = standin.messages_in(thread.id)
    assert starter.id == thread.id == created.message.id
    assert starter.embeds[0]["title"] == "Story"
    active = await bot.get_guild(world.guild.id).active_threads()  # type: ignore[union-attr]
    assert [t.id for t in active] == [thread.id]
    standin.assert_clean()


async def test_forum_post_title_over_100_characters_is_rejected(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    forum = bot.get_channel(world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    with pytest.raises(discord.HTTPException) as caught:
        await forum.create_thread(name="x" * 101, content="body", allowed_mentions=NONE)
    assert caught.value.status == 400
    assert standin.violations[0].problems[0].path == ("name",)


async def test_send_file_upload_is_parsed_from_multipart(standin: StandIn, world: World, bot: commands.Bot) -> None:
    file = discord.File(io.BytesIO(b"hello"), filename="note.txt")
    await text_channel(bot, world.text.id).send("with a file", file=file, allowed_mentions=NONE)
    stored = await standin.wait_for_message(world.text.id)
    assert stored.content == "with a file"
    assert stored.sent["attachments"][0]["filename"] == "note.txt"
    standin.assert_clean()


async def test_bot_edits_its_own_message_in_place(standin: StandIn, world: World, bot: commands.Bot) -> None:
    sent = await text_channel(bot, world.text.id).send(embed=discord.Embed(title="heat 80"), allowed_mentions=NONE)
    edited = await bot.get_partial_messageable(world.text.id).get_partial_message(sent.id).edit(
        embed=discord.Embed(title="heat 104"), allowed_mentions=NONE
    )
    [stored] = standin.messages_in(world.text.id)
    assert stored.id == sent.id == edited.id
    assert stored.embeds[0]["title"] == "heat 104"
    assert stored.edits == 1
    assert stored.data["edited_timestamp"] is not None
    assert edited.edited_at is not None
    standin.assert_clean()


async def test_edit_of_a_deleted_message_is_unknown_message(standin: StandIn, world: World, bot: commands.Bot) -> None:
    sent = await text_channel(bot, world.text.id).send("soon gone", allowed_mentions=NONE)
    await sent.delete()
    with pytest.raises(discord.NotFound) as caught:
        await bot.get_partial_messageable(world.text.id).get_partial_message(sent.id).edit(
            content="too late", allowed_mentions=NONE
        )
    assert caught.value.code == 10008


async def test_edit_in_a_deleted_channel_is_unknown_channel(standin: StandIn, world: World, bot: commands.Bot) -> None:
    sent = await text_channel(bot, world.text.id).send("hello", allowed_mentions=NONE)
    standin.delete_channel(world.text.id)
    with pytest.raises(discord.NotFound) as caught:
        await bot.get_partial_messageable(world.text.id).get_partial_message(sent.id).edit(
            content="bye", allowed_mentions=NONE
        )
    assert caught.value.code == 10003


async def test_edit_through_the_wrong_channel_is_unknown_message(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    sent = await text_channel(bot, world.text.id).send("hello", allowed_mentions=NONE)
    with pytest.raises(discord.NotFound) as caught:
        await bot.get_partial_messageable(world.news.id).get_partial_message(sent.id).edit(
            content="bye", allowed_mentions=NONE
        )
    assert caught.value.code == 10008


async def test_forum_post_starter_message_is_edited_through_its_thread(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    forum = bot.get_channel(world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    created = await forum.create_thread(name="A story", embed=discord.Embed(title="heat 80"), allowed_mentions=NONE)
    await bot.get_partial_messageable(created.thread.id).get_partial_message(created.message.id).edit(
        embed=discord.Embed(title="heat 120"), allowed_mentions=NONE
    )
    [starter] = standin.messages_in(created.thread.id)
    assert starter.embeds[0]["title"] == "heat 120"
    standin.assert_clean()


async def test_edit_over_discord_limits_is_rejected_and_the_message_kept(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    sent = await text_channel(bot, world.text.id).send(embed=discord.Embed(title="ok"), allowed_mentions=NONE)
    with pytest.raises(discord.HTTPException) as caught:
        await sent.edit(embed=discord.Embed(title="x" * 257), allowed_mentions=NONE)
    assert caught.value.status == 400
    assert standin.messages_in(world.text.id)[0].embeds[0]["title"] == "ok"
