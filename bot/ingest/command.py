"""`heatwave ingest PATH... [--db FILE] [--json]`: the command-line face of the ingest pipeline."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from bot.clock import SystemClock
from bot.errors import InvalidArgument
from bot.ingest.pipeline import IngestReport, ingest_paths, plural, report_counts
from bot.progress import progress_bar
from bot.settings import Settings
from db import DatabaseError, StoreLocation

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2

# A progress bar is noise for a handful of files; show it only when the run has real work to do.
PROGRESS_MIN_FILES = 2_000


def ingest_command(settings: Settings, paths: Sequence[Path], *, store: StoreLocation, as_json: bool) -> int:
    """Run one ingest, print the summary (or one JSON object), and return the exit status."""
    progress = _progress_bar(sys.stderr) if not as_json and sys.stderr.isatty() else None
    try:
        report = ingest_paths(
            paths, store, clock=SystemClock(), max_file_bytes=settings.max_file_bytes, progress=progress
        )
    except (InvalidArgument, DatabaseError) as exc:
        if progress is not None:
            progress(-1, -1)
        message = exc.user_message if isinstance(exc, InvalidArgument) else str(exc)
        print(f"heatwave: {message}", file=sys.stderr)
        return EXIT_USAGE
    if progress is not None:
        progress(-1, -1)
    if as_json:
        import json  # only here: start-up cost counts on every rescan

        print(json.dumps(report_as_json(report), ensure_ascii=False))
    else:
        print(format_report(report, store))
    return EXIT_REJECTED if report.rejected else EXIT_OK


def report_as_json(report: IngestReport) -> dict[str, object]:
    """The `--json` object: exactly the documented keys."""
    return {
        "scanned": report.scanned,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "duplicates": report.duplicates,
        "rejected": [{"path": item.path, "reason": item.reason} for item in report.rejected],
        "seconds": report.seconds,
    }


def format_report(report: IngestReport, store: StoreLocation) -> str:
    """A short human summary, then one line per rejected file."""
    # "Read", not "Ingested": a run whose files were all rejected stored nothing, and the counts say so.
    lines = [
        f"Read {plural(report.scanned, 'file')} into {store} in {report.seconds:.2f} s: {report_counts(report)}."
    ]
    if report.rejected:
        lines.append("Rejected:")
        lines.extend(f"  {item.path}: {item.reason}" for item in report.rejected)
    return "\n".join(lines)


def _progress_bar(stream: TextIO) -> Callable[[int, int], None]:
    return progress_bar(stream, label="reading", unit="files", min_total=PROGRESS_MIN_FILES)
