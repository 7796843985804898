"""Discord's own rate limits, as `StandIn(**DISCORD_RATE_LIMITS)` models them: the global 50/s of a bot token and the
5-per-5-s message bucket of each channel, each answered as Discord answers it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest

from tests.discord_standin import DISCORD_RATE_LIMITS, ChannelType, StandIn
from tests.discord_standin.model import Channel, Guild

NONE = discord.AllowedMentions.none()


@pytest.fixture
async def limited() -> AsyncIterator[StandIn]:
    async with StandIn(heartbeat_interval=0.25, **DISCORD_RATE_LIMITS) as server:
        yield server


def _world(standin: StandIn, channels: int) -> tuple[Guild, list[Channel]]:
    guild = standin.add_guild("Limits")
    return guild, [standin.add_channel(guild.id, f"c{i}", ChannelType.TEXT) for i in range(channels)]


async def _post(session: aiohttp.ClientSession, standin: StandIn, channel_id: int) -> tuple[int, Any, Any]:
    async with session.post(
        f"{standin.base_url}/channels/{channel_id}/messages",
        json={"content": "hi", "allowed_mentions": {"parse": []}},
        headers={"Authorization": f"Bot {standin.token}"},
    ) as response:
        return response.status, response.headers, await response.json()


async def test_a_channel_takes_five_messages_per_five_seconds_then_answers_429_with_the_real_wait(
    limited: StandIn,
) -> None:
    _, (first, second) = _world(limited, 2)
    async with aiohttp.ClientSession() as session:
        answers = [await _post(session, limited, first.id) for _ in range(6)]
        other = await _post(session, limited, second.id)

    statuses = [status for status, _, _ in answers]
    assert statuses == [200, 200, 200, 200, 200, 429]
    assert [h["X-RateLimit-Remaining"] for _, h, _ in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert {h["X-RateLimit-Limit"] for _, h, _ in answers[:5]} == {"5"}
    _, headers, body = answers[5]
    assert body["global"] is False
    assert 4.0 < body["retry_after"] <= 5.0
    assert headers["X-RateLimit-Scope"] == "user"
    assert "X-RateLimit-Global" not in headers
    # Another channel has a bucket of its own, reported under the same route hash (as Discord does).
    assert other[0] == 200
    assert other[1]["X-RateLimit-Remaining"] == "4"
    assert other[1]["X-RateLimit-Bucket"] == answers[0][1]["X-RateLimit-Bucket"]
    assert len(limited.messages_in(first.id)) == 5


async def test_more_than_fifty_requests_in_a_second_get_a_global_429_without_bucket_headers(
    limited: StandIn,
) -> None:
    _, channels = _world(limited, 60)
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(_post(session, limited, c.id) for c in channels))
    elapsed = time.monotonic() - started
    if elapsed >= 1.0:
        pytest.skip(f"the machine was too slow to send 60 requests within one second ({elapsed:.2f} s)")

    refused = [(headers, body) for status, headers, body in answers if status == 429]
    assert sum(status == 200 for status, _, _ in answers) == 50
    assert len(refused) == 10
    for headers, body in refused:
        assert body["global"] is True
        assert 0 < body["retry_after"] <= 1.0
        assert headers["X-RateLimit-Global"] == "true"
        assert headers["X-RateLimit-Scope"] == "global"
        assert "X-RateLimit-Bucket" not in headers
        assert "X-RateLimit-Remaining" not in headers
    assert [r.scope for r in limited.requests if r.status == 429] == ["global"] * 10


async def test_the_global_limit_leaves_interaction_responses_out(limited: StandIn) -> None:
    guild, (channel,) = _world(limited, 1)
    member = limited.add_member(guild.id, "alice")
    client = discord.Client(intents=discord.Intents.none(), allowed_mentions=NONE)
    tree = discord.app_commands.CommandTree(client)

    @tree.command(name="echo", description="Echo")
    async def echo(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True)

    async with limited.running(client):
        tree.copy_global_to(guild=discord.Object(guild.id))
        await tree.sync(guild=discord.Object(guild.id))
        # Spend the whole global budget of this second, then answer a slash command within it.
        async with aiohttp.ClientSession() as session:
            auth = {"Authorization": f"Bot {limited.token}"}
            for _ in range(60):
                async with session.get(f"{limited.base_url}/channels/{channel.id}", headers=auth) as response:
                    if response.status == 429:
                        break
            else:
                pytest.skip("the machine was too slow to reach 50 requests within one second")
        reply = await limited.invoke(guild.id, channel.id, member.id, "echo", {"text": "still answered"})

    assert reply.content == "still answered"
    callbacks = limited.requests_to("POST /interactions/*")
    assert callbacks
    assert all(r.status in (200, 204) for r in callbacks)


async def test_discord_py_waits_out_a_global_429_and_then_succeeds(limited: StandIn) -> None:
    _, channels = _world(limited, 70)
    client = discord.Client(intents=discord.Intents(guilds=True), allowed_mentions=NONE)
    async with limited.running(client):
        sends = []
        for channel in channels:
            target = client.get_channel(channel.id)
            assert isinstance(target, discord.TextChannel)
            sends.append(target.send("burst", allowed_mentions=NONE))
        await asyncio.wait_for(asyncio.gather(*sends), timeout=30)

    assert any(r.scope == "global" for r in limited.requests), "the burst never reached the global limit"
    assert all(len(limited.messages_in(c.id)) == 1 for c in channels)
