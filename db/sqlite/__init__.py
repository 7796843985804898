"""The embedded engine: one SQLite file (WAL), sync sqlite3 for the ingester, aiosqlite for the bot."""
