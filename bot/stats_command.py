"""`heatwave stats [--db FILE] [--json]`: what the database holds."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from bot.sources import SOURCE_STATUS_KEY, GitSource, SourceStatus
from db import DatabaseError, StoreLocation, open_ingest_store
from db.ingest_rows import iso_utc
from db.models import StoreStats

EXIT_OK = 0
EXIT_USAGE = 2


def stats_command(*, store: StoreLocation, as_json: bool, sources: Sequence[GitSource] = ()) -> int:
    """Print the store's counts and each git source's status (human text or one JSON object); 2 when there is
    no usable store."""
    try:
        with open_ingest_store(store, create=False) as opened:
            stats = opened.read_stats()
            statuses = [
                SourceStatus.from_json(opened.app_state_value(SOURCE_STATUS_KEY.format(key=source.key)), source.name)
                for source in sources
            ]
    except DatabaseError as exc:
        print(f"heatwave: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if as_json:
        print(json.dumps({**stats_as_json(stats), "sources": [_source_json(s) for s in statuses]}, ensure_ascii=False))
    else:
        print("\n".join([format_stats(stats, store), *format_sources(statuses)]))
    return EXIT_OK


def _source_json(status: SourceStatus) -> dict[str, object]:
    return {
        "source": status.name,
        "last_sync_at": None if status.last_sync_at is None else iso_utc(status.last_sync_at),
        "commit": status.commit,
        "stories": status.stories,
        "last_error": status.last_error,
        "last_error_at": None if status.last_error_at is None else iso_utc(status.last_error_at),
        "failures": status.failures,
    }


def format_sources(statuses: Sequence[SourceStatus]) -> list[str]:
    """One block per git source: last good sync, commit, stories, and the last error while it is failing."""
    if not statuses:
        return []
    lines = [f"Git sources ({len(statuses)}):"]
    for status in statuses:
        lines.append(f"  {status.name}")
        if status.last_sync_at is None:
            lines.append("    last good sync: never")
        else:
            commit = (status.commit or "")[:12]
            lines.append(
                f"    last good sync: {status.last_sync_at:%Y-%m-%d %H:%M:%S} UTC, commit {commit}, "
                f"{status.stories} stories"
            )
        if status.failures and status.last_error is not None:
            when = "" if status.last_error_at is None else f" at {status.last_error_at:%Y-%m-%d %H:%M:%S} UTC"
            lines.append(f"    failing ({status.failures} in a row){when}: {status.last_error}")
    return lines


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
