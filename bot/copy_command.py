"""`heatwave copy-store SOURCE TARGET [--force] [--json]`: move a store between files and databases."""

from __future__ import annotations

import sys

from bot.progress import progress_bar
from db import DatabaseError, parse_location
from db.copy_store import CopyReport, copy_store
from db.location import StoreLocation

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C

# Below this many rows a copy takes well under a second: no bar.
PROGRESS_MIN_ROWS = 50_000


def copy_store_command(source_text: str, target_text: str, *, force: bool, as_json: bool) -> int:
    """Copy, print the per-table counts (or one JSON object), and return the exit status."""
    locations: list[StoreLocation] = []
    for name, text in (("SOURCE", source_text), ("TARGET", target_text)):
        try:
            locations.append(parse_location(text))
        except ValueError as exc:
            print(f"heatwave: {name} {exc}", file=sys.stderr)
            return EXIT_USAGE
    source, target = locations
    show = not as_json and sys.stderr.isatty()
    progress = progress_bar(sys.stderr, label="copying", unit="rows", min_total=PROGRESS_MIN_ROWS) if show else None
    try:
        report = copy_store(source, target, force=force, progress=progress)
    except DatabaseError as exc:
        _clear(progress)
        print(f"heatwave: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _clear(progress)
        print(
            f"heatwave: interrupted; {target} is not a usable store until a copy into it completes "
            "(run it again with --force)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    _clear(progress)
    if as_json:
        import json

        print(json.dumps(report_as_json(report), ensure_ascii=False))
    else:
        print(format_report(report))
    if not report.ok:
        print(
            f"heatwave: verification failed: {'; '.join(report.mismatches)}. "
            f"{report.target} stays marked as an incomplete copy.",
            file=sys.stderr,
        )
        return EXIT_MISMATCH
    return EXIT_OK


def _clear(progress: object) -> None:
    if callable(progress):
        progress(-1, -1)


def _rate(report: CopyReport) -> float:
    return report.stories / report.seconds if report.seconds > 0 else 0.0


def report_as_json(report: CopyReport) -> dict[str, object]:
    return {
        "source": report.source,
        "target": report.target,
        "seconds": round(report.seconds, 3),
        "stories_per_second": round(_rate(report)),
        "tables": {t.table: {"source": t.source, "target": t.target} for t in report.tables},
        "verified": report.ok,
        "mismatches": list(report.mismatches),
    }


def format_report(report: CopyReport) -> str:
    """One line of totals, then the rows of each table in the source and in the target."""
    width = max(len(t.table) for t in report.tables)
    lines = [
        f"Copied {report.source} to {report.target} in {report.seconds:.1f} s "
        f"({report.stories:,} stories, {_rate(report):,.0f} stories/s).",
        f"  {'table':<{width}}  {'source':>12}  {'target':>12}",
    ]
    for t in report.tables:
        flag = "" if t.matches else "  <- differs"
        lines.append(f"  {t.table:<{width}}  {t.source:>12,}  {t.target:>12,}{flag}")
    lines.append("Verified: the target holds everything the source held." if report.ok else "Not verified.")
    return "\n".join(lines)
