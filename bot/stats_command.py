"""`heatwave stats [--db FILE] [--json]`: what the database holds."""

from __future__ import annotations

import json
import sys

from db import DatabaseError, StoreLocation, open_ingest_store
from db.ingest_rows import iso_utc
from db.models import StoreStats

EXIT_OK = 0
EXIT_USAGE = 2


def stats_command(*, store: StoreLocation, as_json: bool) -> int:
    """Print the store's counts (human text or one JSON object); 2 when there is no usable store."""
    try:
        with open_ingest_store(store, create=False) as opened:
            stats = opened.read_stats()
    except DatabaseError as exc:
        print(f"heatwave: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if as_json:
        print(json.dumps(stats_as_json(stats), ensure_ascii=False))
    else:
        print(format_stats(stats, store))
    return EXIT_OK


def stats_as_json(stats: StoreStats) -> dict[str, object]:
    """The `--json` object."""
    run = stats.last_run
    return {
        "stories": stats.stories,
        "topics": stats.topics,
        "heat": {"min": stats.heat_min, "max": stats.heat_max},
        "suppressed": stats.suppressed,
        "unknown_heat": stats.unknown_heat,
        "last_ingest": None
        if run is None
        else {
            "started_at": iso_utc(run.started_at),
            "finished_at": iso_utc(run.finished_at),
            "scanned": run.scanned,
            "added": run.added,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "duplicates": run.duplicates,
            "rejected": run.rejected,
        },
        "rejected": [{"path": item.path, "reason": item.reason} for item in stats.rejected_files],
    }


def format_stats(stats: StoreStats, store: StoreLocation) -> str:
    """A few readable lines."""
    heat = "none known" if stats.heat_min is None else f"{stats.heat_min} to {stats.heat_max}"
    lines = [
        f"Database: {store}",
        f"Stories:  {stats.stories} ({stats.suppressed} suppressed, {stats.unknown_heat} with unknown heat)",
        f"Topics:   {stats.topics}",
        f"Heat:     {heat}",
    ]
    run = stats.last_run
    if run is None:
        lines.append("Last ingest: never")
    else:
        lines.append(
            f"Last ingest: {run.finished_at:%Y-%m-%d %H:%M:%S} UTC, {run.scanned} scanned, {run.added} added, "
            f"{run.updated} updated, {run.unchanged} unchanged, {run.duplicates} duplicates, {run.rejected} rejected"
        )
    if stats.rejected_files:
        lines.append(f"Rejected files ({len(stats.rejected_files)}):")
        lines.extend(f"  {item.path}: {item.reason}" for item in stats.rejected_files)
    return "\n".join(lines)
