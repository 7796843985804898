"""The bot's PostgreSQL store: one pool, every repository on it."""

from __future__ import annotations

from db.location import StoreLocation
from db.postgres.admin_log import PgAdminLog
from db.postgres.app_state import PgAppState
from db.postgres.channels import PgChannels
from db.postgres.crossposts import PgCrossposts
from db.postgres.database import PgDatabase
from db.postgres.digests import PgDigests
from db.postgres.heat_charts import PgHeatCharts
from db.postgres.heat_lines import PgHeatLines
from db.postgres.leases import PgLeases
from db.postgres.ledger import PgLedger
from db.postgres.lookups import PgLookups
from db.postgres.news_signal import PgNewsSignal
from db.postgres.post_edits import PgPostEdits
from db.postgres.quiet import PgQuietHours, PgSummaries
from db.postgres.subscriptions import PgSubscriptions
from db.postgres.threads import PgThreads
from db.postgres.topic_roles import PgTopicRoles


class PostgresStore:
    """Implements `db.interfaces.Store` over one PostgreSQL database (shared by any number of processes)."""

    def __init__(self, database: PgDatabase) -> None:
        self.location = database.location
        self._database = database
        self.lookups = PgLookups(database)
        self.subscriptions = PgSubscriptions(database)
        self.channels = PgChannels(database)
        self.ledger = PgLedger(database)
        self.crossposts = PgCrossposts(database)
        self.leases = PgLeases(database)
        self.living = PgPostEdits(database)
        self.threads = PgThreads(database)
        self.roles = PgTopicRoles(database)
        self.app_state = PgAppState(database)
        self.digests = PgDigests(database)
        self.quiet_hours = PgQuietHours(database)
        self.summaries = PgSummaries(database)
        self.heat_lines = PgHeatLines(database)
        self.heat_charts = PgHeatCharts(database)
        self.admin_log = PgAdminLog(database)
        self.news = PgNewsSignal(database)

    @classmethod
    async def open(cls, location: StoreLocation) -> PostgresStore:
        return cls(await PgDatabase.open(location))

    async def close(self) -> None:
        await self.news.close()
        await self._database.close()
