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


async def test_config_commands_with_a_token_name_channels_and_find_them_by_name(
    tmp_path: Path, location: StoreLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    from bot.config_command import export_command, import_command
    from bot.settings import Settings
    from tests.discord_standin import ChannelType, StandIn

    await _subscribe(location)  # server 1: channel 100
    async with StandIn() as standin:
        source = standin.add_guild("Source")
        target = standin.add_guild("Target")
        news = standin.add_channel(target.id, "news", ChannelType.TEXT)
        settings = dataclasses.replace(
            Settings(), store=location, discord_token=standin.token, discord_api_base=standin.base_url
        )
        exported = tmp_path / "alerts.json"
        # Server 1's channel 100 is not in the stand-in's source server: its name stays unknown.
        assert await asyncio.to_thread(
            export_command, settings, location, guild_id=source.id, out=exported
        ) == 0
        document = json.loads(exported.read_text(encoding="utf-8"))
        assert document["subscriptions"] == []
        document["subscriptions"] = [{"channel": {"id": "100", "name": "news"}, "min_heat": 85}]
        exported.write_text(json.dumps(document), encoding="utf-8")
        capsys.readouterr()
        code = await asyncio.to_thread(
            import_command, settings, location, path=exported, apply=True, guild_id=target.id
        )
        out = capsys.readouterr()
        unknown = await asyncio.to_thread(
            import_command, settings, location, path=exported, apply=False, guild_id=12345
        )

    assert code == 0, out.err
    assert "no DISCORD_TOKEN" not in out.err
    assert "+ add #news · every topic (heat ≥ 85)" in out.out
    [imported] = await _subscriptions(location, target.id)
    assert imported.channel_id == news.id
    assert unknown == 2
    assert "listing the channels of server 12345 answered 404" in capsys.readouterr().err
