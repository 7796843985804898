"""Digests on both engines: content and order, schedules, exactly-once delivery, downtime, recovery."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.errors import InvalidArgument, NotFound
from bot.services.alerts import AlertService
from bot.services.digests import DigestService
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter, permanent, transient
from tests.support.digests import FakeDigestPoster

GUILD = 1
NEWS = 100
OTHER = 200
# The clock fixture starts at 2026-11-26 12:00 UTC; a daily 09:00 UTC digest added then is first due here.
FIRST_DUE = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def digests(store: Store, clock: ManualClock, alert_service: AlertService) -> DigestService:
    return DigestService(store, clock, alerts=alert_service, rng=random.Random(3))


@pytest.fixture
def digest_poster() -> FakeDigestPoster:
    return FakeDigestPoster()


async def add(digests: DigestService, channel: int = NEWS, **options: object) -> None:
    await digests.add(guild_id=GUILD, channel_id=channel, channel_kind="text", **options)  # type: ignore[arg-type]


async def test_digest_add_first_digest_covers_the_last_period(digests: DigestService) -> None:
    await add(digests)
    [record] = await digests.list_digests(GUILD)
    assert (record.every, record.minute, record.timezone, record.top, record.min_heat) == ("daily", 540, "UTC", 5, 70)
    assert record.next_due_at == FIRST_DUE
    assert record.covers_from == FIRST_DUE - timedelta(days=1)


async def test_digest_holds_the_hottest_stories_of_its_period_in_order(
    digests: DigestService, writer: StoryWriter, clock: ManualClock, digest_poster: FakeDigestPoster
) -> None:
    clock.set(FIRST_DUE - timedelta(days=1, hours=1))
    writer.add(180, title="Before the period")
    clock.set(FIRST_DUE - timedelta(hours=20))
    await add(digests, top=3)
    warm = writer.add(90, title="Warm")
    hottest = writer.add(150, title="Hottest")
    writer.add(60, title="Below the line")
    writer.add(-1, title="Suppressed")
    warmer = writer.add(120, title="Warmer")
    third = writer.add(110, title="Also warm, third")
    clock.set(FIRST_DUE - timedelta(minutes=1))
    assert (await digests.tick(digest_poster)).scheduled == 0
    assert digest_poster.posted == []
    clock.set(FIRST_DUE)
    writer.add(170, title="At the due time: next period")
    report = await digests.tick(digest_poster)
    assert (report.scheduled, report.sent) == (1, 1)
    [posted] = digest_poster.in_channel(NEWS)
    # top:3 of the period at or above 70, hottest first: Warm (90) is fourth and stays out.
    assert posted.story_ids == [hottest, warmer, third]
    assert warm not in posted.story_ids


async def test_digest_topic_and_min_heat_filter(
    digests: DigestService, writer: StoryWriter, clock: ManualClock, digest_poster: FakeDigestPoster
) -> None:
    writer.add(100, topics=["Cloud"])  # makes the topic known before the digest is added
    clock.set(FIRST_DUE - timedelta(hours=2))
    ai = writer.add(95, topics=["AI", "Cloud"])
    writer.add(140, topics=["Cloud"])
    writer.add(80, topics=["AI"])
    await add(digests, topic="ai", min_heat=90)
    clock.set(FIRST_DUE)
    await digests.tick(digest_poster)
    [posted] = digest_poster.posted
    assert posted.story_ids == [ai]
    assert posted.digest.topic_name == "AI"


async def test_digest_marks_stories_already_posted_as_alerts(
    digests: DigestService,
    alert_service: AlertService,
    writer: StoryWriter,
    clock: ManualClock,
    digest_poster: FakeDigestPoster,
    poster: FakePoster,
) -> None:
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text", min_heat=100)
    await add(digests)
    clock.set(FIRST_DUE - timedelta(hours=3))
    alerted = writer.add(130)
    quiet = writer.add(80)
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) == [alerted]
    clock.set(FIRST_DUE)
    await digests.tick(digest_poster)
    [posted] = digest_poster.posted
    assert [(i.story.id, i.alerted) for i in posted.digest.items] == [(alerted, True), (quiet, False)]


async def test_digest_with_nothing_to_report_sends_nothing_and_moves_on(
    digests: DigestService, writer: StoryWriter, clock: ManualClock, digest_poster: FakeDigestPoster
) -> None:
    await add(digests)
    clock.set(FIRST_DUE)
    report = await digests.tick(digest_poster)
    assert (report.scheduled, report.empty, report.sent) == (1, 1, 0)
    assert digest_poster.posted == []
    [record] = await digests.list_digests(GUILD)
    assert record.next_due_at == FIRST_DUE + timedelta(days=1)
    # The next period starts where the empty one ended.
    clock.set(FIRST_DUE + timedelta(hours=1))
    story = writer.add(99)
    clock.set(FIRST_DUE + timedelta(days=1))
    await digests.tick(digest_poster)
    assert [p.story_ids for p in digest_poster.posted] == [[story]]


async def test_digest_is_sent_once_however_often_ticks_run(
    digests: DigestService,
    store: Store,
    clock: ManualClock,
    alert_service: AlertService,
    writer: StoryWriter,
    digest_poster: FakeDigestPoster,
) -> None:
    await add(digests)
    clock.set(FIRST_DUE - timedelta(hours=1))
    writer.add(100)
    clock.set(FIRST_DUE)
    # A second process on the same store ticks too.
    other = DigestService(store, clock, alerts=alert_service)
    await digests.tick(digest_poster)
    await other.tick(digest_poster)
    clock.advance(timedelta(minutes=5))
    await digests.tick(digest_poster)
    assert len(digest_poster.posted) == 1


async def test_digest_due_while_down_is_sent_once_late_then_schedule_continues(
    digests: DigestService, writer: StoryWriter, clock: ManualClock, digest_poster: FakeDigestPoster
) -> None:
    await add(digests)
    clock.set(FIRST_DUE - timedelta(hours=2))
    first = writer.add(100)
    clock.set(FIRST_DUE + timedelta(hours=11))  # the bot was down at 09:00
    second = writer.add(101)  # first seen after the due time: next period
    await digests.tick(digest_poster)
    await digests.tick(digest_poster)
    assert [p.story_ids for p in digest_poster.posted] == [[first]]
    assert digest_poster.posted[0].digest.due_at == FIRST_DUE
    [record] = await digests.list_digests(GUILD)
    assert record.next_due_at == FIRST_DUE + timedelta(days=1)
    clock.set(FIRST_DUE + timedelta(days=1))
    await digests.tick(digest_poster)
    assert [p.story_ids for p in digest_poster.posted] == [[first], [second]]


async def test_digest_more_than_a_period_late_is_skipped_and_the_latest_covers_since_the_last(
    digests: DigestService, writer: StoryWriter, clock: ManualClock, digest_poster: FakeDigestPoster
) -> None:
    await add(digests)
    clock.set(FIRST_DUE - timedelta(hours=2))
    old = writer.add(100)
    clock.set(FIRST_DUE + timedelta(days=1, hours=5))
    newer = writer.add(120)
    clock.set(FIRST_DUE + timedelta(days=2, hours=1))  # down across two due times
    report = await digests.tick(digest_poster)
    assert (report.skipped_late, report.sent) == (1, 1)
    [posted] = digest_poster.posted
    assert posted.digest.due_at == FIRST_DUE + timedelta(days=2)
    assert posted.story_ids == [newer, old]


async def test_digest_transient_failure_is_retried_and_posted_once(
    digests: DigestService, writer: StoryWriter, clock: ManualClock, digest_poster: FakeDigestPoster
) -> None:
    await add(digests)
    clock.set(FIRST_DUE - timedelta(hours=2))
    writer.add(100)
    clock.set(FIRST_DUE)
    digest_poster.fail(NEWS, transient())
    assert (await digests.tick(digest_poster)).retrying == 1
    [record] = await digests.list_digests(GUILD)
    assert record.last_error == "503 Service Unavailable"
    clock.advance(timedelta(minutes=1))
    assert (await digests.tick(digest_poster)).sent == 1
    assert len(digest_poster.posted) == 1
    [record] = await digests.list_digests(GUILD)
    assert record.last_error is None
    assert record.last_sent_at == clock.now()


async def test_digest_lost_reply_is_found_in_the_channel_not_sent_again(
    digests: DigestService, writer: StoryWriter, clock: ManualClock, digest_poster: FakeDigestPoster
) -> None:
    await add(digests)
    clock.set(FIRST_DUE - timedelta(hours=2))
    writer.add(100)
    clock.set(FIRST_DUE)
    digest_poster.lose_reply = 1
    await digests.tick(digest_poster)
    clock.advance(timedelta(minutes=1))
    report = await digests.tick(digest_poster)
    assert (report.sent, report.found_existing) == (1, 1)
    assert len(digest_poster.posted) == 1


async def test_digest_claim_left_by_a_crash_is_recovered_once(
    digests: DigestService,
    store: Store,
    writer: StoryWriter,
    clock: ManualClock,
    digest_poster: FakeDigestPoster,
) -> None:
    await add(digests)
    await add(digests, channel=OTHER)
    clock.set(FIRST_DUE - timedelta(hours=2))
    writer.add(100)
    clock.set(FIRST_DUE)

    class Crash(BaseException):
        pass

    class CrashingPoster(FakeDigestPoster):
        async def send_digest(self, channel_id: int, digest: object) -> int:
            await super().send_digest(channel_id, digest)  # type: ignore[arg-type]
            raise Crash  # the process dies after Discord created the message

    crashing = CrashingPoster()
    with pytest.raises(Crash):
        await digests.tick(crashing)
    assert len(await store.digests.claimed()) == 2
    # Restart: one digest is in its channel already, the other never made it.
    digest_poster.posted = [p for p in crashing.posted if p.channel_id == NEWS]
    assert await digests.recover(digest_poster) == 2
    await digests.tick(digest_poster)
    assert sorted(p.channel_id for p in digest_poster.posted) == [NEWS, OTHER]


async def test_digest_channel_fault_fails_this_digest_and_keeps_the_schedule(
    digests: DigestService, writer: StoryWriter, clock: ManualClock, digest_poster: FakeDigestPoster
) -> None:
    await add(digests)
    clock.set(FIRST_DUE - timedelta(hours=2))
    writer.add(100)
    clock.set(FIRST_DUE)
    digest_poster.fail(NEWS, permanent())
    assert (await digests.tick(digest_poster)).failed == 1
    [record] = await digests.list_digests(GUILD)
    assert record.last_error == "Missing Permissions (Send Messages)"
    assert record.next_due_at == FIRST_DUE + timedelta(days=1)
    clock.advance(timedelta(hours=1))
    await digests.tick(digest_poster)
    assert digest_poster.posted == []


async def test_digest_not_out_within_its_period_is_dropped(
    digests: DigestService, writer: StoryWriter, clock: ManualClock, digest_poster: FakeDigestPoster
) -> None:
    await add(digests, every="hourly", at="00:00")
    clock.set(clock.now().replace(minute=30))
    writer.add(100)
    clock.set(clock.now().replace(minute=0) + timedelta(hours=1))
    digest_poster.fail(NEWS, transient("429 Too Many Requests", retry_after=3600))
    await digests.tick(digest_poster)
    clock.advance(timedelta(hours=1))
    report = await digests.tick(digest_poster)
    # The held digest expired; the new hour's one has nothing new to say.
    assert report.failed == 1
    assert digest_poster.posted == []


async def test_digest_readd_updates_and_keeps_the_period_start(
    digests: DigestService, clock: ManualClock
) -> None:
    await add(digests)
    [before] = await digests.list_digests(GUILD)
    clock.advance(timedelta(hours=1))
    result = await digests.add(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", every="weekly", day="friday", at="18:30",
        timezone="Europe/Berlin", top=10, min_heat=100,
    )
    assert not result.created
    [after] = await digests.list_digests(GUILD)
    assert (after.every, after.weekday, after.minute, after.timezone, after.top, after.min_heat) == (
        "weekly", 4, 18 * 60 + 30, "Europe/Berlin", 10, 100,
    )
    assert after.covers_from == before.covers_from
    assert after.next_due_at == datetime(2026, 11, 27, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timezone": "Europe/Berln"}, "Europe/Berlin"),
        ({"at": "9am"}, "HH:MM"),
        ({"top": 0}, "top must be between 1 and 10"),
        ({"top": 11}, "top must be between 1 and 10"),
        ({"day": "monday"}, "only applies to weekly"),
        ({"every": "monthly"}, "hourly, daily, weekly"),
        ({"min_heat": 900}, "min_heat"),
    ],
)
async def test_digest_add_bad_input_says_what_to_type_and_changes_nothing(
    digests: DigestService, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        await add(digests, **options)
    assert await digests.list_digests(GUILD) == []


async def test_digest_remove_and_preview(
    digests: DigestService, writer: StoryWriter, clock: ManualClock, digest_poster: FakeDigestPoster
) -> None:
    with pytest.raises(NotFound):
        await digests.preview(guild_id=GUILD, channel_id=NEWS)
    await add(digests)
    clock.set(FIRST_DUE - timedelta(hours=2))
    story = writer.add(100)
    _record, preview = await digests.preview(guild_id=GUILD, channel_id=NEWS)
    assert [i.story.id for i in preview.items] == [story]
    assert digest_poster.posted == []
    assert await digests.remove(guild_id=GUILD, channel_id=NEWS) == 1
    assert await digests.list_digests(GUILD) == []
    with pytest.raises(NotFound):
        await digests.remove(guild_id=GUILD, channel_id=NEWS)
