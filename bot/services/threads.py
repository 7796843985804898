"""Related-story threads and forum tags (issue 10): an alert message gets a thread with the story's related
stories, and later coverage of the same event is posted in it; forum posts get the tags of their topics.

- `posted` owes a new alert message its thread (a forum post is its own thread) and its related list;
  `covered` owes the thread of the post that lists a story as "also covered" a message about it.
- `thread_pass` runs after each alert tick: it starts the owed threads, then sends the owed messages, hottest
  story first, `PER_TICK` of each at most per tick, through the poster (which spends the same REST budget as posts).
- Every step goes through the thread ledger (`db` ThreadStore): claimed before Discord is asked, recorded
  after. Discord gives a message's thread the message's id and refuses a second thread (160004), so a crash
  between starting a thread and recording it is resolved by asking again; a message claimed and never
  recorded is looked for in the thread before it is sent again. A message, thread or channel that is gone is
  recorded and never tried again; other failures are retried with the posts' backoff, `ATTEMPTS` times at most.
- Forum tags: `applied_tags` are the forum's tags whose names match the story's topics (case-insensitive, at
  most 5); with create_tags, missing ones are created first while the forum has fewer than 20.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal, Protocol, runtime_checkable

from bot.clock import Clock
from bot.render.threads import coverage_marker, coverage_message, related_message, tag_name, thread_name
from bot.services.alerts import retry_delay
from db.interfaces import Store
from db.models import ChannelKind, DueThread, DueThreadPost, ShardSet, StoryView, ThreadOptions

log = logging.getLogger(__name__)

__all__ = [
    "APPLIED_TAGS_LIMIT",
    "FORUM_TAGS_LIMIT",
    "RelatedThreads",
    "TagPlan",
    "ThreadFailed",
    "ThreadPoster",
    "ThreadReport",
    "plan_tags",
]

# Discord: a forum has at most 20 available tags, and a post carries at most 5 of them.
FORUM_TAGS_LIMIT = 20
APPLIED_TAGS_LIMIT = 5
# Threads started, and messages sent in threads, per tick at most (each kind). Threads keep pace with posts (a
# fan-out of one story to 200 channels owes 200 threads at once); the REST pacer spreads the requests out.
PER_TICK = 250
# A claim holds the step this long; a crash leaves it held until then (or until the next start releases it).
CLAIM_HOLD = timedelta(minutes=10)
ATTEMPTS = 6
RELATED_LIMIT = 20
# A thread archives itself after this many minutes without a message (Discord: 60, 1440, 4320 or 10080). A day
# keeps it in the channel's thread list while the story is news; later coverage reopens it.
AUTO_ARCHIVE_MINUTES: Final[Literal[1440]] = 1440


class ThreadFailed(Exception):
    """A thread step did not go through. `gone`: the message, thread or channel no longer exists or cannot be
    used for good; else transient, tried again after `retry_after` seconds when Discord said, else a backoff."""

    def __init__(self, reason: str, *, gone: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone
        self.retry_after = retry_after


@runtime_checkable
class ThreadPoster(Protocol):
    """A poster that can start threads on its messages and post in them (Discord)."""

    async def start_thread(self, channel_id: int, message_id: int, name: str, *, heat: int | None) -> int:
        """Start the message's thread (or find the one it has); its id. Raise ThreadFailed."""
        ...

    async def post_in_thread(self, thread_id: int, text: str, *, heat: int | None) -> int:
        """Send `text` in the thread (no mentions); the message id. Raise ThreadFailed."""
        ...

    async def find_in_thread(self, thread_id: int, marker: str) -> int | None:
        """Our message in the thread whose text contains `marker`, if there is one. Raise ThreadFailed."""
        ...


@dataclass(frozen=True, slots=True)
class ThreadReport:
    started: int = 0
    posted: int = 0
    found_existing: int = 0
    gone: int = 0
    retrying: int = 0


@dataclass(frozen=True, slots=True)
class TagPlan:
    """The forum tags a post gets: `apply` (names as the forum has them, at most 5), `create` (names of tags to
    add to the forum first, within its 20) and `skipped` (topics that get no tag: no room, or too long)."""

    apply: tuple[str, ...]
    create: tuple[str, ...]
    skipped: tuple[str, ...]


