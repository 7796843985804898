"""The server engine: PostgreSQL 14+ through psycopg 3 (async pool for the bot, sync + COPY for the ingester)."""
