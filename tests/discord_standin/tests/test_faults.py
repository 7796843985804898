"""Gateway drops, resumes, injected 5xx and 429s: the real client recovers and keeps answering."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import aiohttp
import discord
import pytest
from discord.ext import commands

from tests.discord_standin import StandIn

from .conftest import World

NONE = discord.AllowedMentions.none()


async def _echo(standin: StandIn, world: World, text: str) -> str:
    result = await standin.invoke(world.guild.id, world.text.id, world.member.id, "echo", {"text": text})
    assert result.in_time
    return str(result.embeds[0]["description"])


async def test_gateway_abrupt_drop_is_resumed_and_bot_keeps_answering(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    assert await _echo(standin, world, "before") == "before"
    await standin.drop_gateway()
    await standin.wait_for_resume(1)
    assert standin.gateway.identifies == 1
    assert await _echo(standin, world, "after") == "after"


async def test_gateway_resumable_close_code_is_resumed(standin: StandIn, world: World, bot: commands.Bot) -> None:
    await standin.drop_gateway(code=4000)
    await standin.wait_for_resume(1)
    assert standin.gateway.identifies == 1
    assert await _echo(standin, world, "still here") == "still here"


async def test_gateway_interaction_sent_while_disconnected_is_replayed_on_resume(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    await standin.drop_gateway()
    # Dispatched while the socket is down: kept in the session backlog and replayed after RESUME.
    assert await _echo(standin, world, "missed") == "missed"
    assert standin.gateway.resumes == 1


async def test_gateway_reconnect_opcode_resumes(standin: StandIn, world: World, bot: commands.Bot) -> None:
    await standin.request_reconnect()
    await standin.wait_for_resume(1)
    assert await _echo(standin, world, "ok") == "ok"


async def test_gateway_invalid_session_forces_new_identify(standin: StandIn, world: World, bot: commands.Bot) -> None:
    await standin.invalidate_session(resumable=False)
    await standin.wait_for(lambda: standin.gateway.identifies == 2 and standin.gateway.connected, 10)
    assert standin.gateway.resumes == 0
    assert await _echo(standin, world, "fresh") == "fresh"


async def test_heartbeats_are_acknowledged(standin: StandIn, world: World, bot: commands.Bot) -> None:
    await standin.wait_for(lambda: any(c.heartbeats >= 2 for c in standin.gateway.connections), 3)
    assert bot.latency < 1


async def test_fault_500_is_retried_by_discord_py(standin: StandIn, world: World, bot: commands.Bot) -> None:
    fault = standin.faults.fail("POST /channels/*/messages", status=500, times=1)
    channel = bot.get_channel(world.text.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("survives a 500", allowed_mentions=NONE)
    assert fault.fired == 1
    statuses = [r.status for r in standin.requests_to("POST /channels/*/messages")]
    assert statuses == [500, 200]
    assert len(standin.messages_in(world.text.id)) == 1


async def test_fault_503_is_not_retried_by_discord_py(standin: StandIn, world: World, bot: commands.Bot) -> None:
    standin.faults.fail("POST /channels/*/messages", status=503, times=1)
    channel = bot.get_channel(world.text.id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.DiscordServerError):
        await channel.send("lost", allowed_mentions=NONE)


async def test_fault_429_retry_after_is_honoured(standin: StandIn, world: World, bot: commands.Bot) -> None:
    standin.faults.rate_limit("POST /channels/*/messages", retry_after=0.4, times=1)
    channel = bot.get_channel(world.text.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("after the wait", allowed_mentions=NONE)
    first, second = standin.requests_to("POST /channels/*/messages")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.4


async def test_fault_429_on_interaction_callback_is_retried(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    standin.faults.rate_limit("POST /interactions/*/callback", retry_after=0.2, times=1)
    assert await _echo(standin, world, "rate limited once") == "rate limited once"
    assert [r.status for r in standin.requests_to("/interactions/*")] == [429, 200]


async def test_fault_disconnect_drops_the_request_unanswered(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    standin.faults.disconnect("POST /channels/*/messages", times=1)
    channel = bot.get_channel(world.text.id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await channel.send("lost on the way", allowed_mentions=NONE)
    assert [r.status for r in standin.requests_to("POST /channels/*/messages")] == [0]
    assert standin.messages_in(world.text.id) == []
    await channel.send("the next one arrives", allowed_mentions=NONE)
    assert [m.content for m in standin.messages_in(world.text.id)] == ["the next one arrives"]


async def test_fault_delay_slows_a_route(standin: StandIn, world: World, bot: commands.Bot) -> None:
    standin.faults.delay("GET /channels/*", 0.2, times=1)
    channel = await bot.fetch_channel(world.text.id)
    assert channel.id == world.text.id
    assert standin.faults.fired[0].kind == "delay"


async def test_rest_responses_carry_rate_limit_headers(standin: StandIn, world: World, bot: commands.Bot) -> None:
    small = StandIn(rate_limit=(2, 0.3))
    async with small:
        guild = small.add_guild()
        channel = small.add_channel(guild.id, "general")
        with small.patch_discord():
            client = discord.Client(intents=discord.Intents.none(), allowed_mentions=NONE)
            await client.login(small.token)
            try:
                for i in range(5):
                    await client.http.send_message(channel.id, params=discord.http.handle_message_parameters(
                        content=f"m{i}", allowed_mentions=NONE))
            finally:
                await client.close()
        # discord.py read X-RateLimit-Remaining: 0 and waited instead of drawing a 429.
        assert [r.status for r in small.requests_to("POST /channels/*/messages")] == [200] * 5
        stamps = [r.at for r in small.requests_to("POST /channels/*/messages")]
        assert stamps[-1] - stamps[0] >= 0.3


async def test_gateway_outage_refuses_reconnects_until_it_ends(
    standin: StandIn, world: World, bot: commands.Bot
) -> None:
    standin.gateway.accepting = False
    await standin.drop_gateway()
    await standin.wait_for(lambda: standin.gateway.refused >= 1, timeout=15)
    assert not standin.gateway.connected

    standin.gateway.accepting = True
    await standin.wait_until_connected(timeout=30)
    assert await _echo(standin, world, "back") == "back"


async def test_rest_date_header_follows_the_clock_offset(standin: StandIn) -> None:
    standin.clock_offset = 3600.0
    url, headers = f"{standin.base_url}/users/@me", {"Authorization": "Bot wrong"}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        assert response.status == 401
        date = email.utils.parsedate_to_datetime(response.headers["Date"])
    ahead = (date - datetime.now(UTC)).total_seconds()
    assert 3590 < ahead < 3610
