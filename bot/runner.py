"""`heatwave run`: until the bot exists, ingest the news folder and print what the store holds."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings


def run_command(settings: Settings, *, db_path: Path) -> int:
    from bot.ingest.command import ingest_command
    from bot.stats_command import stats_command

    status = ingest_command(settings, [settings.news_dir], db_path=db_path, as_json=False)
    stats_command(db_path=db_path, as_json=False)
    return status
