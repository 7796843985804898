"""The console and Discord say the same thing: each lookup on the sample stories, rendered both ways, carries the
same words (Discord's markdown aside), and only bot/render/ builds Discord embeds."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.ingest.pipeline import ingest_paths
from bot.render.lists import (
    LookupReply,
    related_reply,
    related_text,
    search_reply,
    search_text,
    topic_reply,
    topic_text,
    topics_reply,
    topics_text,
    trending_reply,
    trending_text,
)
from bot.services.lookups import LookupService
from db import StoreLocation
from db.interfaces import Store
from tests.conftest import PROJECT_ROOT, SEEDS_DIR

_MASKED_LINK = re.compile(r"\[(.*?)\]\(<?(.*?)>?\)")
_ESCAPE = re.compile(r"\\(.)")


def read_as_text(markdown: str) -> str:
    """What a reader sees of Discord markdown, written the console's way: bold unmarked, escapes resolved, a masked
    link as its title and address; the zero-width spaces that defuse mentions and invites are invisible."""
    text = _MASKED_LINK.sub(r"\1 · \2", markdown).replace("**", "").replace("\u200b", "")
    return _ESCAPE.sub(r"\1", text)


def content_heading(reply: LookupReply) -> str:
    """The Discord message's words without the page number (the console turns pages with next/prev)."""
    assert reply.page is not None
    return read_as_text(reply.content.removesuffix(f" · {reply.page.label}"))


def embed_lines(reply: LookupReply, index: int) -> list[str]:
    description = reply.embeds[index].description or ""
    return [read_as_text(line) for line in description.splitlines()]


@pytest.fixture
async def lookups(location: StoreLocation, store: Store, clock: ManualClock) -> LookupService:
    report = await asyncio.to_thread(
        ingest_paths, [SEEDS_DIR], location, clock=clock, max_file_bytes=1 << 20, workers=1
    )
    assert report.added >= 20
    return LookupService(store.lookups, clock)


async def test_topic_on_the_seeds_says_the_same_on_discord_and_at_the_console(lookups: LookupService) -> None:
    topics = (await lookups.topics(page=0)).page.items
    assert topics
    for topic in topics:
        for sort in ("hot", "new"):
            result = await lookups.topic(topic.name, sort=sort)
            discord_reply, console = topic_reply(result), topic_text(result)
            heading = console.splitlines()[0]
            assert heading == content_heading(discord_reply)
            assert heading.startswith(f"Topic {topic.name} · ")
            for story, embed in zip(result.page.items, discord_reply.embeds, strict=True):
                fields = {f.name: f.value for f in embed.fields}
                block = console.split(f"#{story.id} ", 1)[1].split("─" * 10, 1)[0]
                assert read_as_text(embed.title or "") in block
                assert f"heat {fields['Heat']}" in block
                assert f"quality {fields['Quality']}" in block
                assert embed.url is not None
                assert embed.url in block


async def test_topics_lists_the_same_lines_both_ways(lookups: LookupService) -> None:
    result = await lookups.topics(page=0)
    discord_reply, console = topics_reply(result), topics_text(result).splitlines()
    embed = discord_reply.embeds[0]
    assert console[0] == embed.title == "Topics"
    assert console[1:-1] == embed_lines(discord_reply, 0)
    assert console[-1] == embed.footer.text


async def test_related_on_the_seeds_lists_the_same_lines_both_ways(lookups: LookupService) -> None:
    compared = 0
    for story in (await lookups.trending(hours=720, page=0)).page.items:
        result = await lookups.related(str(story.id))
        discord_reply, console = related_reply(result), related_text(result)
        if len(discord_reply.embeds) < 2:
            assert "No related or similar stories found for this one yet." in console
            assert discord_reply.content == "No related or similar stories found for this one yet."
            continue
        lines = [line for line in embed_lines(discord_reply, 1) if line]
        console_lines = [line for line in console.split("─" * 60)[-1].splitlines()[2:] if line]
        assert console_lines == lines
        compared += 1
    assert compared >= 3


@pytest.mark.parametrize("query", ["power apps", "airport zebra", "@everyone **policy**"])
async def test_search_headings_match(lookups: LookupService, query: str) -> None:
    result = await lookups.search(query, page=0)
    discord_heading = content_heading(search_reply(result))
    console_heading = search_text(result).splitlines()[0]
    # The console quotes what was typed; Discord sets it in bold.
    assert console_heading.replace("“", "").replace("”", "") == discord_heading


async def test_trending_headings_match(lookups: LookupService) -> None:
    result = await lookups.trending(hours=720, page=0)
    assert trending_text(result).splitlines()[0] == content_heading(trending_reply(result))


def test_only_bot_render_builds_embeds() -> None:
    builders = []
    for folder in ("bot", "cogs"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            if Path("bot/render") in path.relative_to(PROJECT_ROOT).parents:
                continue
            if re.search(r"\bEmbed\(", path.read_text(encoding="utf-8")):
                builders.append(str(path.relative_to(PROJECT_ROOT)))
    assert builders == []
