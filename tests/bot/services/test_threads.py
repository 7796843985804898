"""Related-story threads on both engines: a thread per alert message with its related stories, later coverage
posted there, every step through the thread ledger (never twice, a gone thread left alone); forum tag plans."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.render.threads import RELATED_HEADING
from bot.services.alerts import AlertService
from bot.services.living_posts import LivingPosts
from bot.services.threads import RelatedThreads, ThreadFailed, plan_tags
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter

CHANNEL = 601
FORUM = 602
GUILD = 9
EVENT = "Delhi airport evaluating computer vision tech to track passengers, ensure social distancing: CEO"
RETOLD = "Delhi Airport Evaluating 'computer Vision' Tech To Track Flyers, Ensure Social Distancing: Official"


@dataclass
class ThreadMessage:
    thread_id: int
    message_id: int
    text: str


@dataclass
class ThreadingPoster(FakePoster):
    """FakePoster with Discord's thread rules: a message has one thread, with the message's id; failures are
    scripted. `lose_next_answer`: the next step reaches Discord but its answer is lost (a timeout)."""

    threads: dict[int, str] = field(default_factory=dict)  # thread id -> name
    starts: int = 0
    in_threads: list[ThreadMessage] = field(default_factory=list)
    thread_failures: list[ThreadFailed] = field(default_factory=list)
    lose_next_answer: bool = False
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(50_000))

    def _lost(self) -> None:
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise ThreadFailed("timed out talking to Discord", gone=False)

    async def start_thread(self, channel_id: int, message_id: int, name: str, *, heat: int | None) -> int:
        self.starts += 1
        if self.thread_failures:
            raise self.thread_failures.pop(0)
        assert len(name) <= 100
        # Discord refuses a second thread on a message (160004); the poster reads that as "it is this one".
        self.threads.setdefault(message_id, name)
        self._lost()
        return message_id

    async def post_in_thread(self, thread_id: int, text: str, *, heat: int | None) -> int:
        if self.thread_failures:
            raise self.thread_failures.pop(0)
        assert thread_id in self.threads or thread_id in {s.message_id for s in self.sent}
        assert len(text) <= 2000
        message = ThreadMessage(thread_id, next(self._message_ids), text)
        self.in_threads.append(message)
        self._lost()
        return message.message_id

    async def find_in_thread(self, thread_id: int, marker: str) -> int | None:
        return next((m.message_id for m in self.in_threads if m.thread_id == thread_id and marker in m.text), None)

    def texts(self, thread_id: int) -> list[str]:
        return [m.text for m in self.in_threads if m.thread_id == thread_id]


@pytest.fixture
def threads(store: Store, clock: ManualClock) -> RelatedThreads:
    return RelatedThreads(store, clock, rng=random.Random(5))


@pytest.fixture
def service(store: Store, clock: ManualClock, threads: RelatedThreads) -> AlertService:
    living = LivingPosts(store, clock, rng=random.Random(3))
    return AlertService(store, clock, max_posts_per_tick=5, rng=random.Random(7), living=living, threads=threads)


@pytest.fixture
def poster() -> ThreadingPoster:
    return ThreadingPoster()


async def _follow(
    service: AlertService,
    writer: StoryWriter,
    *,
    channel: int = CHANNEL,
    kind: str = "text",
    threads: bool = True,
    dedupe: bool | None = None,
) -> None:
    writer.add(1)  # the store needs a heat event before the subscription takes its cursor
    await service.add_subscription(
        guild_id=GUILD,
        channel_id=channel,
        channel_kind=kind,  # type: ignore[arg-type]
        min_heat=70,
        threads=threads,
        dedupe=dedupe,
    )


async def test_a_posted_story_gets_a_thread_listing_its_related_stories_linked_to_our_post(
    service: AlertService, writer: StoryWriter, poster: ThreadingPoster
) -> None:
    # Dedupe off: with it on, a story that lists one the channel posted is that post's event (coverage).
    await _follow(service, writer, dedupe=False)
    earlier = writer.add(90, title="Chip maker unveils a new accelerator", url="https://a.example/chip")
    await service.tick(poster)
    story = writer.add(
        95,
        title="What the new silicon means for cloud prices " + "and more " * 20,
        related=["https://a.example/chip", "https://elsewhere.example/analysis"],
    )
    report = await service.tick(poster)

    [earlier_post] = [s for s in poster.sent if s.story_id == earlier]
    [post] = [s for s in poster.sent if s.story_id == story]
    assert report.threads_started == 1
    assert poster.starts == 2  # the earlier post got one too (with nothing related: no message in it)
    assert poster.threads[post.message_id].startswith("What the new silicon means")
    assert len(poster.threads[post.message_id]) == 100
    [listing] = poster.texts(post.message_id)
    assert listing.startswith(RELATED_HEADING)
    assert f"https://discord.com/channels/{GUILD}/{CHANNEL}/{earlier_post.message_id}" in listing
    assert "(<https://elsewhere.example/analysis>)" in listing
    assert poster.texts(earlier_post.message_id) == []


async def test_threads_off_starts_nothing(service: AlertService, writer: StoryWriter, poster: ThreadingPoster) -> None:
    await _follow(service, writer, threads=False)
    writer.add(90, related=["https://elsewhere.example/x"])
    report = await service.tick(poster)
    assert report.sent == 1
    assert poster.starts == 0
    assert poster.in_threads == []


async def test_later_coverage_of_the_same_event_is_posted_in_the_thread(
    service: AlertService, writer: StoryWriter, poster: ThreadingPoster, clock: ManualClock
) -> None:
    await _follow(service, writer)
    writer.add(90, title=EVENT, provider="compsmag.com")
    await service.tick(poster)
    clock.advance(timedelta(hours=2))
    writer.add(95, title=RETOLD, url="https://republicworld.com/delhi", provider="republicworld.com")
    report = await service.tick(poster)

    [post] = poster.sent
    assert report.covered == 1
    assert report.thread_messages == 1
    [coverage] = poster.texts(post.message_id)
    assert coverage.startswith("Also covered by **republicworld.com**")
    assert "(<https://republicworld.com/delhi>)" in coverage


async def test_a_lost_answer_never_makes_a_second_thread_or_message(
    service: AlertService, writer: StoryWriter, poster: ThreadingPoster, clock: ManualClock
) -> None:
    await _follow(service, writer)
    writer.add(90, related=["https://elsewhere.example/x"])
    poster.lose_next_answer = True  # the thread is started; the bot never hears so
    await service.tick(poster)
    clock.advance(timedelta(minutes=5))  # the backoff of a transient failure
    poster.lose_next_answer = False
    await service.tick(poster)  # asks again: Discord's one thread per message is the answer
    [post] = poster.sent
    assert list(poster.threads) == [post.message_id]
    poster.lose_next_answer = True  # now the related list is sent and its answer lost
    clock.advance(timedelta(minutes=5))
    await service.tick(poster)
    clock.advance(timedelta(minutes=5))
    await service.tick(poster)
    clock.advance(timedelta(minutes=30))
    await service.tick(poster)

    assert poster.starts == 2
    assert len(poster.texts(post.message_id)) == 1


async def test_claims_of_a_crashed_run_are_finished_after_a_restart_without_repeats(
    store: Store, service: AlertService, writer: StoryWriter, poster: ThreadingPoster, clock: ManualClock
) -> None:
    await _follow(service, writer)
    story = writer.add(90, related=["https://elsewhere.example/x"])
    await service.tick(poster)
    [post] = poster.sent
    # The thread and its list went out; then a crash left a coverage message claimed but unrecorded.
    await store.threads.open_thread(
        channel_id=CHANNEL,
        story_id=writer.add(80),
        guild_id=GUILD,
        message_id=777,
        thread_id=777,
        heat=80,
        now=clock.now(),
    )
    [due] = [p for p in await store.threads.due_posts(clock.now(), limit=10) if p.thread_id == 777]
    assert await store.threads.claim_post(
        due.channel_id, due.post_story_id, due.story_id, clock.now(), until=clock.now() + timedelta(minutes=10)
    )
    restarted = RelatedThreads(store, clock)
    assert await store.threads.due_posts(clock.now(), limit=10) == []
    assert await restarted.recover() == 1
    [again] = await store.threads.due_posts(clock.now(), limit=10)
    assert again.unsure
    assert (await store.threads.thread(CHANNEL, story)) is not None
    assert len(poster.texts(post.message_id)) == 1


async def test_a_deleted_message_or_thread_is_recorded_and_never_tried_again(
    store: Store, service: AlertService, writer: StoryWriter, poster: ThreadingPoster, clock: ManualClock
) -> None:
    await _follow(service, writer)
    story = writer.add(90, related=["https://elsewhere.example/x"])
    poster.thread_failures.append(ThreadFailed("the message was deleted", gone=True))
    await service.tick(poster)
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        await service.tick(poster)

    thread = await store.threads.thread(CHANNEL, story)
    assert thread is not None
    assert (thread.state, thread.last_error) == ("gone", "the message was deleted")
    assert poster.starts == 1
    assert poster.in_threads == []


async def test_a_forum_post_is_its_own_thread(
    store: Store, service: AlertService, writer: StoryWriter, poster: ThreadingPoster
) -> None:
    await _follow(service, writer, channel=FORUM, kind="forum")
    story = writer.add(90, related=["https://elsewhere.example/x"])
    await service.tick(poster)
    [post] = poster.sent
    thread = await store.threads.thread(FORUM, story)

    assert poster.starts == 0
    assert thread is not None
    assert (thread.state, thread.thread_id) == ("open", post.message_id)
    assert poster.texts(post.message_id)[0].startswith(RELATED_HEADING)


async def test_create_tags_is_refused_outside_forums(service: AlertService, writer: StoryWriter) -> None:
    writer.add(1)
    with pytest.raises(Exception, match="create_tags is for forum channels"):
        await service.add_subscription(
            guild_id=GUILD, channel_id=CHANNEL, channel_kind="text", min_heat=70, create_tags=True
        )


async def test_thread_options_are_listed_per_channel(service: AlertService, writer: StoryWriter) -> None:
    await _follow(service, writer, channel=FORUM, kind="forum")
    result = await service.add_subscription(guild_id=GUILD, channel_id=FORUM, channel_kind="forum", create_tags=True)
    listing = await service.list_subscriptions(GUILD)

    assert result.threads is not None
    assert (result.threads.threads, result.threads.create_tags) == (True, True)  # threads kept from before
    assert listing.threads[FORUM].create_tags


def test_tags_match_topics_case_insensitively_at_most_five() -> None:
    plan = plan_tags(["ai", "Robots", "Cloud"], ["AI", "robots", "Space"], create=False)
    assert plan == plan_tags(["ai", "Robots", "Cloud"], ["AI", "robots", "Space"], create=False)
    assert (plan.apply, plan.create, plan.skipped) == (("ai", "Robots"), (), ())
    many = plan_tags([f"t{i}" for i in range(8)], [f"T{i}" for i in range(8)], create=False)
    assert many.apply == ("t0", "t1", "t2", "t3", "t4")


def test_created_tags_stay_within_discords_twenty_and_name_limits() -> None:
    full = [f"tag {i}" for i in range(19)]
    plan = plan_tags(full, ["tag 3", "Quantum", "Space", "A topic name far over twenty characters"], create=True)
    assert plan.apply == ("tag 3",)
    assert plan.create == ("Quantum",)
    assert plan.skipped == ("Space", "A topic name far over twenty characters")
    moderated = plan_tags(["usable"], ["Quantum"], create=True, taken=20)
    assert (moderated.create, moderated.skipped) == ((), ("Quantum",))


async def test_a_thread_deleted_before_later_coverage_is_left_alone_after_one_try(
    store: Store, service: AlertService, writer: StoryWriter, poster: ThreadingPoster, clock: ManualClock
) -> None:
    await _follow(service, writer)
    first = writer.add(90, title="Chip maker unveils a new accelerator", url="https://a.example/chip")
    await service.tick(poster)
    [post] = poster.sent
    poster.thread_failures.append(ThreadFailed("the thread or channel no longer exists", gone=True))
    writer.add(95, title="What the new silicon means", related=["https://a.example/chip"])
    await service.tick(poster)
    clock.advance(timedelta(hours=1))
    writer.add(95, title="Cloud prices after the chip", related=["https://a.example/chip"])
    report = await service.tick(poster)
    thread = await store.threads.thread(CHANNEL, first)

    assert report.covered == 1  # still listed on the post, but nothing more is owed to the gone thread
    assert thread is not None
    assert (thread.thread_id, thread.state) == (post.message_id, "gone")
    assert poster.thread_failures == []
    assert poster.texts(post.message_id) == []
    assert await store.threads.due_posts(clock.now(), limit=10) == []
