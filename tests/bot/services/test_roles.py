"""Topic roles and breaking pings on both engines: which roles a post pings, and how often."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.errors import NotFound
from bot.services.alerts import AlertService
from bot.services.living_posts import LivingPosts
from bot.services.roles import RoleService
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter

GUILD = 9
NEWS, WIRE = 501, 502
AI_ROLE, CLOUD_ROLE = 7001, 7002


@pytest.fixture
def alerts(store: Store, clock: ManualClock) -> AlertService:
    return AlertService(store, clock, max_posts_per_tick=5, rng=random.Random(7), living=LivingPosts(store, clock))


@pytest.fixture
def roles(store: Store, clock: ManualClock, alerts: AlertService) -> RoleService:
    return RoleService(store, clock, alerts)


async def _map(roles: RoleService, topic: str, role_id: int) -> None:
    await roles.add(guild_id=GUILD, topic=await roles.resolve_topic(topic), role_id=role_id)


def _pings(poster: FakePoster, channel: int) -> list[tuple[int, tuple[int, ...]]]:
    return [(s.story_id, s.ping_roles) for s in poster.sent if s.channel_id == channel]


async def test_roles_are_mapped_replaced_listed_and_removed(roles: RoleService, writer: StoryWriter) -> None:
    writer.add(50, topics=("AI", "Cloud"))
    await _map(roles, "ai", AI_ROLE)
    replaced = await roles.add(guild_id=GUILD, topic=await roles.resolve_topic("AI"), role_id=AI_ROLE + 1)
    await _map(roles, "Cloud", CLOUD_ROLE)
    assert replaced.previous_role_id == AI_ROLE
    assert [(r.topic_name, r.role_id) for r in await roles.list(GUILD)] == [("AI", AI_ROLE + 1), ("Cloud", CLOUD_ROLE)]
    assert await roles.list(GUILD + 1) == []
    topic, role_id = await roles.remove(guild_id=GUILD, topic="cloud")
    assert (topic.name, role_id) == ("Cloud", CLOUD_ROLE)
    with pytest.raises(NotFound, match="has no role"):
        await roles.remove(guild_id=GUILD, topic="Cloud")


async def test_breaking_posts_ping_their_topics_roles_once_per_role_per_channel_per_10_minutes(
    alerts: AlertService, roles: RoleService, writer: StoryWriter, clock: ManualClock
) -> None:
    writer.add(1, topics=("AI", "Cloud"))
    await _map(roles, "AI", AI_ROLE)
    await _map(roles, "Cloud", CLOUD_ROLE)
    await alerts.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=80, ping_heat=100)
    await alerts.add_subscription(guild_id=GUILD, channel_id=WIRE, channel_kind="text", min_heat=80)
    poster = FakePoster()
    both = writer.add(150, topics=("AI", "Cloud"), title="Chips and clouds collide")
    await alerts.tick(poster)
    ai_again = writer.add(140, topics=("AI",), title="Another AI breakthrough today")
    warm = writer.add(90, topics=("Cloud",), title="A warm cloud story")
    await alerts.tick(poster)
    clock.advance(timedelta(minutes=11))
    later = writer.add(130, topics=("AI",), title="An AI story after the window")
    await alerts.tick(poster)
    assert _pings(poster, NEWS) == [
        (both, (AI_ROLE, CLOUD_ROLE)),
        (ai_again, ()),
        (warm, ()),
        (later, (AI_ROLE,)),
    ]
    assert all(roles_ == () for _, roles_ in _pings(poster, WIRE))  # no ping line there


async def test_ping_heat_zero_turns_pings_off_and_leaving_it_out_keeps_it(
    alerts: AlertService, roles: RoleService, writer: StoryWriter
) -> None:
    writer.add(1, topics=("AI",))
    await _map(roles, "AI", AI_ROLE)
    on = await alerts.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", ping_heat=100)
    kept = await alerts.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=75)
    off = await alerts.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", ping_heat=0)
    poster = FakePoster()
    writer.add(150, topics=("AI",))
    await alerts.tick(poster)
    assert (on.ping_heat, kept.ping_heat, off.ping_heat) == (100, 100, None)
    assert _pings(poster, NEWS)[0][1] == ()
