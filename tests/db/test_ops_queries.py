"""The store queries behind `heatwave doctor` and the metrics endpoint, on both engines."""

from __future__ import annotations

import sqlite3
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
