"""Threads started on messages, messages in threads, forum tags and channel edits, through the real client."""

from __future__ import annotations

import discord
import pytest
from discord.ext import commands

from tests.discord_standin import ChannelType, Perm, StandIn
from tests.support.polling import until

from .conftest import World

NONE = discord.AllowedMentions.none()


def channel_of(bot: commands.Bot, channel_id: int) -> discord.abc.GuildChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel | discord.ForumChannel)
    return channel


async def test_a_message_gets_one_thread_with_its_id_and_a_second_is_160004(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    channel = channel_of(bot, world.text.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("a story", allowed_mentions=NONE)
    thread = await channel.get_partial_message(sent.id).create_thread(name="A story", auto_archive_duration=1440)
    with pytest.raises(discord.HTTPException) as again:
        await channel.get_partial_message(sent.id).create_thread(name="A story")
    in_thread = await thread.send("related", allowed_mentions=NONE)

    assert thread.id == sent.id
    assert standin.channels[thread.id].type == ChannelType.PUBLIC_THREAD
    assert (again.value.status, again.value.code) == (400, 160004)
    assert [m.id for m in standin.messages_in(thread.id)] == [in_thread.id]
    assert standin.threads_in(world.text.id)[0].parent_id == world.text.id
    standin.assert_clean()


async def test_an_announcement_channel_makes_announcement_threads_and_a_forum_none(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    news = channel_of(bot, world.news.id)
    assert isinstance(news, discord.TextChannel)
    sent = await news.send("news", allowed_mentions=NONE)
    thread = await sent.create_thread(name="News thread")
    with pytest.raises(discord.HTTPException) as forum:
        await bot.http.start_thread_with_message(world.forum.id, sent.id, name="x", auto_archive_duration=60)

    assert standin.channels[thread.id].type == ChannelType.ANNOUNCEMENT_THREAD
    assert forum.value.code == 50024


async def test_thread_permissions_are_checked(standin: StandIn, world: World, bot: commands.Bot) -> None:
    channel = channel_of(bot, world.text.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("a story", allowed_mentions=NONE)
    first = await channel.send("another", allowed_mentions=NONE)
    thread = await first.create_thread(name="Open")
    standin.deny_bot(world.text.id, "create_public_threads", "send_messages_in_threads")
    with pytest.raises(discord.Forbidden) as start:
        await channel.get_partial_message(sent.id).create_thread(name="No")
    with pytest.raises(discord.Forbidden) as post:
        await thread.send("no", allowed_mentions=NONE)

    assert (start.value.code, post.value.code) == (50013, 50013)


async def test_forum_tags_are_created_by_a_channel_edit_and_applied_to_posts(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    standin.add_forum_tags(world.forum.id, "ai")
    await until(lambda: len(getattr(bot.get_channel(world.forum.id), "available_tags", ())) == 1, 5, "the tag")
    forum = channel_of(bot, world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    with pytest.raises(discord.Forbidden):
        await forum.edit(available_tags=[*forum.available_tags, discord.ForumTag(name="Robotics")])
    standin.set_overwrite(world.forum.id, standin.bot_user.id, allow=Perm.MANAGE_CHANNELS, member=True)
    edited = await forum.edit(available_tags=[*forum.available_tags, discord.ForumTag(name="Robotics")])
    assert isinstance(edited, discord.ForumChannel)
    created = await edited.create_thread(
        name="Tagged", content="a post", applied_tags=edited.available_tags, allowed_mentions=NONE
    )
    with pytest.raises(discord.HTTPException) as too_many:
        await edited.edit(available_tags=[discord.ForumTag(name=f"t{i}") for i in range(21)])
    with pytest.raises(discord.HTTPException) as long_name:
        await edited.edit(available_tags=[discord.ForumTag(name="x" * 21)])

    assert [t.name for t in edited.available_tags] == ["ai", "Robotics"]
    assert standin.tag_names(created.thread.id) == ["ai", "Robotics"]
    assert (too_many.value.status, long_name.value.status) == (400, 400)
    assert len(standin.channels[world.forum.id].available_tags) == 2


async def test_a_post_with_a_tag_the_forum_lacks_is_refused(standin: StandIn, world: World, bot: commands.Bot) -> None:
    forum = channel_of(bot, world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    stranger = discord.ForumTag(name="elsewhere")
    stranger.id = 42
    with pytest.raises(discord.HTTPException) as caught:
        await forum.create_thread(name="x", content="y", applied_tags=[stranger], allowed_mentions=NONE)
    assert caught.value.status == 400
    assert standin.threads_in(world.forum.id) == []
