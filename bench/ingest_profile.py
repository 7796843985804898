"""Where a cold ingest's time goes: CPU per file of each stage, next to the raw `frontmatter.load` loop.

    .venv/bin/python bench/ingest_profile.py [--files 20000] [--repeat 3]

Generates corpus-shaped files (bench/ingest.py's generator), then measures each stage in this one process, best
of --repeat (the machines here are shared, so each figure is the least disturbed of its runs):
  - the raw parse loop (`frontmatter.load` per file): the baseline;
  - our parse, stage by stage: reading, UTF-8 and fences, YAML (PyYAML's C safe loader, and the
    FrontMatterLoader the ingester uses), validation and cleaning, the row handed to the writer;
  - the hand-off between processes (pickling a batch of rows and back);
  - the SQLite writer (one process): as the ingester writes (many rows per INSERT statement), one statement per
    row (`executemany`, how it wrote before), and without the two full-text indexes (their share).
`heatwave ingest` runs the parse in one worker process per core and the writer in the main process.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import frontmatter
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ingest import generate
from bot.ingest.parse import _YAML, _front_matter_span, _read_at_most, story_from_mapping
from bot.ingest.pipeline import BATCH_FILES, WRITE_FILES
from bot.ingest.yaml_loader import FrontMatterLoader
from db import open_ingest_store, parse_location
from db.ingest_rows import ScannedFile, StoryRow, story_row
from db.sqlite import ingest as sqlite_ingest

_FTS_TRIGGERS = ("stories_fts_insert", "titles_fts_insert")


def best(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """Least CPU seconds of `repeat` runs, and the last run's result."""
    least, result = float("inf"), None
    for _ in range(repeat):
        started = time.process_time()
        result = run()
        least = min(least, time.process_time() - started)
    return least, result


def write_all(db: Path, paths: list[str], rows: list[StoryRow], *, per_row: bool, fts: bool) -> None:
    """The ingester's writer over pre-parsed rows into a new database file."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = open_ingest_store(parse_location(str(db)))
    try:
        if not fts:
            with sqlite3.connect(db) as conn:
                for trigger in _FTS_TRIGGERS:
                    conn.execute(f"DROP TRIGGER {trigger}")
        now = datetime.now(UTC)
        run = store.begin_run(now)
        files = [ScannedFile(path, 1, 1, row) for path, row in zip(paths, rows, strict=True)]
        original = sqlite_ingest._insert_rows
        if per_row:
            sqlite_ingest._insert_rows = _executemany  # type: ignore[assignment]
        try:
            for start in range(0, len(files), WRITE_FILES):
                run.write_batch(files[start : start + WRITE_FILES], now=now)
        finally:
            sqlite_ingest._insert_rows = original  # type: ignore[assignment]
    finally:
        store.close()


def _executemany(conn: sqlite3.Connection, insert: tuple[str, int, str], rows: list[tuple[object, ...]]) -> None:
    head, width, tail = insert
    conn.executemany(f"{head}({','.join('?' * width)}){tail}", rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="heatwave-profile-"))
    try:
        generated, _ = generate(base / "news", args.files)
        paths = [str(path) for path in generated]
        count = len(paths)

        def per_file(seconds: float) -> float:
            return seconds / count * 1e6

        lines: list[tuple[str, float]] = []
        raw, _ = best(args.repeat, lambda: [frontmatter.load(path) for path in paths])
        lines.append(("raw parse loop: frontmatter.load (baseline)", raw))
        seconds, data = best(args.repeat, lambda: [_read_at_most(p, os.path.getsize(p), 1 << 20) for p in paths])
        lines.append(("parse: read the file (os.read)", seconds))
        seconds, blocks = best(
            args.repeat, lambda: [(lambda t: t[slice(*_front_matter_span(t))])(d.decode()) for d in data]
        )
        lines.append(("parse: UTF-8 decode, find the fences", seconds))
        safe, _ = best(args.repeat, lambda: [_YAML.load(b, Loader=yaml.CSafeLoader) for b in blocks])
        lines.append(("parse: YAML, PyYAML's CSafeLoader (before)", safe))
        ours, metas = best(args.repeat, lambda: [_YAML.load(b, Loader=FrontMatterLoader) for b in blocks])
        lines.append(("parse: YAML, FrontMatterLoader (now)", ours))
        seconds, records = best(args.repeat, lambda: [story_from_mapping(meta) for meta in metas])
        lines.append(("parse: validate, clean, content hash", seconds))
        seconds, rows = best(args.repeat, lambda: [story_row(record) for record in records])
        lines.append(("parse: the row handed to the writer", seconds))
        batches = [rows[start : start + BATCH_FILES] for start in range(0, count, BATCH_FILES)]
        seconds, _ = best(
            args.repeat, lambda: [pickle.loads(pickle.dumps(b, pickle.HIGHEST_PROTOCOL)) for b in batches]
        )
        lines.append(("hand-off: pickle a batch and back", seconds))
        db = base / "profile.db"
        for label, per_row, fts in (
            ("writer: SQLite, many rows per statement (now)", False, True),
            ("writer: SQLite, one statement per row (before)", True, True),
            ("writer: SQLite, now, without the 2 full-text indexes", False, False),
        ):
            seconds, _ = best(args.repeat, lambda p=per_row, f=fts: write_all(db, paths, rows, per_row=p, fts=f))
            lines.append((label, seconds))

        print(f"{count:,} files, CPU per file, best of {args.repeat} (load average {os.getloadavg()[0]:.2f})")
        for label, seconds in lines:
            print(f"  {label:55s} {per_file(seconds):7.1f} us  {seconds / raw:5.2f}x of raw")
        parse_now = sum(s for label, s in lines if label.startswith("parse:") and "before" not in label)
        label = "parse total, now (one worker process per core)"
        print(f"  {label:55s} {per_file(parse_now):7.1f} us  {parse_now / raw:5.2f}x of raw")
        print(f"  YAML now / before: {ours / safe:.2f}x")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
