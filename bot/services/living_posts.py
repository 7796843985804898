"""Living posts: alert messages that follow their story after posting, and one post per event in a channel.

- Dedupe: before a story is posted to a channel, the channel's posts of the last 72 hours (and the stories
  already listed on them) are checked for the same event (`bot.services.same_event`: they list each other in
  `related`, or their titles are near-identical). A match is not posted: it is listed on that post ("Also
  covered by"), and its own ledger row records the post's message, so it is never posted there later either.
- Heat edits: a message posted in the last 48 hours is edited when its story's heat moved by HEAT_STEP or more
  since the message was written or crossed a line of the channel (a subscription's min_heat), or the story
  was suppressed (edited to say so, never deleted), or new coverage
  was listed on it. At most one edit per message per EDIT_INTERVAL (the latest heat wins), biggest change first,
  EDITS_PER_TICK at most per tick, right after the tick's posts.
- The edit ledger (`db` LivingPostStore) makes edits survive restarts: an edit is claimed (its window pushed
  ahead) before it is sent and recorded after; a crash in between only means the same content is written again
  after the window. A message or channel that is gone is recorded and never retried.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.clock import Clock
from bot.render.stories import LivingPost
from bot.services.alerts import retry_delay
from bot.services.same_event import TitleKey, same_event_title, title_key
from db.interfaces import Store
from db.models import ChannelKind, DueEdit, StoryView

log = logging.getLogger(__name__)

__all__ = [
    "DEDUPE_WINDOW",
    "EDITS_PER_TICK",
    "EDIT_INTERVAL",
    "EDIT_WINDOW",
    "HEAT_STEP",
    "EditFailed",
    "EditReport",
    "LivingPosts",
    "PostEditor",
]

DEDUPE_WINDOW = timedelta(hours=72)
EDIT_WINDOW = timedelta(hours=48)
EDIT_INTERVAL = timedelta(minutes=10)
HEAT_STEP = 10
EDITS_PER_TICK = 25
KEY_CACHE = 200_000
PRUNE_EVERY = timedelta(hours=1)
# A role is pinged at most once per channel in this long (later posts in the window go out without the ping).
PING_INTERVAL = timedelta(minutes=10)
# Transient failures of one message's edit before it is given up (each waits longer, up to 15 minutes).
EDIT_ATTEMPTS = 6


class EditFailed(Exception):
    """An edit did not go through. `gone`: the message or its channel no longer exists (or cannot be reached
    for good); else transient, tried again after `retry_after` seconds when Discord said, else a backoff."""

    def __init__(self, reason: str, *, gone: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone
        self.retry_after = retry_after


@runtime_checkable
class PostEditor(Protocol):
    """A poster that can rewrite a message it posted (Discord: PATCH /channels/{id}/messages/{id})."""

    async def edit(self, channel_id: int, message_id: int, post: LivingPost) -> None:
        """Rewrite the message in `channel_id` (a forum post: its thread) to show `post`; raise EditFailed."""
        ...


@dataclass(frozen=True, slots=True)
class EditReport:
    edited: int = 0
    gone: int = 0
    retrying: int = 0


class LivingPosts:
    """The alert service's companion: decides merges before a post and edits after (no Discord types here)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        edits_per_tick: int = EDITS_PER_TICK,
        rng: random.Random | None = None,
    ) -> None:
        self._living = store.living
        self._roles = store.roles
        self._lookups = store.lookups
        self._clock = clock
        self._edits_per_tick = edits_per_tick
        self._rng = rng if rng is not None else random.Random()
        # Normalised titles of stories checked recently: a busy channel compares each new story with thousands.
        self._keys: dict[str, TitleKey] = {}
        self._pruned_at: datetime | None = None

    # --- one post per event --------------------------------------------------------------------------------

    async def absorb(self, channel_id: int, story: StoryView) -> int | None:
        """When the channel showed the same event in the last 72 hours: list `story` on that post (its message
        is edited by a later pass) and return the post's message id; None when the story should be posted."""
        now = self._clock.now()
        key = self._key(story.title)
        # The rule needs half of the shorter title's words to match exactly: two, unless this title is that short
        # (a title of two words and two numbers matched by a longer one is the one case this misses).
        shown = await self._living.recent_posts(
            channel_id, story, now - DEDUPE_WINDOW, words=sorted(key.words), min_shared=min(2, len(key.words))
        )
        if not shown:
            return None
        # Links the publisher made beat a title match; among equals, the earliest post.
        match = next((s for s in shown if s.related), None)
        if match is None:
            match = next(
                (
                    s
                    for s in shown
                    if same_event_title(key, story.provider_domain, self._key(s.title), s.provider_domain)
                ),
                None,
            )
        if match is None:
            return None
        added = await self._living.add_coverage(
            channel_id=channel_id,
            story_id=story.id,
            post_story_id=match.post_story_id,
            words=sorted(key.words),
            now=now,
        )
        log.info(
            "story %d is the same event as story %d in channel %d: %s",
            story.id,
            match.post_story_id,
            channel_id,
            "listed on its post" if added else "already listed",
        )
        return match.message_id

    def _key(self, title: str) -> TitleKey:
        key = self._keys.get(title)
        if key is None:
            if len(self._keys) >= KEY_CACHE:
                self._keys.clear()  # titles of old posts fall out of the window anyway
            key = self._keys[title] = title_key(title)
        return key

    async def set_dedupe(self, channel_id: int, dedupe: bool | None) -> bool:
        """Turn the one-post-per-event rule on or off for a channel (None: leave it); whether it is on now."""
        if dedupe is not None:
            await self._living.set_dedupe(channel_id, dedupe)
            return dedupe
        return await self._living.dedupe(channel_id)

    async def set_ping_heat(self, channel_id: int, ping_heat: int | None) -> int | None:
        """Stories at or above `ping_heat` ping their topics' roles in the channel (0: never; None: leave it);
        the line now."""
        if ping_heat is not None:
            await self._roles.set_ping_heat(channel_id, ping_heat or None)
            return ping_heat or None
        return await self._roles.ping_heat(channel_id)

    async def pings_for(self, channel_id: int, guild_id: int, story: StoryView) -> list[int]:
        """The roles a new post of `story` pings: its topics' roles, when it is at or above the channel's ping
        line, except those pinged in the channel in the last PING_INTERVAL."""
        line = await self._roles.ping_heat(channel_id)
        if line is None or story.heat is None or story.heat < line:
            return []
        now = self._clock.now()
        return await self._roles.roles_to_ping(
            channel_id=channel_id, guild_id=guild_id, story_id=story.id, since=now - PING_INTERVAL
        )

    async def pinged(self, channel_id: int, role_ids: list[int]) -> None:
        """Remember that these roles were just pinged in the channel."""
        await self._roles.record_pings(channel_id, role_ids, self._clock.now())

    async def posted(self, channel_id: int, kind: ChannelKind, story: StoryView, message_id: int) -> None:
        """Remember a new alert message so it can follow its story (a forum post lives in its own thread)."""
        await self._living.record_post(
            channel_id=channel_id,
            story_id=story.id,
            message_id=message_id,
            edit_channel_id=message_id if kind == "forum" else channel_id,
            heat=story.heat,
            words=sorted(self._key(story.title).words),
            now=self._clock.now(),
        )

    async def coverage_of(self, channel_id: int, story_id: int) -> list[StoryView]:
        """The stories listed on a channel's post of `story_id`, in the order they came."""
        return await self._lookups.stories(await self._living.coverage(channel_id, story_id))

    # --- edits ---------------------------------------------------------------------------------------------

    async def edit_pass(self, editor: object) -> EditReport:
        """Edit the messages whose story changed enough, biggest change first (nothing when the poster cannot
        edit, e.g. a test double)."""
        now = self._clock.now()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            pruned = await self._living.prune_words(now - DEDUPE_WINDOW)
            if pruned:
                log.debug("living posts: forgot %d title words older than the dedupe window", pruned)
        if not isinstance(editor, PostEditor):
            return EditReport()
        due = await self._living.due_edits(
            now, since=now - EDIT_WINDOW, min_change=HEAT_STEP, limit=self._edits_per_tick
        )
        edited = gone = retrying = 0
        for item in due:
            outcome = await self._edit(editor, item)
            edited += outcome == "edited"
            gone += outcome == "gone"
            retrying += outcome == "retrying"
        if due:
            log.info("living posts: %d edited, %d gone, %d to retry", edited, gone, retrying)
        return EditReport(edited, gone, retrying)

    async def _edit(self, editor: PostEditor, item: DueEdit) -> str:
        now = self._clock.now()
        if not await self._living.claim_edit(item.channel_id, item.story_id, now, until=now + EDIT_INTERVAL):
            return "taken"
        found = await self._lookups.stories([item.story_id])
        if not found:
            return "taken"
        story = found[0]
        post = LivingPost.of(
            story,
            await self.coverage_of(item.channel_id, item.story_id),
            previous_heat=item.shown_heat,
            updated_at=now,
        )
        try:
            await editor.edit(item.edit_channel_id, item.message_id, post)
        except EditFailed as exc:
            if exc.gone or item.attempts + 1 >= EDIT_ATTEMPTS:
                log.warning(
                    "message %d of channel %d will not be edited again: %s",
                    item.message_id,
                    item.channel_id,
                    exc.reason,
                )
                await self._living.edit_failed(
                    item.channel_id, item.story_id, error=exc.reason, retry_at=None, now=self._clock.now()
                )
                return "gone"
            delay = (
                timedelta(seconds=max(exc.retry_after, 0.0))
                if exc.retry_after is not None
                else retry_delay(item.attempts + 1, self._rng)
            )
            await self._living.edit_failed(
                item.channel_id, item.story_id, error=exc.reason, retry_at=now + delay, now=self._clock.now()
            )
            return "retrying"
        await self._living.edit_done(
            item.channel_id, item.story_id, heat=story.heat, version=item.version, now=self._clock.now()
        )
        return "edited"
