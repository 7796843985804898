"""What the store holds, for `heatwave stats` (sync: the CLI has no event loop)."""

from __future__ import annotations

import sqlite3

from db.errors import DatabaseError
from db.models import LastRun, RejectedFile, StoreStats
from db.sqlite.timefmt import from_db


def read_stats(conn: sqlite3.Connection) -> StoreStats:
    """One consistent snapshot (a read transaction), even while an ingest is writing."""
    try:
        conn.execute("BEGIN")
        try:
            stories, heat_min, heat_max, suppressed, unknown = conn.execute(
                "SELECT count(*), min(CASE WHEN heat >= 0 THEN heat END), max(CASE WHEN heat >= 0 THEN heat END), "
                "count(CASE WHEN heat = -1 THEN 1 END), count(CASE WHEN heat IS NULL THEN 1 END) FROM stories"
            ).fetchone()
            (topics,) = conn.execute("SELECT count(*) FROM topics WHERE story_count > 0").fetchone()
            run_row = conn.execute(
                "SELECT started_at, finished_at, scanned, added, updated, unchanged, duplicates, rejected "
                "FROM ingest_runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
            rejected = conn.execute(
                "SELECT path, rejected_reason FROM source_files WHERE rejected_reason IS NOT NULL ORDER BY path"
            ).fetchall()
        finally:
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot read the database: {exc}") from None
    last_run = None
    if run_row is not None:
        started, finished, *numbers = run_row
        last_run = LastRun(from_db(started), from_db(finished), *numbers)
    return StoreStats(
        stories=stories,
        topics=topics,
        heat_min=heat_min,
        heat_max=heat_max,
        suppressed=suppressed,
        unknown_heat=unknown,
        last_run=last_run,
        rejected_files=tuple(RejectedFile(path, reason) for path, reason in rejected),
    )