def plan_tags(available: Sequence[str], topics: Sequence[str], *, create: bool, taken: int | None = None) -> TagPlan:
    """Match the story's topics to the forum's tag names (`available`), case-insensitively; with `create`, the
    topics without a tag get one while the forum has room (20 tags in all, `taken` of them used: every tag it
    has, also those the bot may not apply) and the post room (5)."""
    by_key = {name.casefold(): name for name in available}
    apply: list[str] = []
    missing: list[str] = []
    for topic in dict.fromkeys(topics):
        found = by_key.get(topic.casefold())
        if found is not None:
            if found not in apply:
                apply.append(found)
        elif topic.casefold() not in {m.casefold() for m in missing}:
            missing.append(topic)
    apply = apply[:APPLIED_TAGS_LIMIT]
    if not create:
        return TagPlan(tuple(apply), (), ())
    room = FORUM_TAGS_LIMIT - (len(available) if taken is None else taken)
    made: list[str] = []
    skipped: list[str] = []
    for topic in missing:
        name = tag_name(topic)
        if name is None or room <= 0 or len(apply) + len(made) >= APPLIED_TAGS_LIMIT:
            skipped.append(topic)
            continue
        made.append(name)
        room -= 1
    return TagPlan(tuple(apply), tuple(made), tuple(skipped))


