"""Scan files and folders, parse what changed (in parallel for big batches), and write it through one writer.

Shape of a run: walk + stat everything; skip files whose size and mtime match the last ingest (no read at
all); parse the rest, in worker processes when there are many; the main process is the only writer and
applies results in short transactions as they arrive, so parsing and writing overlap.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import NamedTuple

from bot.clock import Clock
from bot.errors import InvalidArgument
from bot.ingest.parse import StoryRejected, read_story_file
from db.ingest_store import IngestStore, KnownFile, ScannedFile, StoryRow, story_row

log = logging.getLogger(__name__)

# One batch = one parse task: a few hundred files amortise the inter-process hand-off while keeping the
# workers' results flowing to the writer steadily.
BATCH_FILES = 256
# One write transaction = this many files (a few parse batches). Each commit rewrites every index page it
# touched into the WAL, and the full-text indexes flush a segment per commit, so bigger transactions cost
# less per file (5-10% less writer CPU than one per parse batch, measured at 100k files); ~1,000 files
# still keep the write lock short (~0.15 s: a bot in another process waits at most that long, far below its
# busy timeout).
WRITE_FILES = 1_024
# Below this many files to read, worker processes cost more than they save (a forked pool starts in ~30 ms,
# every result crosses a pipe; one core parses ~6,000 files/s and stores ~8,000 stories/s).
PARALLEL_MIN_FILES = 1_000
# Batches parsed ahead of the writer, per worker: enough to keep workers busy, bounded so memory stays flat.
_AHEAD_PER_WORKER = 4
# A file modified within this window before the scan may be modified again with the same size and mtime
# (coarse filesystem timestamps); such files are recorded so that the next scan reads them again.
RACY_WINDOW_NS = 2_000_000_000
_FORCE_REREAD = -1


@dataclass(frozen=True, slots=True)
class Rejection:
    """A file that was not stored, and why (for the person maintaining the news folder)."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest run did; every scanned file is counted exactly once."""

    scanned: int
    added: int
    updated: int
    unchanged: int
    duplicates: int
    rejected: tuple[Rejection, ...]
    seconds: float


class _Candidate(NamedTuple):
    # A NamedTuple, not a dataclass: 100k of them are built on every rescan, and this is ~3x cheaper.
    shown: str  # the path as the user would write it (what reports show)
    key: str  # absolute path: the source_files key
    size: int
    mtime_ns: int


ParseOutcome = StoryRow | str


