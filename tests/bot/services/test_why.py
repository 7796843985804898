"""/why: each gate of the alert engine for one story in one channel, on both engines."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.errors import NotFound
from bot.render.message import Names
from bot.render.why import why_reply, why_text
from bot.services.alerts import AlertService, DeliveryFailed
from bot.services.digests import DigestService
from bot.services.living_posts import LivingPosts
from bot.services.lookups import LookupService
from bot.services.why import Explanation, WhyService
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter, transient

GUILD = 1
NEWS = 100
EVENT = "Delhi airport evaluating computer vision tech to track passengers, ensure social distancing: CEO"
RETOLD = "Delhi Airport Evaluating 'computer Vision' Tech To Track Flyers, Ensure Social Distancing: Official"


@pytest.fixture
def why(store: Store, clock: ManualClock) -> WhyService:
    return WhyService(
        store, LookupService(store.lookups, clock), clock, posts_per_tick=5, tick_interval=timedelta(minutes=1)
    )


async def explain(why: WhyService, story_id: int) -> Explanation:
    return await why.explain(guild_id=GUILD, channel_id=NEWS, story=str(story_id))


def verdicts(explanation: Explanation) -> dict[str, str]:
    return {g.name: g.verdict for g in explanation.gates}


def text_of(explanation: Explanation, gate: str) -> str:
    return " | ".join(g.text for g in explanation.gates if g.name == gate)


async def subscribe(alerts: AlertService, **kwargs: object) -> None:
    await alerts.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", **kwargs)  # type: ignore[arg-type]


async def test_why_posted_links_the_message(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await subscribe(alert_service)
    story = writer.add(90)
    await alert_service.tick(poster)
    result = await explain(why, story)
    assert [g.name for g in result.gates] == [
        "topic", "heat", "quality", "paused", "subscribed", "quiet", "dedupe", "ledger"
    ]
    assert set(verdicts(result).values()) == {"pass"}
    assert "heat 90 ≥ line 70" in text_of(result, "heat")
    message_id = poster.sent[0].message_id
    assert f"https://discord.com/channels/{GUILD}/{NEWS}/{message_id}" in why_reply(result)
    assert f" · message {message_id}" in why_text(result, names=Names(channel=lambda _: "#console"))


async def test_why_queued_gives_position_tick_and_the_failed_try(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await subscribe(alert_service)
    ids = [writer.add(150 - n) for n in range(12)]  # heat 150 .. 139: the queue is in this order
    poster.fail(NEWS, transient("503 Service Unavailable"))
    report = await alert_service.tick(poster)  # the first send fails: the channel backs off, all stay queued
    assert (report.queued, report.sent) == (12, 0)
    failed = await explain(why, ids[0])
    assert "number 1 in this channel's queue" in text_of(failed, "ledger")
    assert "attempt 1 failed: 503 Service Unavailable; next retry" in text_of(failed, "ledger")
    last = await explain(why, ids[11])
    assert "number 12 in this channel's queue" in text_of(last, "ledger")
    assert "when the channel's backoff after a failed send ends" in text_of(last, "ledger")
    clock.advance(timedelta(minutes=5))
    assert "tick 3 from now (about 2026-11-26 12:07 UTC, 5 per tick)" in text_of(await explain(why, ids[11]), "ledger")
    second = await explain(why, ids[1])
    assert "number 2" in text_of(second, "ledger")
    assert "the next tick" in text_of(second, "ledger")


async def test_why_below_the_line_says_by_how_much(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await subscribe(alert_service, min_heat=80)
    story = writer.add(65)
    await alert_service.tick(poster)
    result = await explain(why, story)
    assert verdicts(result)["heat"] == "block"
    assert "heat 65 < line 80 (15 short)" in text_of(result, "heat")
    assert "never queued: no subscription" in text_of(result, "ledger")
    assert "stopped at heat" in why_reply(result)


async def test_why_topic_and_quality_gates(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    writer.add(10, topics=("AI",))  # the topics exist before they are subscribed to
    writer.add(10, topics=("Cloud",))
    await subscribe(alert_service, topic="AI")
    await subscribe(alert_service, topic="Cloud", min_quality=50)
    story = writer.add(90, quality=40, topics=("Cloud",))
    await alert_service.tick(poster)
    result = await explain(why, story)
    topics = {g.subscription.topic_name: g.verdict for g in result.gates if g.name == "topic" and g.subscription}
    assert topics == {"AI": "block", "Cloud": "pass"}
    assert "not on AI (it is on Cloud)" in text_of(result, "topic")
    assert "quality 40 < 50" in text_of(result, "quality")
    assert poster.sent == []


async def test_why_paused_channel_skips_what_crosses_meanwhile(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await subscribe(alert_service)
    await alert_service.pause(GUILD, NEWS)
    story = writer.add(90)
    await alert_service.tick(poster)
    result = await explain(why, story)
    assert verdicts(result)["paused"] == "block"
    assert "this channel is paused" in text_of(result, "paused")
    assert "while alerts here were paused" in text_of(result, "ledger")
    queued_before = writer.add(95)
    await alert_service.resume(GUILD, NEWS)
    await alert_service.tick(FakePoster(failures={NEWS: [transient()]}))
    await alert_service.pause(GUILD, NEWS)
    assert "goes out when alerts here are resumed" in text_of(await explain(why, queued_before), "ledger")
    await alert_service.pause(GUILD)
    assert "paused for the whole server" in text_of(await explain(why, story), "paused")


async def test_why_story_hot_before_the_subscription(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    story = writer.add(90)
    clock.advance(timedelta(minutes=10))
    await subscribe(alert_service)
    await alert_service.tick(poster)
    result = await explain(why, story)
    assert verdicts(result)["subscribed"] == "block"
    assert "arrived before you subscribed: hot since 2026-11-26 12:00 UTC, subscribed 2026-11-26 12:10 UTC" in (
        text_of(result, "subscribed")
    )
    assert "already hot when the channel subscribed" in text_of(result, "ledger")


async def test_why_rejected_story_failed_for_good(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    await subscribe(alert_service)
    story = writer.add(90)
    poster.fail(NEWS, _rejected())
    await alert_service.tick(poster)
    result = await explain(why, story)
    assert verdicts(result)["ledger"] == "block"
    assert "failed: Discord refused this story (400 Invalid Form Body); it is not retried" in text_of(result, "ledger")


async def test_why_withdrawn_story_that_cooled(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await subscribe(alert_service)
    story = writer.add(90)
    poster.fail(NEWS, transient())
    await alert_service.tick(poster)
    writer.set_heat(story, 40)
    clock.advance(timedelta(minutes=5))
    report = await alert_service.tick(poster)
    assert report.withdrawn == 1
    result = await explain(why, story)
    assert "withdrawn before its turn" in text_of(result, "ledger")
    assert verdicts(result)["heat"] == "block"


async def test_why_channel_without_alerts_is_not_found(why: WhyService, writer: StoryWriter) -> None:
    story = writer.add(90)
    with pytest.raises(NotFound, match="no alerts"):
        await explain(why, story)


async def test_why_story_resolved_by_title(
    why: WhyService, alert_service: AlertService, writer: StoryWriter
) -> None:
    await subscribe(alert_service)
    writer.add(90, title="Quantum chips arrive")
    result = await why.explain(guild_id=GUILD, channel_id=NEWS, story="quantum chips")
    assert result.story.title == "Quantum chips arrive"


def _rejected() -> DeliveryFailed:
    return DeliveryFailed("400 Invalid Form Body", permanent=False, story_only=True)


# ----- the gates of the later features: percentile lines, quiet hours, summaries, dedupe, digests ----------------


async def test_why_heat_gate_names_the_percentile_rule_and_todays_number(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    for heat in range(100, 200, 10):  # AI's last 30 days: 100 .. 190
        writer.add(heat, topics=("AI",))
    await subscribe(alert_service, topic="AI", min_heat="top20%")
    cool = writer.add(150, topics=("AI",))
    await alert_service.tick(poster)
    result = await explain(why, cool)
    assert verdicts(result)["heat"] == "block"
    assert "heat 150 < line 180 (30 short)" in text_of(result, "heat")
    assert "top 20% of AI's stories of the last 30 days: 180 today" in text_of(result, "heat")


async def test_why_quiet_hours_hold_now_until_the_end_and_name_the_breaking_line(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await subscribe(alert_service)
    await alert_service.set_quiet(guild_id=GUILD, channel_id=NEWS, start="22:00", end="07:00",
                                  timezone="Europe/Berlin", breaking=150)
    outside = await explain(why, writer.add(10))
    assert verdicts(outside)["quiet"] == "pass"
    assert "quiet hours 22:00–07:00 Europe/Berlin, not in force now" in text_of(outside, "quiet")
    clock.set(datetime(2026, 11, 26, 22, 30, tzinfo=UTC))  # 23:30 in Berlin
    held = writer.add(90)
    breaking = writer.add(160)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [breaking]
    result = await explain(why, held)
    assert verdicts(result)["quiet"] == "block"
    assert "held now: quiet until 2026-11-27 06:00 UTC (22:00–07:00 Europe/Berlin;" in text_of(result, "quiet")
    assert "stories at heat 150 or more post at once" in text_of(result, "quiet")
    assert "held until quiet hours end (2026-11-27 06:00 UTC)" in text_of(result, "ledger")
    assert "stopped at quiet" in why_reply(result)
    hot = await explain(why, breaking)
    assert "but heat 160 ≥ breaking line 150: it posts at once" in text_of(hot, "quiet")
    assert verdicts(hot)["ledger"] == "pass"


async def test_why_story_waiting_in_a_roll_up_says_so_then_names_the_summary_it_went_out_in(
    why: WhyService, alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    await subscribe(alert_service)
    ids = [writer.add(180 - n) for n in range(20)]  # more than three ticks of five: the coolest five roll up
    poster.fail(NEWS, transient("503 Service Unavailable"))  # the roll-up message fails: it waits for the retry
    await alert_service.tick(poster)
    rolled = await explain(why, ids[-1])
    assert "waits in a roll-up" in text_of(rolled, "summary")
    assert "queued for the channel's rollup summary" in text_of(rolled, "ledger")
    single = await explain(why, ids[0])
    assert [g.name for g in single.gates if g.name == "summary"] == []
    for _ in range(4):  # the backoff passes; the roll-up goes out in one message, the rest one by one
        clock.advance(timedelta(minutes=5))
        await alert_service.tick(poster)
    [(channel, kind, carried_ids)] = poster.summaries
    assert (channel, kind) == (NEWS, "rollup")
    assert ids[-1] in carried_ids
    carried = len(carried_ids) - 1
    sent = await explain(why, ids[-1])
    assert f"in one summary message with {carried} other stories" in text_of(sent, "ledger")
    assert verdicts(sent)["ledger"] == "pass"
    alone = await explain(why, ids[0])
    assert "summary message" not in text_of(alone, "ledger")


async def test_why_deduplicated_story_names_the_post_that_lists_it(
    why: WhyService, store: Store, writer: StoryWriter, clock: ManualClock
) -> None:
    living = LivingPosts(store, clock, rng=random.Random(3))
    alerts = AlertService(store, clock, max_posts_per_tick=5, rng=random.Random(7), living=living)
    writer.add(1)
    await subscribe(alerts)
    poster = FakePoster()
    first = writer.add(90, title=EVENT, provider="compsmag.com")
    await alerts.tick(poster)
    own = await explain(why, first)
    assert "no earlier post here covers the same event" in text_of(own, "dedupe")
    second = writer.add(95, title=RETOLD, url="https://republicworld.com/delhi", provider="republicworld.com")
    await alerts.tick(poster)
    assert poster.stories_in(NEWS) == [first]
    result = await explain(why, second)
    assert f"deduplicated: listed as “also covered” on the post of “{EVENT}” (#{first})" in text_of(result, "dedupe")
    message_id = poster.sent[0].message_id
    assert f"https://discord.com/channels/{GUILD}/{NEWS}/{message_id}" in why_reply(result)
    assert f"shown on the post of #{first}" in text_of(result, "ledger")
    await living.set_dedupe(NEWS, False)
    third = writer.add(5)
    assert "dedupe is off here" in text_of(await explain(why, third), "dedupe")


async def test_why_tells_which_digest_of_the_channel_would_hold_the_story(
    why: WhyService, store: Store, alert_service: AlertService, writer: StoryWriter, clock: ManualClock
) -> None:
    await subscribe(alert_service)
    digests = DigestService(store, clock, alerts=alert_service, rng=random.Random(3))
    writer.add(10, topics=("AI",))
    await digests.add(guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=50, top=2)
    await digests.add(guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI", min_heat=50)
    clock.advance(timedelta(minutes=1))
    hot = writer.add(120, topics=("Cloud",))
    writer.add(110)
    cooler = writer.add(100)
    low = writer.add(30)
    found = await explain(why, hot)
    daily = "daily digest: in the issue due 2026-11-27 09:00 UTC as things stand (top 2)"
    assert daily in text_of(found, "digest")
    assert "daily digest on AI: not on AI" in text_of(found, "digest")
    assert "not among the top 2 of the issue due 2026-11-27 09:00 UTC" in text_of(await explain(why, cooler), "digest")
    assert "heat 30 < its line 50" in text_of(await explain(why, low), "digest")
