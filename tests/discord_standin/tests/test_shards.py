"""Sharding as Discord does it: GET /gateway/bot recommends a count, IDENTIFY's `shard: [i, n]` gets only shard i's
servers, each server's events go only to its shard's connection, and a bad shard is refused with 4010 / 4011."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.discord_standin import ChannelType, StandIn

NONE = discord.AllowedMentions.none()


async def test_gateway_bot_recommends_the_configured_shard_count() -> None:
    async with StandIn(shards=3) as standin, aiohttp.ClientSession() as session, session.get(
        f"{standin.base_url}/gateway/bot", headers={"Authorization": f"Bot {standin.token}"}
    ) as response:
        body = await response.json()
    assert body["shards"] == 3
    assert body["url"] == standin.gateway_url


def test_a_guild_can_be_placed_on_a_shard() -> None:
    standin = StandIn()
    for shard in (0, 1, 2, 1, 0):
        guild = standin.add_guild(f"on {shard}", shard=(shard, 3))
        assert (guild.id >> 22) % 3 == shard
    ids = list(standin.guilds)
    assert ids == sorted(ids)


def _client(label: str, shard: int, answered_by: list[tuple[str, int]]) -> discord.AutoShardedClient:
    client = discord.AutoShardedClient(
        intents=discord.Intents(guilds=True), shard_ids=[shard], shard_count=2, allowed_mentions=NONE
    )
    tree = app_commands.CommandTree(client)

    @tree.command(name="where", description="Which process answers")
    async def where(interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        answered_by.append((label, interaction.guild_id))
        await interaction.response.send_message(label, ephemeral=True)

    client.tree = tree  # type: ignore[attr-defined]
    return client


async def test_each_shard_gets_only_its_servers_and_their_events() -> None:
    answered_by: list[tuple[str, int]] = []
    async with StandIn(shards=2, heartbeat_interval=0.25) as standin:
        guilds = [standin.add_guild(f"g{n}", shard=(n % 2, 2)) for n in range(6)]
        members = [standin.add_member(g.id, "alice") for g in guilds]
        channels = [standin.add_channel(g.id, "general", ChannelType.TEXT) for g in guilds]
        one, two = _client("one", 0, answered_by), _client("two", 1, answered_by)
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(standin.running(one))
            await stack.enter_async_context(standin.running(two))
            await one.tree.sync()  # type: ignore[attr-defined]
            seen = {"one": {g.id for g in one.guilds}, "two": {g.id for g in two.guilds}}
            late = standin.add_channel(guilds[1].id, "late", ChannelType.TEXT)
            await standin.wait_for(lambda: two.get_channel(late.id) is not None, timeout=5)
            for guild, channel, member in zip(guilds, channels, members, strict=True):
                reply = await standin.invoke(guild.id, channel.id, member.id, "where", {})
                assert reply.in_time
            late_on_one = one.get_channel(late.id)

    assert seen == {"one": {g.id for g in guilds[0::2]}, "two": {g.id for g in guilds[1::2]}}
    assert late_on_one is None  # CHANNEL_CREATE went to shard 1 only
    assert answered_by == [("one" if n % 2 == 0 else "two", g.id) for n, g in enumerate(guilds)]
    assert {tuple(s.shard) for s in standin.gateway.live.values()} == {(0, 2), (1, 2)}


@contextlib.asynccontextmanager
async def _socket(standin: StandIn) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with aiohttp.ClientSession() as session, session.ws_connect(standin.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        yield ws


async def _identify(standin: StandIn, shard: object) -> tuple[int | None, list[dict[str, object]]]:
    """IDENTIFY with this shard field; the close code (None: still open) and the events received."""
    events: list[dict[str, object]] = []
    async with _socket(standin) as ws:
        await ws.send_str(json.dumps({"op": 2, "d": {"token": standin.token, "intents": 1, "shard": shard,
                                                     "properties": {}}}))
        while True:
            message = await ws.receive(timeout=5)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                return ws.close_code, events
            payload = json.loads(message.data)
            events.append(payload)
            if payload.get("t") == "READY" and not standin.guilds:
                return None, events
            if payload.get("t") == "GUILD_CREATE":
                return None, events


@pytest.mark.parametrize("shard", [[2, 2], [-1, 2], [0, 0], [0], "0,1", [True, 2]])
async def test_an_invalid_shard_is_refused_with_4010(shard: object) -> None:
    async with StandIn(shards=2) as standin:
        standin.add_guild("one")
        code, events = await _identify(standin, shard)
    assert code == 4010
    assert events == []
    assert standin.gateway.refused_shards == [shard]


async def test_too_many_servers_on_one_shard_is_refused_with_4011() -> None:
    async with StandIn(max_guilds_per_shard=2) as standin:
        for n in range(4):
            standin.add_guild(f"g{n}", shard=(n % 2, 2))
        code, _ = await _identify(standin, [0, 1])
        accepted, events = await _identify(standin, [1, 2])
    assert code == 4011
    assert accepted is None
    ready = next(e for e in events if e.get("t") == "READY")
    assert ready["d"]["shard"] == [1, 2]  # type: ignore[index]
    assert len(ready["d"]["guilds"]) == 2  # type: ignore[index, arg-type]


async def test_one_shard_dropped_resumes_while_the_other_keeps_its_session() -> None:
    answered_by: list[tuple[str, int]] = []
    async with StandIn(shards=2, heartbeat_interval=0.25) as standin:
        guilds = [standin.add_guild(f"g{n}", shard=(n, 2)) for n in (0, 1)]
        members = [standin.add_member(g.id, "alice") for g in guilds]
        channels = [standin.add_channel(g.id, "general", ChannelType.TEXT) for g in guilds]
        one, two = _client("one", 0, answered_by), _client("two", 1, answered_by)
        async with standin.running(one), standin.running(two):
            await one.tree.sync()  # type: ignore[attr-defined]
            untouched = standin.gateway.live[0]
            await standin.drop_gateway(shard=1)
            await standin.wait_for(lambda: standin.gateway.resumes == 1 and 1 in standin.gateway.shards_connected, 10)
            for guild, channel, member in zip(guilds, channels, members, strict=True):
                await standin.invoke(guild.id, channel.id, member.id, "where", {})
            same = standin.gateway.live[0] is untouched and untouched.connection is not None

    assert same
    assert standin.gateway.identifies == 2
    assert answered_by == [("one", guilds[0].id), ("two", guilds[1].id)]
