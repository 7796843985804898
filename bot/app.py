"""The composition root: every long-lived dependency is built here, once, and passed in (no import-time globals)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.clock import Clock
from bot.services.alerts import AlertService
from bot.services.lookups import LookupService
from bot.settings import Settings
from db import Database
from db.alerts import AlertRepository
from db.lookups import LookupRepository


@dataclass(frozen=True, slots=True)
class Services:
    """What the bot, the console playground and the scheduled jobs share; owned by whoever built it."""

    settings: Settings
    database: Database
    clock: Clock
    lookups: LookupService
    alerts: AlertService

    @property
    def db_path(self) -> Path:
        """The database file (the ingester opens its own connection to it)."""
        return self.database.path

    async def close(self) -> None:
        """Release the database connection; call once, after the bot and the scheduler have stopped."""
        await self.database.close()


async def build_services(settings: Settings, *, db_path: Path, clock: Clock) -> Services:
    """Open (and migrate) the database at `db_path` and build the services on top of it."""
    database = await Database.open(db_path)
    try:
        lookups = LookupService(LookupRepository(database), clock)
        alerts = AlertService(AlertRepository(database), clock, max_posts_per_tick=settings.max_posts_per_tick)
    except BaseException:
        await database.close()
        raise
    return Services(settings=settings, database=database, clock=clock, lookups=lookups, alerts=alerts)
