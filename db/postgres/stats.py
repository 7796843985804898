"""What the store holds, for `heatwave stats` (sync: the CLI has no event loop)."""

from __future__ import annotations

import psycopg

from db.errors import DatabaseError
from db.location import StoreLocation
from db.models import LastRun, RejectedFile, StoreStats
from db.postgres.connection import describe_error


def read_stats(conn: psycopg.Connection, location: StoreLocation) -> StoreStats:
    """One consistent snapshot (a repeatable-read, read-only transaction), even while an ingest is writing."""
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            story_row = conn.execute(
                "SELECT count(*), min(heat) FILTER (WHERE heat >= 0), max(heat) FILTER (WHERE heat >= 0), "
                "count(*) FILTER (WHERE heat = -1), count(*) FILTER (WHERE heat IS NULL) FROM stories"
            ).fetchone()
            topic_row = conn.execute("SELECT count(*) FROM topics WHERE story_count > 0").fetchone()
            run_row = conn.execute(
                "SELECT started_at, finished_at, scanned, added, updated, unchanged, duplicates, rejected "
                "FROM ingest_runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
            rejected = conn.execute(
                "SELECT path, rejected_reason FROM source_files WHERE rejected_reason IS NOT NULL ORDER BY path"
            ).fetchall()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot read the database {location}: {describe_error(exc)}") from None
    assert story_row is not None
    assert topic_row is not None
    stories, heat_min, heat_max, suppressed, unknown = story_row
    last_run = None
    if run_row is not None:
        started, finished, *numbers = run_row
        last_run = LastRun(started, finished, *numbers)
    return StoreStats(
        stories=stories,
        topics=topic_row[0],
        heat_min=heat_min,
        heat_max=heat_max,
        suppressed=suppressed,
        unknown_heat=unknown,
        last_run=last_run,
        rejected_files=tuple(RejectedFile(path, reason) for path, reason in rejected),
    )
