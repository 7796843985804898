-- 0009: leases, so that one process at a time does a job every process could do.
-- Why: several bot processes (one per range of shards) share one store. Each would rescan the same news folder
-- and each would sync the slash commands at start; both are safe twice over but wasteful, and two global syncs
-- at once spend Discord's daily budget. A lease is a row naming its holder and when it runs out: a holder renews
-- it while it works, and when the holder dies the lease expires and another process takes it over.
-- `heatwave copy-store` copies them like any table: the bot is stopped for a copy, so its leases were handed back
-- or simply run out.
-- IF NOT EXISTS: a store put back to an older schema version (tests do) runs this again over the table.
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TEXT NOT NULL  -- ISO-8601 UTC (db/sqlite/timefmt.py): text order is time order
);
