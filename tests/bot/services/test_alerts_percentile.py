"""Topic-relative lines ("top10%") on both engines: parsing, today's number, recomputation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.errors import InvalidArgument
from bot.services.alerts import AlertService, MinHeat, parse_min_heat
from bot.services.digests import DigestService
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter

GUILD = 1
NEWS = 100


@pytest.mark.parametrize(
    ("text", "wanted"),
    [("80", MinHeat(value=80)), ("top10%", MinHeat(percentile=10)), (" TOP 5% ", MinHeat(percentile=5)), (None, None)],
)
def test_parse_min_heat_takes_a_heat_or_a_share(text: str | None, wanted: MinHeat | None) -> None:
    assert parse_min_heat(text) == wanted


@pytest.mark.parametrize("text", ["top0%", "top150%", "top%", "top100%"])
def test_parse_min_heat_refuses_bad_percentiles_clearly(text: str) -> None:
    with pytest.raises(InvalidArgument, match="top1% to top99%"):
        parse_min_heat(text)


@pytest.mark.parametrize("text", ["hot", "10%", "-5", "9000"])
def test_parse_min_heat_refuses_other_text_saying_what_to_type(text: str) -> None:
    with pytest.raises(InvalidArgument, match="min_heat"):
        parse_min_heat(text)


def seed_topic(writer: StoryWriter, heats: list[int]) -> None:
    for heat in heats:
        writer.add(heat, topics=["AI"])


async def test_percentile_line_is_the_topics_recent_scale_and_follows_it(
    alert_service: AlertService, writer: StoryWriter, clock: ManualClock, poster: FakePoster
) -> None:
    start = clock.now()
    clock.set(start - timedelta(days=40))
    seed_topic(writer, [189] * 5)  # older than 30 days: not part of today's scale
    writer.add(185, topics=["Cloud"])  # another topic: not part of AI's scale either
    clock.set(start - timedelta(days=1))
    seed_topic(writer, list(range(100, 200, 10)))  # 100 .. 190
    clock.set(start)
    result = await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI", min_heat="top20%"
    )
    assert (result.subscription.min_heat, result.subscription.heat_percentile) == (180, 20)
    # The topic's 30-day set doubles with cooler stories: the line is recomputed within the hour.
    seed_topic(writer, list(range(5, 100, 10)))  # 5 .. 95
    await alert_service.tick(poster)
    clock.advance(timedelta(hours=1))
    await alert_service.tick(poster)
    [sub] = (await alert_service.list_subscriptions(GUILD)).subscriptions
    assert (sub.min_heat, sub.heat_percentile) == (160, 20)
    # A plain number again: the rule is gone.
    again = await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI", min_heat=120
    )
    assert (again.subscription.min_heat, again.subscription.heat_percentile) == (120, None)


async def test_percentile_line_is_recomputed_daily_even_when_little_changes(
    alert_service: AlertService, writer: StoryWriter, clock: ManualClock, poster: FakePoster
) -> None:
    seed_topic(writer, list(range(100, 200, 10)))
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat="top10%")
    writer.add(195, topics=["AI"])  # 10 -> 12 stories: not "a lot", but a day later the line moves anyway
    writer.add(198, topics=["AI"])
    clock.advance(timedelta(hours=2))
    await alert_service.tick(poster)
    [sub] = (await alert_service.list_subscriptions(GUILD)).subscriptions
    assert sub.min_heat == 190
    clock.advance(timedelta(days=1))
    await alert_service.tick(poster)
    [sub] = (await alert_service.list_subscriptions(GUILD)).subscriptions
    assert sub.min_heat == 195


async def test_percentile_digest_uses_todays_number(
    store: Store, alert_service: AlertService, writer: StoryWriter, clock: ManualClock
) -> None:
    seed_topic(writer, list(range(100, 200, 10)))
    digests = DigestService(store, clock, alerts=alert_service)
    result = await digests.add(guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI", min_heat="top30%")
    assert (result.digest.min_heat, result.digest.heat_percentile) == (170, 30)
    with pytest.raises(InvalidArgument, match="top1% to top99%"):
        await digests.add(guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat="top0%")
