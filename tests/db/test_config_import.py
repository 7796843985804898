"""SubscriptionStore.apply_config: an import's removals, upserts and log channel in one transaction (both engines)."""

from __future__ import annotations

import pytest

from bot.clock import ManualClock
from bot.services.alerts import AlertService
from db.interfaces import Store
from db.models import GuildConfigChange, SubscriptionSpec
from tests.support.alerts import FakePoster, StoryWriter

GUILD = 7


async def test_apply_config_removes_upserts_and_sets_the_log_channel(
    store: Store, alert_service: AlertService, writer: StoryWriter, clock: ManualClock
) -> None:
    writer.add(10, topics=("AI",))
    topic = await alert_service.resolve_topic("AI")
    await alert_service.add_subscription(guild_id=GUILD, channel_id=100, channel_kind="text")
    await alert_service.add_subscription(guild_id=GUILD, channel_id=200, channel_kind="text", min_heat=90)
    change = GuildConfigChange(
        upserts=(
            SubscriptionSpec(200, "text", None, 80, 40),
            SubscriptionSpec(300, "announcement", topic.id, 75, None),
        ),
        removals=((100, None),),
        set_log_channel=400,
        actor_id=9,
    )
    await store.subscriptions.apply_config(GUILD, change, clock.now())
    subs = await store.subscriptions.for_guild(GUILD)
    assert [(s.channel_id, s.channel_kind, s.topic_name, s.min_heat, s.min_quality) for s in subs] == [
        (200, "text", None, 80, 40),
        (300, "announcement", "AI", 75, None),
    ]
    log_channel = await store.admin_log.get(GUILD)
    assert log_channel is not None
    assert (log_channel.channel_id, log_channel.set_by) == (400, 9)
    await store.subscriptions.apply_config(GUILD, GuildConfigChange(clear_log_channel=True), clock.now())
    assert await store.admin_log.get(GUILD) is None


async def test_apply_config_new_subscription_ignores_stories_already_hot(
    store: Store, alert_service: AlertService, writer: StoryWriter, clock: ManualClock, poster: FakePoster
) -> None:
    writer.add(120)
    change = GuildConfigChange(upserts=(SubscriptionSpec(100, "text", None, 70, None),))
    await store.subscriptions.apply_config(GUILD, change, clock.now())
    await alert_service.tick(poster)
    assert poster.sent == []
    fresh = writer.add(130)
    await alert_service.tick(poster)
    assert poster.stories_in(100) == [fresh]


async def test_apply_config_is_all_or_nothing(store: Store, alert_service: AlertService, clock: ManualClock) -> None:
    await alert_service.add_subscription(guild_id=GUILD, channel_id=100, channel_kind="text")
    broken = GuildConfigChange(
        upserts=(SubscriptionSpec(200, "text", None, -5, None),),  # refused by the schema's CHECK
        removals=((100, None),),
        set_log_channel=400,
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - each engine raises its own error type
        await store.subscriptions.apply_config(GUILD, broken, clock.now())
    assert [s.channel_id for s in await store.subscriptions.for_guild(GUILD)] == [100]
    assert await store.admin_log.get(GUILD) is None
