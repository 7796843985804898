"""The composition root: every long-lived dependency is built here, once, and passed in (no import-time globals)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.services.admin_log import AdminLog
from bot.services.alerts import AlertService
from bot.services.config_io import ConfigService
from bot.services.digests import DigestService
from bot.services.heat_chart import HeatChartService
from bot.services.living_posts import LivingPosts
from bot.services.lookups import LookupService
from bot.services.roles import RoleService
from bot.services.threads import RelatedThreads
from bot.services.why import WhyService
from bot.settings import Settings
from db import StoreLocation, open_store
from db.interfaces import Store


@dataclass(frozen=True, slots=True)
class Services:
    """What the bot, the console playground and the scheduled jobs share; owned by whoever built it."""

    settings: Settings
    store: Store
    clock: Clock
    lookups: LookupService
    alerts: AlertService
    digests: DigestService
    admin_log: AdminLog
    why: WhyService
    config: ConfigService
    roles: RoleService
    heat_charts: HeatChartService

    @property
    def store_location(self) -> StoreLocation:
        """Where the store lives (the ingester opens its own connection to it)."""
        return self.store.location

    async def close(self) -> None:
        """Release the store's connections; call once, after the bot and the scheduler have stopped."""
        await self.store.close()


async def build_services(settings: Settings, *, store: StoreLocation, clock: Clock) -> Services:
    """Open (and migrate) the store at `store` and build the services on top of it."""
    opened = await open_store(store)
    try:
        lookups = LookupService(opened.lookups, clock, living=opened.living)
        alerts = AlertService(
            opened,
            clock,
            max_posts_per_tick=settings.max_posts_per_tick,
            living=LivingPosts(opened, clock),
            threads=RelatedThreads(opened, clock),
        )
        digests = DigestService(opened, clock, alerts=alerts)
        admin_log = AdminLog(opened, clock)
        alerts.add_listener(admin_log)
        why = WhyService(
            opened,
            lookups,
            clock,
            posts_per_tick=settings.max_posts_per_tick,
            tick_interval=timedelta(seconds=settings.post_seconds),
        )
        config = ConfigService(opened, alerts, admin_log, clock)
        roles = RoleService(opened, clock, alerts)
        heat_charts = HeatChartService(opened, lookups, clock)
    except BaseException:
        await opened.close()
        raise
    return Services(
        settings=settings,
        store=opened,
        clock=clock,
        lookups=lookups,
        alerts=alerts,
        digests=digests,
        admin_log=admin_log,
        why=why,
        config=config,
        roles=roles,
        heat_charts=heat_charts,
    )
