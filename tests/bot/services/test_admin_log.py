"""bot.services.admin_log over the real AlertService on both engines: what reaches the log channel, and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.clock import ManualClock
from bot.services.admin_log import AdminLog
from bot.services.alerts import AlertService
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter, permanent

GUILD = 1
NEWS = 100
LOG = 900


@dataclass
class TextLog:
    posted: list[tuple[int, str]] = field(default_factory=list)

    async def post_text(self, channel_id: int, text: str) -> None:
        self.posted.append((channel_id, text))


async def test_admin_log_tells_a_failure_once_then_the_recovery(
    store: Store, clock: ManualClock, alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    admin_log = AdminLog(store, clock)
    texts = TextLog()
    admin_log.poster = texts
    alert_service.add_listener(admin_log)
    alert_service.add_listener(admin_log)  # wired twice (a restarted bot): still told once
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    await admin_log.set_channel(GUILD, LOG, actor_id=7)
    writer.add(150)
    poster.fail(NEWS, permanent(), permanent())

    await alert_service.tick(poster)
    clock.advance(timedelta(minutes=16))
    await alert_service.tick(poster)
    clock.advance(timedelta(minutes=16))
    await alert_service.tick(poster)

    assert [channel for channel, _ in texts.posted] == [LOG, LOG]
    assert texts.posted[0][1].startswith(f"⚠ Alerts to <#{NEWS}> are failing: Missing Permissions")
    assert texts.posted[1][1] == f"✅ Alerts to <#{NEWS}> are posting again."
    assert len(poster.sent) == 1


async def test_admin_log_without_a_log_channel_tells_nothing(
    store: Store, clock: ManualClock, alert_service: AlertService, writer: StoryWriter, poster: FakePoster
) -> None:
    admin_log = AdminLog(store, clock)
    texts = TextLog()
    admin_log.poster = texts
    alert_service.add_listener(admin_log)
    await alert_service.add_subscription(guild_id=GUILD, channel_id=NEWS, channel_kind="text")
    writer.add(150)
    poster.fail(NEWS, permanent())

    await alert_service.tick(poster)
    clock.advance(timedelta(minutes=16))
    await alert_service.tick(poster)

    assert texts.posted == []
    assert len(poster.sent) == 1
