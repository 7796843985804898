"""The bot's SQLite store: one connection, every repository on it, one write lock shared by all of them."""

from __future__ import annotations

from db.location import StoreLocation
from db.sqlite.admin_log import SqliteAdminLog
from db.sqlite.app_state import SqliteAppState
from db.sqlite.channels import SqliteChannels
from db.sqlite.crossposts import SqliteCrossposts
from db.sqlite.database import SqliteDatabase
from db.sqlite.digests import SqliteDigests
from db.sqlite.heat_charts import SqliteHeatCharts
from db.sqlite.heat_lines import SqliteHeatLines
from db.sqlite.leases import SqliteLeases
from db.sqlite.ledger import SqliteLedger
from db.sqlite.lookups import SqliteLookups
from db.sqlite.news_signal import SqliteNewsSignal
from db.sqlite.post_edits import SqlitePostEdits
from db.sqlite.quiet import SqliteQuietHours, SqliteSummaries
from db.sqlite.subscriptions import SqliteSubscriptions
from db.sqlite.threads import SqliteThreads
from db.sqlite.topic_roles import SqliteTopicRoles


class SqliteStore:
    """Implements `db.interfaces.Store` over one SQLite file."""

    def __init__(self, database: SqliteDatabase, location: StoreLocation) -> None:
        self.location = location
        self._database = database
        self.lookups = SqliteLookups(database)
        self.subscriptions = SqliteSubscriptions(database)
        self.channels = SqliteChannels(database)
        self.ledger = SqliteLedger(database)
        self.crossposts = SqliteCrossposts(database)
        self.leases = SqliteLeases(database)
        self.living = SqlitePostEdits(database)
        self.threads = SqliteThreads(database)
        self.roles = SqliteTopicRoles(database)
        self.app_state = SqliteAppState(database)
        self.digests = SqliteDigests(database)
        self.quiet_hours = SqliteQuietHours(database)
        self.summaries = SqliteSummaries(database)
        self.heat_lines = SqliteHeatLines(database)
        self.heat_charts = SqliteHeatCharts(database)
        self.admin_log = SqliteAdminLog(database)
        self.news = SqliteNewsSignal(database.path)

    @classmethod
    async def open(cls, location: StoreLocation) -> SqliteStore:
        assert location.path is not None
        return cls(await SqliteDatabase.open(location.path), location)

    async def close(self) -> None:
        await self.news.close()
        await self._database.close()