def _scan_files(paths: Sequence[Path], *, racy_after_ns: int) -> tuple[list[_Candidate], list[Rejection]]:
    """Every explicit file and every *.md under each folder, stat'ed once, unique, sorted by absolute path.

    A file modified after racy_after_ns gets mtime _FORCE_REREAD: its mtime cannot be trusted yet.
    """
    found: dict[str, _Candidate] = {}
    rejections: list[Rejection] = []
    for given in paths:
        shown_root = os.fspath(given)
        try:
            info = os.stat(shown_root)
        except FileNotFoundError:
            raise InvalidArgument(f"no such file or folder: {shown_root}") from None
        except OSError as exc:
            raise InvalidArgument(f"cannot open {shown_root}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(info.st_mode):
            _walk(shown_root, found, rejections, racy_after_ns)
        else:
            # An explicit file is taken whatever its name: the user asked for it.
            key = os.path.abspath(shown_root)
            if not _storable_name(key):
                rejections.append(Rejection(_printable(shown_root), _BAD_NAME))
            elif key not in found:
                found[key] = _candidate(shown_root, key, info, racy_after_ns)
    return sorted(found.values(), key=_by_key), rejections


_BAD_NAME = "the file name is not valid UTF-8; rename the file"


def _storable_name(path: str) -> bool:
    # Linux file names are bytes; Python maps undecodable ones to lone surrogates, which SQLite (and a UTF-8
    # terminal) cannot take.
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _by_key(candidate: _Candidate) -> str:
    return candidate.key


def _candidate(shown: str, key: str, info: os.stat_result, racy_after_ns: int) -> _Candidate:
    mtime_ns = info.st_mtime_ns
    return _Candidate(shown, key, info.st_size, _FORCE_REREAD if mtime_ns >= racy_after_ns else mtime_ns)


def _walk(shown_root: str, found: dict[str, _Candidate], rejections: list[Rejection], racy_after_ns: int) -> None:
    # Walk the absolute path so entry.path is already the key, and derive the shown path by swapping the
    # prefix back: no per-file abspath/normpath (they cost more than the stat itself at 100k files).
    root = os.path.abspath(shown_root)
    shown_prefix = shown_root if shown_root.endswith(os.sep) else shown_root + os.sep
    cut = len(root) if root.endswith(os.sep) else len(root) + 1
    pending = [root]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError as exc:
            log.warning("cannot list %s: %s", current, exc.strerror or exc)
            continue
        for entry in entries:
            name = entry.name
            # Hidden folders (.git and friends) never hold stories and can be huge.
            if name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif name.lower().endswith(".md") and entry.is_file():
                key = entry.path
                if key in found:
                    continue
                shown = shown_prefix + key[cut:]
                if not name.isascii() and not _storable_name(key):
                    rejections.append(Rejection(_printable(shown), _BAD_NAME))
                    continue
                try:
                    info = entry.stat()
                except OSError as exc:
                    rejections.append(Rejection(shown, f"cannot read the file: {exc.strerror or exc}"))
                    continue
                found[key] = _candidate(shown, key, info, racy_after_ns)


def ingest_paths(
    paths: Sequence[Path],
    db_path: Path,
    *,
    clock: Clock,
    max_file_bytes: int,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Ingest files and folders into the database at db_path; raises InvalidArgument or DatabaseError."""
    timer = time.perf_counter()
    started_at = clock.now()
    candidates, rejections = _scan_files(paths, racy_after_ns=time.time_ns() - RACY_WINDOW_NS)
    with IngestStore.open(db_path) as store:
        known = store.known_files()
    scanned = len(candidates) + len(rejections)
    unreadable = len(rejections)
    gone = _gone(paths, candidates, known)
    to_read, skipped_unchanged, skipped_rejected = _triage(candidates, known, rejections)

    worker_count = _worker_count(workers, len(to_read))
    pool = _start_pool(worker_count) if worker_count > 1 else None
    try:
        with IngestStore.open(db_path) as store:
            run = store.begin_run(started_at)
            run.count_skipped(unchanged=skipped_unchanged, rejected=skipped_rejected)
            done = 0
            if progress is not None:
                progress(0, len(to_read))
            scanned_files: list[ScannedFile] = []
            for batch, outcomes in _parse_batches(to_read, max_file_bytes, pool, worker_count):
                for candidate, outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, str):
                        rejections.append(Rejection(candidate.shown, outcome))
                        scanned_files.append(
                            ScannedFile(candidate.key, candidate.size, candidate.mtime_ns, None, outcome)
                        )
                    else:
                        scanned_files.append(ScannedFile(candidate.key, candidate.size, candidate.mtime_ns, outcome))
                if len(scanned_files) >= WRITE_FILES or done + len(scanned_files) == len(to_read):
                    run.write_batch(scanned_files, now=clock.now())
                    done += len(scanned_files)
                    scanned_files = []
                    if progress is not None:
                        progress(done, len(to_read))
            # Files that vanished or could not be stat'ed never reach the store but are still reported.
            run.count_skipped(unchanged=0, rejected=unreadable)
            run.forget_files(gone)
            counts = run.finish(scanned=scanned, finished_at=clock.now())
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
            gc.unfreeze()

    rejections.sort(key=lambda item: item.path)
    report = IngestReport(
        scanned=scanned,
        added=counts.added,
        updated=counts.updated,
        unchanged=counts.unchanged,
        duplicates=counts.duplicates,
        rejected=tuple(rejections),
        seconds=round(time.perf_counter() - timer, 3),
    )
    log.info(
        "ingest: %d scanned, %d added, %d updated, %d unchanged, %d duplicates, %d rejected, %d gone in %.2fs",
        report.scanned,
        report.added,
        report.updated,
        report.unchanged,
        report.duplicates,
        len(report.rejected),
        len(gone),
        report.seconds,
    )
    return report


def _gone(paths: Sequence[Path], candidates: list[_Candidate], known: dict[str, KnownFile]) -> list[str]:
    """Recorded files under a scanned folder that are no longer there (their stories stay; they were seen)."""
    roots = tuple(
        root if root.endswith(os.sep) else root + os.sep
        for root in (os.path.abspath(path) for path in paths)
        if os.path.isdir(root)
    )
    if not roots:
        return []
    present = {candidate.key for candidate in candidates}
    return [path for path in known if path.startswith(roots) and path not in present]


def _triage(
    candidates: list[_Candidate], known: dict[str, KnownFile], rejections: list[Rejection]
) -> tuple[list[_Candidate], int, int]:
    to_read: list[_Candidate] = []
    unchanged = rejected = 0
    for candidate in candidates:
        seen = known.get(candidate.key)
        if (
            seen is None
            or seen.mtime_ns == _FORCE_REREAD
            or seen.size != candidate.size
            or seen.mtime_ns != candidate.mtime_ns
        ):
            to_read.append(candidate)
        elif seen.rejected_reason is not None:
            # Still the same bad file: say so again rather than letting it look fixed.
            rejections.append(Rejection(candidate.shown, seen.rejected_reason))
            rejected += 1
        else:
            unchanged += 1
    return to_read, unchanged, rejected


def _worker_count(requested: int | None, files: int) -> int:
    # Worker processes are forked, and forking a process that runs other threads (the bot: its event loop,
    # the scheduler) can copy a lock held by another thread into the child. spawn/forkserver would re-import
    # `__main__`, and `python -m bot` has no main guard, so the child would start a second bot. Inside a
    # threaded process, parse in-process: the bot's rescans are incremental and small anyway.
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    batches = -(-files // BATCH_FILES)
    if requested is None:
        if files < PARALLEL_MIN_FILES:
            return 1
        requested = os.cpu_count() or 1
    return max(1, min(requested, batches))


def _start_pool(count: int) -> Pool:
    # Everything alive now (the scanned file list above all) lives until the run ends: frozen, the collector
    # stops re-walking it, in this process and in the forked workers (whose walks would also copy every page
    # they touch). Only ever reached in a process without other threads (see _worker_count), i.e. the CLI.
    gc.freeze()
    return multiprocessing.get_context("fork").Pool(count)


def _parse_batches(
    to_read: list[_Candidate], max_file_bytes: int, pool: Pool | None, worker_count: int
) -> Iterator[tuple[list[_Candidate], list[ParseOutcome]]]:
    batches = [to_read[start : start + BATCH_FILES] for start in range(0, len(to_read), BATCH_FILES)]
    if pool is None:
        for batch in batches:
            yield batch, parse_batch([(c.key, c.size) for c in batch], max_file_bytes)
        return
    # A bounded window of batches in flight: results are consumed in order, and memory stays flat even
    # when parsing outpaces the writer.
    in_flight: deque[tuple[list[_Candidate], AsyncResult[list[ParseOutcome]]]] = deque()
    window = worker_count * _AHEAD_PER_WORKER
    queued = iter(batches)
    for batch in queued:
        in_flight.append((batch, pool.apply_async(parse_batch, ([(c.key, c.size) for c in batch], max_file_bytes))))
        if len(in_flight) >= window:
            break
    while in_flight:
        batch, pending = in_flight.popleft()
        for following in queued:
            in_flight.append(
                (following, pool.apply_async(parse_batch, ([(c.key, c.size) for c in following], max_file_bytes)))
            )
            break
        yield batch, pending.get()


def parse_batch(items: list[tuple[str, int]], max_file_bytes: int) -> list[ParseOutcome]:
    """Parse (path, size) pairs: the row to store per good file, the rejection reason per bad one."""
    outcomes: list[ParseOutcome] = []
    for path, size in items:
        try:
            outcomes.append(story_row(read_story_file(path, size=size, max_file_bytes=max_file_bytes)))
        except StoryRejected as exc:
            outcomes.append(exc.reason)
        except (RecursionError, MemoryError, ValueError, TypeError) as exc:
            # The parser's own validation raises StoryRejected; anything else is a file so malformed that a
            # library choked on it (absurd nesting, ...). It is still one bad file, not a reason to stop.
            outcomes.append(f"cannot be parsed: {type(exc).__name__}: {exc}")
    return outcomes