class RelatedThreads:
    """The alert service's companion for threads (no Discord types here)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        per_tick: int = PER_TICK,
        rng: random.Random | None = None,
    ) -> None:
        self._threads = store.threads
        self._lookups = store.lookups
        self._clock = clock
        self._per_tick = per_tick
        self._rng = rng if rng is not None else random.Random()

    async def set_options(self, channel_id: int, *, threads: bool | None, create_tags: bool | None) -> ThreadOptions:
        """Turn threads / tag creation on or off for a channel (None: leave it); the options now."""
        if threads is None and create_tags is None:
            return await self.options(channel_id)
        return await self._threads.set_options(channel_id, threads=threads, create_tags=create_tags)

    async def options(self, channel_id: int) -> ThreadOptions:
        return (await self._threads.options([channel_id])).get(channel_id, ThreadOptions())

    async def options_of(self, channel_ids: Sequence[int]) -> dict[int, ThreadOptions]:
        """Each channel's options (both off for a channel never set)."""
        found = await self._threads.options(list(dict.fromkeys(channel_ids)))
        return {cid: found.get(cid, ThreadOptions()) for cid in channel_ids}

    async def posted(
        self, *, channel_id: int, guild_id: int, kind: ChannelKind, story: StoryView, message_id: int
    ) -> bool:
        """A new alert message: owe it a thread and the related list when the channel has threads on."""
        if kind == "console" or not (await self.options(channel_id)).threads:
            return False
        return await self._threads.open_thread(
            channel_id=channel_id,
            story_id=story.id,
            guild_id=guild_id,
            message_id=message_id,
            # A forum post is a thread already, with its starter message's id.
            thread_id=message_id if kind == "forum" else None,
            heat=story.heat,
            now=self._clock.now(),
        )

    async def covered(self, channel_id: int, story_id: int) -> bool:
        """A story listed as "also covered" on a post of the channel: owe the post's thread a message about it."""
        return await self._threads.queue_coverage(channel_id, story_id, self._clock.now())

    async def recover(self, *, shards: ShardSet | None = None) -> int:
        """At start: thread work claimed and never recorded (a crash) is due at once; whether it reached Discord
        is checked before anything is sent again. With `shards`, only their guilds (other processes' claims may be
        in flight)."""
        guilds = [g for g in await self._threads.claimed_guilds() if shards is None or shards.owns(g)]
        released = await self._threads.release_claims(guilds, self._clock.now())
        if released:
            log.info("threads: %d unrecorded steps of an earlier run will be checked and finished", released)
        return released

    async def thread_pass(self, poster: object, *, shards: ShardSet | None = None) -> ThreadReport:
        """Start the owed threads, then send the owed messages (nothing when the poster cannot, e.g. the
        console)."""
        if not isinstance(poster, ThreadPoster):
            return ThreadReport()
        tally: dict[str, int] = {}
        now = self._clock.now()
        for item in await self._threads.due_threads(now, limit=self._per_tick):
            if shards is None or shards.owns(item.guild_id):
                outcome = await self._start(poster, item)
                tally[outcome] = tally.get(outcome, 0) + 1
        for post in await self._threads.due_posts(self._clock.now(), limit=self._per_tick):
            if shards is None or shards.owns(post.guild_id):
                outcome = await self._post(poster, post)
                tally[outcome] = tally.get(outcome, 0) + 1
        report = ThreadReport(
            started=tally.get("started", 0),
            posted=tally.get("posted", 0),
            found_existing=tally.get("found", 0),
            gone=tally.get("gone", 0),
            retrying=tally.get("retrying", 0),
        )
        if any(tally.get(k) for k in ("started", "posted", "found", "gone", "retrying")):
            log.info(
                "threads: %d started, %d messages posted, %d found already there, %d gone, %d to retry",
                report.started,
                report.posted,
                report.found_existing,
                report.gone,
                report.retrying,
            )
        return report

    def _retry_at(self, exc: ThreadFailed, attempts: int) -> timedelta | None:
        if exc.gone or attempts + 1 >= ATTEMPTS:
            return None
        if exc.retry_after is not None:
            return timedelta(seconds=max(exc.retry_after, 0.0))
        return retry_delay(attempts + 1, self._rng)

    async def _start(self, poster: ThreadPoster, item: DueThread) -> str:
        now = self._clock.now()
        if not await self._threads.claim_thread(item.channel_id, item.story_id, now, until=now + CLAIM_HOLD):
            return "taken"
        found = await self._lookups.stories([item.story_id])
        if not found:
            await self._threads.thread_failed(
                item.channel_id, item.story_id, error="the story is gone", retry_at=None, now=now
            )
            return "gone"
        try:
            thread_id = await poster.start_thread(
                item.channel_id, item.message_id, thread_name(found[0]), heat=item.heat
            )
        except ThreadFailed as exc:
            return await self._thread_failed(item, exc)
        await self._threads.thread_opened(item.channel_id, item.story_id, thread_id, self._clock.now())
        return "started"

    async def _thread_failed(self, item: DueThread, exc: ThreadFailed) -> str:
        delay = self._retry_at(exc, item.attempts)
        now = self._clock.now()
        await self._threads.thread_failed(
            item.channel_id, item.story_id, error=exc.reason, retry_at=None if delay is None else now + delay, now=now
        )
        if delay is None:
            log.warning("message %d of channel %d gets no thread: %s", item.message_id, item.channel_id, exc.reason)
            return "gone"
        return "retrying"

    async def _post(self, poster: ThreadPoster, post: DueThreadPost) -> str:
        now = self._clock.now()
        key = (post.channel_id, post.post_story_id, post.story_id)
        if not await self._threads.claim_post(*key, now, until=now + CLAIM_HOLD):
            return "taken"
        text, marker = await self._message(post)
        if text is None:
            await self._threads.post_done(*key, message_id=None, now=self._clock.now())
            return "empty"
        try:
            message_id = await poster.find_in_thread(post.thread_id, marker) if post.unsure else None
            found = message_id is not None
            if message_id is None:
                message_id = await poster.post_in_thread(post.thread_id, text, heat=post.heat)
        except ThreadFailed as exc:
            delay = self._retry_at(exc, post.attempts)
            now = self._clock.now()
            await self._threads.post_failed(
                *key,
                error=exc.reason,
                retry_at=None if delay is None else now + delay,
                thread_gone=exc.gone,
                now=now,
            )
            if delay is None:
                log.warning(
                    "thread %d of channel %d: not posting there again: %s", post.thread_id, post.channel_id, exc.reason
                )
                return "gone"
            return "retrying"
        await self._threads.post_done(*key, message_id=message_id, now=self._clock.now())
        return "found" if found else "posted"

    async def _message(self, post: DueThreadPost) -> tuple[str | None, str]:
        """The text owed and what identifies it in the thread."""
        if post.kind == "related":
            links = await self._threads.related_links(
                post.post_story_id, channel_id=post.channel_id, guild_id=post.guild_id, limit=RELATED_LIMIT
            )
            text = related_message(links)
            return text, (text.splitlines()[0] if text else "")
        found = await self._lookups.stories([post.story_id])
        if not found:
            return None, ""
        return coverage_message(found[0]), coverage_marker(found[0])
