"""The /alerts command group's shape and the text of its replies (the Discord round trip is in test_e2e_*)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import discord
import pytest

from bot.clock import ManualClock
from bot.errors import PermissionDenied
from bot.services.alerts import AlertService
from cogs.alerts import AlertsCog, _require_manager
from db.models import SubscriptionRecord
from tests.support.alerts import FakePoster, StoryWriter, permanent, transient

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def record(**changes: Any) -> SubscriptionRecord:
    base: dict[str, Any] = {
        "id": 1,
        "guild_id": 1,
        "channel_id": 100,
        "channel_kind": "text",
        "topic_id": None,
        "topic_name": None,
        "min_heat": 70,
        "min_quality": None,
        "cursor": 0,
        "created_at": NOW,
        "updated_at": NOW,
        "channel_paused_at": None,
        "auto_paused_reason": None,
        "failure_count": 0,
        "last_error": None,
        "last_error_at": None,
        "last_post_at": None,
        "guild_paused": False,
        "queued": 0,
    }
    base.update(changes)
    return SubscriptionRecord(**base)


def payload_of(alert_service: AlertService) -> dict[str, Any]:
    group = AlertsCog(alert_service).app_command
    assert group is not None
    tree = discord.app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    return group.to_dict(tree)


def test_alerts_group_is_guild_only_and_for_server_managers(alert_service: AlertService) -> None:
    payload = payload_of(alert_service)
    assert payload["name"] == "alerts"
    assert int(payload["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert payload["dm_permission"] is False
    names = sorted(option["name"] for option in payload["options"])
    assert names == ["add", "export", "import", "list", "log", "pause", "preview", "quiet", "remove", "resume"]


def test_alerts_add_offers_text_announcement_and_forum_channels(alert_service: AlertService) -> None:
    add = next(o for o in payload_of(alert_service)["options"] if o["name"] == "add")
    channel = next(o for o in add["options"] if o["name"] == "channel")
    assert set(channel["channel_types"]) >= {
        discord.ChannelType.text.value,
        discord.ChannelType.news.value,
        discord.ChannelType.forum.value,
    }
    assert all(o.get("description") for o in add["options"])


def test_require_manager_refuses_a_member_without_manage_server() -> None:
    interaction = SimpleNamespace(guild_id=5, permissions=discord.Permissions(send_messages=True))
    with pytest.raises(PermissionDenied, match="Manage Server"):
        _require_manager(cast(Any, interaction))


def test_require_manager_accepts_an_administrator() -> None:
    interaction = SimpleNamespace(guild_id=5, permissions=discord.Permissions(administrator=True))
    assert _require_manager(cast(Any, interaction)) == 5


def test_alerts_add_help_says_how_to_remove_the_quality_filter(alert_service: AlertService) -> None:
    add = next(o for o in payload_of(alert_service)["options"] if o["name"] == "add")
    min_quality = next(o for o in add["options"] if o["name"] == "min_quality")
    assert "0 = no quality filter" in min_quality["description"]


# ----- the replies of the commands themselves, over a real store on both engines ----------------------------

GUILD = 1
NEWS = 100


@dataclass
class Interaction:
    """What the /alerts callbacks touch of a discord.Interaction: a server manager in GUILD; replies recorded."""

    replies: list[str] = field(default_factory=list)
    guild_id: int = GUILD
    guild: None = None
    permissions: discord.Permissions = field(default_factory=lambda: discord.Permissions(manage_guild=True))

    def __post_init__(self) -> None:
        self._deferred = False
        self.response = SimpleNamespace(
            defer=self._defer, is_done=lambda: self._deferred, send_message=self._record
        )
        self.followup = SimpleNamespace(send=self._record)

    async def _defer(self, **_: Any) -> None:
        self._deferred = True

    async def _record(self, text: str, **_: Any) -> None:
        self.replies.append(text)


NEWS_CHANNEL = SimpleNamespace(id=NEWS, mention=f"<#{NEWS}>")


async def reply(command: Any, cog: AlertsCog, **options: Any) -> str:
    """The text an admin sees after running one /alerts command (the callback the command tree calls)."""
    interaction = Interaction()
    await command.callback(cog, cast(Any, interaction), **options)
    (text,) = interaction.replies
    return text


def line_of(listing: str, topic: str) -> str:
    """The /alerts list entry of one subscription of NEWS (its first line)."""
    return next(line for line in listing.splitlines() if f"<#{NEWS}> · **{topic}**" in line)


async def test_alerts_list_counts_on_each_subscription_only_what_it_queued(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    for heat in (100, 110, 120):
        writer.add(heat, topics=["AI"])
    cog = AlertsCog(alert_service)
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI", backfill=3
    )
    listing = await reply(AlertsCog.list_, cog)
    assert line_of(listing, "AI").endswith(" · 3 queued")
    assert "queued" not in line_of(listing, "every topic")  # the three are the AI backfill's, not its own
    # A story crossing the every-topic line joins the same channel queue; the channel's first send fails, so
    # all four still wait.
    writer.add(90, topics=["Cloud"])
    poster.fail(NEWS, transient())
    await alert_service.tick(poster)
    listing = await reply(AlertsCog.list_, cog)
    assert line_of(listing, "every topic").endswith(" · 1 queued")
    assert line_of(listing, "AI").endswith(" · 3 queued")


async def test_alerts_list_hands_a_removed_subscriptions_queue_to_the_one_still_posting_it(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    writer.add(120, topics=["AI"])
    writer.add(40, topics=["AI"])  # below every line: removing AI withdraws it
    cog = AlertsCog(alert_service)
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI", min_heat=30, backfill=2
    )
    before = await reply(AlertsCog.list_, cog)
    assert line_of(before, "AI").endswith(" · 2 queued")
    assert "queued" not in line_of(before, "every topic")
    await alert_service.remove_subscription(guild_id=GUILD, channel_id=NEWS, topic="AI")
    assert line_of(await reply(AlertsCog.list_, cog), "every topic").endswith(" · 1 queued")


async def test_alerts_preview_shows_backfill_only_when_asked_and_why_each_story_is_queued(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    writer.add(130, title="Hot before anyone followed")
    writer.add(95, topics=["AI"], title="AI story from the backfill")
    cog = AlertsCog(alert_service)
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    nothing_asked = await reply(AlertsCog.preview, cog, channel=NEWS_CHANNEL)
    assert "Nothing is queued." in nothing_asked
    assert "Hot before anyone followed" not in nothing_asked
    assert "subscription would queue" not in nothing_asked
    assert "(`backfill:N` shows what a backfill would queue now)" in nothing_asked
    await alert_service.add_subscription(
        guild_id=GUILD, channel_id=NEWS, channel_kind="text", topic="AI", backfill=1
    )
    writer.add(90, title="Crossed the line later")
    poster.fail(NEWS, transient())  # the tick queues the crossing, then the first send fails: both wait
    await alert_service.tick(poster)
    queue = await reply(AlertsCog.preview, cog, channel=NEWS_CHANNEL)
    lines = {line.split("[")[1].split("]")[0]: line for line in queue.splitlines() if "[" in line}
    assert " · for **AI** (backfill)" in lines["AI story from the backfill"]
    assert lines["Crossed the line later"].endswith(" · for **every topic** (crossed heat 70)")
    assert "Hot before anyone followed" not in queue
    assert "subscription would queue" not in queue
    asked = await reply(AlertsCog.preview, cog, channel=NEWS_CHANNEL, backfill=2)
    assert (
        "`backfill:2` on the **every topic** subscription would queue 1 story: the hottest that qualify now"
        " (heat ≥ 70) and were never posted here." in asked
    )
    assert "• heat 130 · [Hot before anyone followed]" in asked
    on_ai = await reply(AlertsCog.preview, cog, channel=NEWS_CHANNEL, topic="AI", backfill=2)
    assert "Crossed the line later" not in on_ai  # the every-topic subscription queued it
    assert (
        "`backfill:2` on the **AI** subscription would queue nothing: no story that qualifies now (heat ≥ 70)"
        " is missing from this channel." in on_ai
    )


async def test_alerts_list_drops_the_old_error_once_a_post_goes_through_after_resume(
    alert_service: AlertService, writer: StoryWriter, poster: FakePoster, clock: ManualClock
) -> None:
    cog = AlertsCog(alert_service)
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    writer.add(90, title="Waited for the fix")
    poster.fail(NEWS, *[permanent("Unknown Channel") for _ in range(5)])
    for _ in range(5):
        await alert_service.tick(poster)
        clock.advance(timedelta(minutes=15))
    paused = await reply(AlertsCog.list_, cog)
    assert "paused automatically after repeated failures: Unknown Channel" in paused
    assert "Resumed alerts in <#100>." in await reply(AlertsCog.resume, cog, channel=NEWS_CHANNEL)
    assert "Unknown Channel" in await reply(AlertsCog.list_, cog)  # nothing has been posted yet
    await alert_service.tick(poster)
    assert poster.stories_in(NEWS) != []
    healthy = await reply(AlertsCog.list_, cog)
    assert "Unknown Channel" not in healthy
    assert "error" not in healthy
    assert "failing" not in healthy
    assert "last post <t:" in healthy
