"""The lookup cog's Discord side without a network: message layout within limits, the pager's rules, and
autocompletes that never fail."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock

import discord
import pytest
from discord.ext import commands

from bot.clock import ManualClock
from bot.errors import NotFound
from bot.render import NO_MENTIONS
from bot.render.lists import LookupReply as Reply
from bot.render.lists import related_reply, search_reply, topic_reply, topics_reply, trending_reply
from bot.services.lookups import LookupService, Page
from cogs.lookups import LookupsCog, Pager, setup
from db.interfaces import Store
from tests.support.storydb import Related, Story, add_stories


@pytest.fixture
def service(store: Store, clock: ManualClock) -> LookupService:
    return LookupService(store.lookups, clock)


def message_size(reply: Reply) -> int:
    return sum(len(e) for e in reply.embeds)


def hostile_story(i: int) -> Story:
    return Story(
        f"@everyone Story {i} " + "T" * 400,
        excerpt="<@&1> **x** " * 900,
        topics=tuple(f"Topic {n} " + "y" * 50 for n in range(30)),
        url=f"https://news.example/{i}",
    )


async def test_topic_reply_header_and_one_embed_per_story(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story(f"Story {i}", heat=100 - i) for i in range(7)])
    reply = topic_reply(await service.topic("ai"))
    assert reply.content == "Topic **AI** · hottest first · 7 stories · page 1/2"
    assert [e.title for e in reply.embeds] == [f"Story {i}" for i in range(5)]


async def test_replies_with_hostile_stories_fit_one_message(service: LookupService, store: Store) -> None:
    await add_stories(store, [hostile_story(i) for i in range(6)])
    replies = [
        topic_reply(await service.topic("Topic 1 " + "y" * 50)),
        search_reply(await service.search("story")),
        trending_reply(await service.trending()),
        related_reply(await service.related("https://news.example/1")),
    ]
    for reply in replies:
        assert len(reply.embeds) <= 10
        assert message_size(reply) <= 6000
        assert len(reply.content) <= 2000
        for embed in reply.embeds:
            assert "@everyone" not in (embed.title or "") + (embed.description or "")


async def test_topics_reply_lists_names_and_counts(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story("a", topics=("AI", "**Bold**")), Story("b", topics=("AI",))])
    reply = topics_reply(await service.topics())
    description = reply.embeds[0].description or ""
    assert description.splitlines() == ["1. **AI** · 2 stories", "2. **\\*\\*Bold\\*\\*** · 1 story"]


async def test_search_reply_says_when_only_some_words_matched(service: LookupService, store: Store) -> None:
    await add_stories(store, [Story("Quantum computing")])
    assert search_reply(await service.search("quantum computing")).content.startswith("Search **quantum computing**")
    partial = search_reply(await service.search("quantum zebra"))
    assert partial.content.startswith("No story has every word of **quantum zebra**; closest matches")


async def test_related_reply_links_our_copy_and_lists_similar(service: LookupService, store: Store) -> None:
    ids = await add_stories(
        store,
        [
            Story("Delhi airport tracks passengers", related=(Related("https://b.example/x", "Airport (tech)"),)),
            Story("Airport tracking tech", url="https://b.example/x"),
            Story("Delhi passengers airport queues"),
        ],
    )
    reply = related_reply(await service.related(str(ids[0])))
    assert reply.embeds[0].title == "Delhi airport tracks passengers"
    text = reply.embeds[1].description or ""
    assert f"[Airport (tech)](https://b.example/x) · Elsewhere · our story {ids[1]}" in text
    assert "**Similar stories**" in text
    assert reply.page is None


async def test_related_reply_without_anything_related_says_so(service: LookupService, store: Store) -> None:
    ids = await add_stories(store, [Story("Lonely zebra", excerpt="Nothing like it.")])
    reply = related_reply(await service.related(str(ids[0])))
    assert reply.content == "No related or similar stories found for this one yet."
    assert len(reply.embeds) == 1


def fake_interaction(user_id: int) -> Any:
    return SimpleNamespace(
        user=SimpleNamespace(id=user_id, display_name=f"user{user_id}"),
        response=SimpleNamespace(send_message=AsyncMock(), edit_message=AsyncMock(), is_done=lambda: False),
        followup=SimpleNamespace(send=AsyncMock()),
    )


def make_page(number: int, total: int = 12) -> Page[int]:
    return Page(items=(1,), number=number, size=5, total=total)


async def test_pager_only_the_invoker_may_turn_pages() -> None:
    owner = SimpleNamespace(id=1, display_name="Ada")
    pager = Pager(owner, AsyncMock(), make_page(0))
    stranger = fake_interaction(2)
    assert await pager.interaction_check(stranger) is False
    args, kwargs = stranger.response.send_message.call_args
    assert args[0].startswith("Only Ada can page this list")
    assert kwargs["ephemeral"] is True
    assert kwargs["allowed_mentions"] is NO_MENTIONS
    assert await pager.interaction_check(fake_interaction(1)) is True


async def test_pager_turns_pages_and_updates_buttons() -> None:
    owner = SimpleNamespace(id=1, display_name="Ada")

    async def fetch(number: int) -> Reply:
        return Reply(f"content {number}", [discord.Embed(title=str(number))], make_page(number))

    pager = Pager(owner, fetch, make_page(0))
    assert (pager.previous_page.disabled, pager.next_page.disabled, pager.indicator.label) == (True, False, "page 1/3")
    interaction = fake_interaction(1)
    await pager._turn(interaction, 2)
    kwargs = interaction.response.edit_message.call_args.kwargs
    assert kwargs["content"] == "content 2"
    assert kwargs["allowed_mentions"] is NO_MENTIONS
    assert (pager.previous_page.disabled, pager.next_page.disabled, pager.indicator.label) == (False, True, "page 3/3")


async def test_pager_removes_buttons_after_timeout() -> None:
    owner = SimpleNamespace(id=1, display_name="Ada")
    pager = Pager(owner, AsyncMock(), make_page(0), timeout=0.01)
    message = SimpleNamespace(edit=AsyncMock())
    pager.message = message  # type: ignore[assignment]
    await pager.on_timeout()
    assert message.edit.call_args.kwargs["view"] is None


async def test_pager_shows_service_errors_ephemerally() -> None:
    owner = SimpleNamespace(id=1, display_name="Ada")
    pager = Pager(owner, AsyncMock(), make_page(0))
    interaction = fake_interaction(1)
    await pager.on_error(interaction, NotFound("That topic is gone."), pager.next_page)
    args, kwargs = interaction.response.send_message.call_args
    assert args[0] == "That topic is gone."
    assert kwargs["ephemeral"] is True


async def test_autocompletes_never_raise_and_stay_within_25() -> None:
    broken = SimpleNamespace(topic_choices=AsyncMock(side_effect=RuntimeError("db gone")),
                             story_choices=AsyncMock(side_effect=RuntimeError("db gone")))
    cog = LookupsCog(broken)  # type: ignore[arg-type]
    assert await cog.topic_autocomplete(fake_interaction(1), "ai") == []
    assert await cog.story_autocomplete(fake_interaction(1), "ai") == []


async def test_story_autocomplete_values_are_story_ids(service: LookupService, store: Store) -> None:
    ids = await add_stories(store, [Story(f"Quantum leap {i}") for i in range(30)])
    choices = await LookupsCog(service).story_autocomplete(fake_interaction(1), "quantum")
    assert len(choices) == 25
    assert {c.value for c in choices} <= {str(i) for i in ids}


async def test_setup_adds_every_lookup_command(service: LookupService) -> None:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    bot.services = SimpleNamespace(lookups=service)  # type: ignore[attr-defined]
    await setup(bot)
    assert sorted(c.name for c in bot.tree.get_commands()) == ["related", "search", "topic", "topics", "trending"]
    for command in bot.tree.get_commands():
        payload = command.to_dict(bot.tree)
        assert payload["description"]
        assert all(option["description"] for option in payload["options"])


async def test_setup_without_services_explains_what_is_missing() -> None:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    with pytest.raises(RuntimeError, match=r"bot\.services\.lookups"):
        await setup(bot)
