"""The store queries behind `heatwave doctor` and the metrics endpoint, on both engines."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.services.alerts import AlertService
from db import DatabaseError, StoreLocation, parse_location, schema_status
from db.interfaces import Store
from tests.support.alerts import FakePoster, StoryWriter


async def test_every_channel_lists_alert_channels_of_every_guild(store: Store, alert_service: AlertService) -> None:
    await alert_service.add_subscription(guild_id=2, channel_id=20, channel_kind="announcement")
    await alert_service.add_subscription(guild_id=1, channel_id=10, channel_kind="text")
    await alert_service.add_subscription(guild_id=1, channel_id=11, channel_kind="forum")

    channels = await store.channels.every_channel()

    assert [(c.guild_id, c.channel_id, c.kind) for c in channels] == [
        (1, 10, "text"),
        (1, 11, "forum"),
        (2, 20, "announcement"),
    ]


async def test_pending_counts_follow_the_ledger(
    store: Store, alert_service: AlertService, writer: StoryWriter, clock: ManualClock, poster: FakePoster
) -> None:
    assert await store.ledger.pending_counts() == {"queued": 0, "claimed": 0}
    for heat in (90, 95, 99):
        writer.add(heat)
    await alert_service.add_subscription(guild_id=1, channel_id=10, channel_kind="text", backfill=3)
    assert await store.ledger.pending_counts() == {"queued": 3, "claimed": 0}

    await alert_service.tick(poster)

    assert await store.ledger.pending_counts() == {"queued": 0, "claimed": 0}
    assert len(poster.sent) == 3


async def test_schema_status_of_a_migrated_store_is_current(location: StoreLocation, store: Store) -> None:
    status = schema_status(location)
    assert status.current
    assert status.version == status.latest > 0


def test_schema_status_of_a_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    with pytest.raises(DatabaseError, match="heatwave ingest"):
        schema_status(parse_location(missing))
    assert not missing.exists()  # looking did not create it


def test_schema_status_reports_an_old_schema_without_migrating(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")
    conn.close()

    status = schema_status(parse_location(path))

    assert (status.version, status.current) == (1, False)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


async def test_admin_log_channel_is_set_replaced_and_cleared(store: Store, clock: ManualClock) -> None:
    assert await store.admin_log.get(1) is None
    await store.admin_log.set(1, 500, 77, clock.now())
    await store.admin_log.set(1, 501, 78, clock.now())

    record = await store.admin_log.get(1)

    assert record is not None
    assert (record.channel_id, record.set_by, record.set_at) == (501, 78, clock.now())
    assert await store.admin_log.clear(1)
    assert await store.admin_log.get(1) is None
    assert not await store.admin_log.clear(1)


async def test_admin_log_notice_is_claimed_once_an_hour(store: Store, clock: ManualClock) -> None:
    hour = timedelta(hours=1)
    log = store.admin_log
    assert await log.claim_notice(1, "failing:5", clock.now(), clock.now() - hour)
    clock.advance(timedelta(minutes=59))
    assert not await log.claim_notice(1, "failing:5", clock.now(), clock.now() - hour)
    assert await log.claim_notice(1, "paused:5", clock.now(), clock.now() - hour)  # another problem
    assert await log.claim_notice(2, "failing:5", clock.now(), clock.now() - hour)  # another guild
    clock.advance(timedelta(minutes=1))
    assert await log.claim_notice(1, "failing:5", clock.now(), clock.now() - hour)


async def test_admin_log_notices_resolve_once(store: Store, clock: ManualClock) -> None:
    log = store.admin_log
    await log.claim_notice(1, "failing:5", clock.now(), clock.now())
    await log.claim_notice(1, "paused:5", clock.now(), clock.now())

    assert await log.resolve_notices(1, ["failing:5", "paused:5", "failing:6"], clock.now()) == [
        "failing:5",
        "paused:5",
    ]
    assert await log.resolve_notices(1, ["failing:5", "paused:5"], clock.now()) == []
    # Failing again within the hour: open again, but not told again.
    assert not await log.claim_notice(1, "failing:5", clock.now(), clock.now() - timedelta(hours=1))
    assert await log.resolve_notices(1, ["failing:5"], clock.now()) == ["failing:5"]
