"""`heatwave config export|import` on both engines (without a token: ids as the file has them)."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.clock import ManualClock
from bot.services.alerts import AlertService
from db import StoreLocation, open_store
from db.models import SubscriptionRecord


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Settings also read .env / heatwave.toml from the working directory: keep the developer's out of it.
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("HEATWAVE_", "DISCORD_")):
            monkeypatch.delenv(name)


def _database(location: StoreLocation) -> str:
    database = location.url if location.engine == "postgres" else str(location.path)
    assert database is not None
    return database


async def _subscribe(location: StoreLocation) -> None:
    store = await open_store(location)
    try:
        alerts = AlertService(store, ManualClock(datetime(2026, 12, 1, tzinfo=UTC)), max_posts_per_tick=5)
        await alerts.add_subscription(guild_id=1, channel_id=100, channel_kind="text", min_heat=85, min_quality=30)
    finally:
        await store.close()


async def _subscriptions(location: StoreLocation, guild_id: int) -> list[SubscriptionRecord]:
    store = await open_store(location)
    try:
        return await store.subscriptions.for_guild(guild_id)
    finally:
        await store.close()


def test_config_export_then_import_into_another_server(
    tmp_path: Path, location: StoreLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _database(location)
    asyncio.run(_subscribe(location))
    exported = tmp_path / "alerts.json"
    assert main(["config", "export", "--guild", "1", "--out", str(exported), "--db", db]) == 0
    assert "no DISCORD_TOKEN" in capsys.readouterr().err
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert document["subscriptions"][0]["channel"] == {"id": "100", "name": None}

    assert main(["config", "import", str(exported), "--guild", "2", "--db", db]) == 0
    dry = capsys.readouterr().out
    assert "Dry run: 1 change would be made" in dry
    assert "run it again with --apply" in dry
    assert "+ add channel 100 · every topic (heat ≥ 85, quality ≥ 30)" in dry
    assert asyncio.run(_subscriptions(location, 2)) == []

    assert main(["config", "import", str(exported), "--guild", "2", "--apply", "--db", db]) == 0
    assert "Imported: 1 change made." in capsys.readouterr().out
    [imported] = asyncio.run(_subscriptions(location, 2))
    assert (imported.channel_id, imported.min_heat, imported.min_quality) == (100, 85, 30)


def test_config_import_refuses_a_malformed_file_with_exit_1(
    tmp_path: Path, location: StoreLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "heatwave.alerts", "version": 2}', encoding="utf-8")
    assert main(["config", "import", str(broken), "--guild", "2", "--apply", "--db", _database(location)]) == 1
    err = capsys.readouterr().err
    assert "heatwave: Nothing was imported:\n• schema version 2 is not supported" in err


def test_config_import_of_a_missing_file_is_a_usage_error(
    tmp_path: Path, location: StoreLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "import", str(tmp_path / "nope.json"), "--db", _database(location)]) == 2
    assert "cannot read" in capsys.readouterr().err
