"""What /alerts add, remove, list, pause, resume and preview do and say."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.errors import InvalidArgument, NotFound
from bot.services.alerts import AlertService, ThresholdChange
from tests.support.alerts import FakePoster, StoryWriter

GUILD = 1
NEWS = 100
OTHER = 200


async def test_add_subscription_again_updates_thresholds(alert_service: AlertService, writer: StoryWriter) -> None:
    first = await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=70)
    again = await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=100, min_quality=60
    )
    listing = await alert_service.list_subscriptions(GUILD)
    assert first.created
    assert not again.created
    assert [(s.min_heat, s.min_quality) for s in listing.subscriptions] == [(100, 60)]


async def test_add_subscription_raised_threshold_applies_to_new_stories(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=100)
    writer.add(90)
    hot = writer.add(110)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [hot]


async def test_a_new_subscription_gets_the_default_line_and_no_quality_filter(alert_service: AlertService) -> None:
    added = await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    assert (added.subscription.min_heat, added.subscription.min_quality) == (70, None)
    assert added.changes == ()


async def test_re_adding_with_only_min_quality_keeps_the_heat_line(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    writer.add(80, topics=["AI"])
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI", min_heat=100)
    again = await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI", min_quality=50
    )
    assert (again.subscription.min_heat, again.subscription.min_quality) == (100, 50)
    assert again.changes == (ThresholdChange("min_quality", None, 50),)
    listing = await alert_service.list_subscriptions(GUILD)
    assert [(s.min_heat, s.min_quality) for s in listing.subscriptions] == [(100, 50)]


async def test_re_adding_with_only_min_heat_keeps_the_quality_filter(alert_service: AlertService) -> None:
    await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=90, min_quality=50,
    )
    again = await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=120)
    assert (again.subscription.min_heat, again.subscription.min_quality) == (120, 50)
    assert again.changes == (ThresholdChange("min_heat", 90, 120),)


async def test_re_adding_with_nothing_given_changes_nothing(alert_service: AlertService) -> None:
    await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=90, min_quality=50,
    )
    again = await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    assert (again.subscription.min_heat, again.subscription.min_quality) == (90, 50)
    assert not again.created
    assert again.changes == ()


async def test_min_quality_zero_removes_the_quality_filter(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=90, min_quality=50,
    )
    again = await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_quality=0)
    assert (again.subscription.min_heat, again.subscription.min_quality) == (90, None)
    assert again.changes == (ThresholdChange("min_quality", 50, None),)
    # Without a filter a story the publisher gave no quality still posts (a "quality >= 0" filter would drop it).
    unrated = writer.add(100)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [unrated]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_heat": -1}, "min_heat must be between 0 and 500"),
        ({"min_heat": 7000}, "min_heat must be between 0 and 500"),
        ({"min_quality": -5}, "min_quality must be between 0 and 500"),
        ({"backfill": 26}, "backfill must be between 0 and 25"),
        ({"backfill": -1}, "backfill must be between 0 and 25"),
    ],
)
async def test_add_subscription_refuses_absurd_values_and_changes_nothing(
    alert_service: AlertService, kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message) as caught:
        await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", **kwargs)  # type: ignore[arg-type]
    assert "nothing was changed" in caught.value.user_message
    assert (await alert_service.list_subscriptions(GUILD)).subscriptions == ()


async def test_add_subscription_unknown_topic_suggests_close_ones(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    writer.add(80, topics=["Artificial Intelligence", "Azure"])
    with pytest.raises(NotFound, match=r"No topic 'Artifical Inteligence'\. Did you mean: Artificial Intelligence"):
        await alert_service.add_subscription(
            guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="Artifical Inteligence"
        )
    assert (await alert_service.list_subscriptions(GUILD)).subscriptions == ()


async def test_add_subscription_topic_is_case_insensitive(alert_service: AlertService, writer: StoryWriter) -> None:
    writer.add(80, topics=["Power Apps"])
    result = await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="power apps",
    )
    assert result.subscription.topic_name == "Power Apps"


@pytest.mark.parametrize("typed", ["Power  Apps", " power apps ", "POWER&#32;APPS"])
async def test_add_subscription_finds_the_topic_the_lookups_find(
    alert_service: AlertService, writer: StoryWriter, typed: str
) -> None:
    # One topic key for /topic and /alerts: extra spaces and HTML entities never make a second, unknown topic.
    writer.add(80, topics=["Power Apps"])
    result = await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic=typed)
    assert result.subscription.topic_name == "Power Apps"


async def test_topic_choices_prefers_prefix_matches(alert_service: AlertService, writer: StoryWriter) -> None:
    writer.add(80, topics=["Generative AI", "AI", "AI in Autos"])
    choices = await alert_service.topic_choices("ai")
    assert choices[:2] in (["AI", "AI in Autos"], ["AI in Autos", "AI"])
    assert "Generative AI" in choices


async def test_list_subscriptions_shows_every_subscription_of_the_guild(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    writer.add(10, topics=["AI"])
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI", min_heat=100)
    await alert_service.add_subscription(guild_id=2, channel_id=OTHER, channel_kind="text")
    writer.add(90)
    await alert_service.tick(poster)
    listing = await alert_service.list_subscriptions(GUILD)
    assert [(s.channel_id, s.topic_name, s.min_heat) for s in listing.subscriptions] == [
        (NEWS, None, 70),
        (NEWS, "AI", 100),
    ]
    assert all(s.last_post_at is not None for s in listing.subscriptions)


async def test_remove_subscription_of_one_topic_keeps_the_others(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    writer.add(10, topics=["AI", "Cloud"])
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI")
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="Cloud")
    result = await alert_service.remove_subscription(guild_id=GUILD, channel_id=NEWS, topic="ai")
    listing = await alert_service.list_subscriptions(GUILD)
    assert (result.removed, result.topic) == (1, "AI")
    assert [s.topic_name for s in listing.subscriptions] == ["Cloud"]


async def test_remove_subscription_without_topic_removes_the_channel(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    writer.add(10, topics=["AI"])
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI")
    result = await alert_service.remove_subscription(guild_id=GUILD, channel_id=NEWS)
    assert result.removed == 2
    assert (await alert_service.list_subscriptions(GUILD)).subscriptions == ()


async def test_remove_subscription_unknown_channel_says_so(alert_service: AlertService) -> None:
    with pytest.raises(NotFound, match="no alerts"):
        await alert_service.remove_subscription(guild_id=GUILD, channel_id=NEWS)


async def test_remove_subscription_of_another_guild_is_not_found(alert_service: AlertService) -> None:
    await alert_service.add_subscription(guild_id=2, channel_id=NEWS, channel_kind="text")
    with pytest.raises(NotFound):
        await alert_service.remove_subscription(guild_id=GUILD, channel_id=NEWS)


async def test_pause_channel_keeps_queued_stories_for_resume(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    queued = writer.add(90)
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", backfill=1)
    result = await alert_service.pause(GUILD, NEWS)
    clock.advance(timedelta(minutes=1))
    crossed_while_paused = writer.add(95)
    await alert_service.tick(poster)
    assert (result.scope, result.changed, result.queued) == ("channel", True, 1)
    assert poster.sent == []
    resumed = await alert_service.resume(GUILD, NEWS)
    await alert_service.tick(poster)
    # Queued before the pause: posts on its own, as usual. Turned hot during it: in the catch-up message.
    assert resumed.catch_up == 1
    assert poster.summaries == [(NEWS, "paused", [crossed_while_paused])]
    assert sorted(poster.stories_in(NEWS)) == sorted([queued, crossed_while_paused])


async def test_pause_guild_stops_every_channel_until_resume(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    await alert_service.add_subscription(guild_id=2, channel_id=OTHER, channel_kind="text")
    await alert_service.pause(GUILD)
    clock.advance(timedelta(minutes=1))
    during = writer.add(90)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == []
    assert len(poster.stories_in(OTHER)) == 1
    assert (await alert_service.list_subscriptions(GUILD)).guild_paused
    resumed = await alert_service.resume(GUILD)
    after = writer.add(100)
    await alert_service.tick(poster)
    assert resumed.changed
    assert resumed.catch_up == 1
    assert poster.summaries == [(NEWS, "paused", [during])]
    assert sorted(poster.stories_in(NEWS)) == [during, after]


async def test_resume_guild_lists_channels_still_paused_on_their_own(alert_service: AlertService) -> None:
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    await alert_service.pause(GUILD, NEWS)
    await alert_service.pause(GUILD)
    result = await alert_service.resume(GUILD)
    assert [c.channel_id for c in result.still_paused] == [NEWS]


async def test_pause_unknown_channel_says_so(alert_service: AlertService) -> None:
    with pytest.raises(NotFound, match="no alerts"):
        await alert_service.pause(GUILD, NEWS)


async def test_preview_shows_the_queue_in_posting_order_and_sends_nothing(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    ids = [writer.add(h) for h in (80, 150, 90, 100, 75, 120, 60)]
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", backfill=6)
    preview = await alert_service.preview(guild_id=GUILD, channel_id=NEWS)
    assert [i.story.heat for i in preview.queued] == [150, 120, 100, 90, 80, 75]
    assert [i.next_tick for i in preview.queued] == [True] * 5 + [False]
    assert preview.backfill is None
    assert poster.sent == []
    assert ids  # the 60 story never qualifies


async def test_preview_lists_what_backfill_would_post_only_when_asked(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    writer.add(80)
    writer.add(130)
    writer.add(100)
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    plain = await alert_service.preview(guild_id=GUILD, channel_id=NEWS)
    asked = await alert_service.preview(guild_id=GUILD, channel_id=NEWS, backfill=2)
    assert (plain.queued, plain.backfill) == ((), None)
    assert asked.backfill is not None
    assert (asked.backfill.asked, asked.backfill.subscription.topic_id) == (2, None)
    assert [s.heat for s in asked.backfill.stories] == [130, 100]


async def test_preview_of_a_backfill_says_which_subscription_when_the_channel_has_several(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    writer.add(120, topics=["AI"])
    writer.add(110, topics=["Cloud"])
    for topic in ("AI", "Cloud"):
        await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic=topic)
    with pytest.raises(InvalidArgument, match=r"several topics \(AI, Cloud\); add topic:"):
        await alert_service.preview(guild_id=GUILD, channel_id=NEWS, backfill=3)
    cloud = await alert_service.preview(guild_id=GUILD, channel_id=NEWS, topic="Cloud", backfill=3)
    assert cloud.backfill is not None
    assert [s.heat for s in cloud.backfill.stories] == [110]


async def test_preview_refuses_an_absurd_backfill(alert_service: AlertService) -> None:
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    with pytest.raises(InvalidArgument, match="backfill must be between 0 and 25"):
        await alert_service.preview(guild_id=GUILD, channel_id=NEWS, backfill=99)


async def test_preview_of_a_paused_channel_says_why(alert_service: AlertService, writer: StoryWriter) -> None:
    writer.add(80)
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", backfill=1)
    await alert_service.pause(GUILD, NEWS)
    preview = await alert_service.preview(guild_id=GUILD, channel_id=NEWS)
    assert preview.paused_reason == "this channel is paused"
    assert [i.next_tick for i in preview.queued] == [False]


async def test_preview_without_subscription_says_how_to_add(alert_service: AlertService) -> None:
    with pytest.raises(NotFound, match="/alerts add"):
        await alert_service.preview(guild_id=GUILD, channel_id=NEWS)
