"""Scan files and folders, parse what changed (in parallel for big batches), and write it through one writer.

Shape of a run: load what the last ingest saw of each file; walk + stat everything, comparing each file with
that record on the spot (an unchanged file costs one stat and one dict lookup: no read, no per-file object);
parse the rest, in worker processes when there are many; the main process is the only writer and applies
results in short transactions as they arrive, so parsing and writing overlap.

The parser, multiprocessing and the writer's row building are imported only when something must be read:
an unchanged rescan (the bot's every-minute job, `heatwave ingest` on a quiet folder) never pays for them.
"""

from __future__ import annotations

import gc
import logging
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

from bot.clock import Clock
from bot.errors import InvalidArgument
from db import StoreLocation, open_ingest_store
from db.ingest_rows import KnownFile, ScannedFile

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult, Pool

    from db.ingest_rows import StoryRow

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


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`1 file`, `2 files`: a count with its noun in the right number."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def report_counts(report: IngestReport) -> str:
    """What happened to the files of a run, e.g. `0 new, 0 updated, 0 unchanged, 0 duplicates, 2 rejected`."""
    return (
        f"{report.added} new, {report.updated} updated, {report.unchanged} unchanged, "
        f"{plural(report.duplicates, 'duplicate')}, {len(report.rejected)} rejected"
    )


class _Candidate(NamedTuple):
    # Only files that must be read get one (every file of a cold run, none of an unchanged rescan).
    shown: str  # the path as the user would write it (what reports show)
    key: str  # absolute path: the source_files key
    size: int
    mtime_ns: int


ParseOutcome: TypeAlias = "StoryRow | str"

_BAD_NAME = "the file name is not valid UTF-8; rename the file"
# str.endswith with a tuple: no lower-cased copy of every name just to find the *.md files.
_MD_SUFFIXES = (".md", ".MD", ".Md", ".mD")
# Listing a folder through an open descriptor lets DirEntry.stat() use fstatat(dir_fd, name): the kernel
# resolves one name instead of the whole absolute path again (~15% off the walk at 100k files).
_SCANDIR_FD = os.scandir in os.supports_fd
_OPEN_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)


class _Scan:
    """What one walk found: the files to read, and tallies of those it could skip or could not take."""

    __slots__ = (
        "dedupe",
        "known",
        "racy_after_ns",
        "refused",
        "rejected",
        "rejections",
        "to_read",
        "unchanged",
        "unlisted",
    )

    def __init__(self, known: dict[str, KnownFile], racy_after_ns: int, *, overlapping: bool) -> None:
        # Entries are popped as their files are found: what is left afterwards was not found.
        self.known = known
        self.racy_after_ns = racy_after_ns
        # Only when the given paths overlap can a file be found twice; then found keys are remembered.
        self.dedupe: set[str] | None = set() if overlapping else None
        self.to_read: list[_Candidate] = []
        self.rejections: list[Rejection] = []
        # Files and folders that could not be taken at all (bad name, failed stat, failed listing): stored as
        # rejected like a file that failed to parse, so that every rejection a run counts is also listed.
        self.refused: list[ScannedFile] = []
        # Folders that could not be listed (with a trailing separator): the records below them are not gone.
        self.unlisted: list[str] = []
        self.unchanged = 0  # stat'ed, same size and mtime as last time: not read
        self.rejected = 0  # the same, but rejected last time: reported again with the stored reason

    @property
    def scanned(self) -> int:
        return len(self.to_read) + len(self.refused) + self.unchanged + self.rejected

    def add(self, shown: str, key: str, info: os.stat_result) -> None:
        """Triage one stat'ed file. _walk inlines the same steps: keep the two in step."""
        size = info.st_size
        mtime_ns = info.st_mtime_ns
        seen = self.known.pop(key, None)
        # Skipped only when size and mtime match the record, and the mtime is old enough to be trusted: a file
        # modified after racy_after_ns may change again within its timestamp's granularity, so it is recorded
        # with _FORCE_REREAD, which never matches.
        if (
            seen is not None
            and seen.size == size
            and seen.mtime_ns == mtime_ns
            and self.racy_after_ns > mtime_ns != _FORCE_REREAD
        ):
            if seen.rejected_reason is None:
                self.unchanged += 1
            else:
                self.skip_rejected(shown, seen.rejected_reason)
        else:
            racy = mtime_ns >= self.racy_after_ns
            self.to_read.append(_Candidate(shown, key, size, _FORCE_REREAD if racy else mtime_ns))

    def skip_rejected(self, shown: str, reason: str) -> None:
        # Still the same bad file: say so again rather than letting it look fixed.
        self.rejections.append(Rejection(shown, reason))
        self.rejected += 1

    def refuse(self, shown: str, key: str, reason: str) -> None:
        """A file or folder that cannot be read: reported, and recorded so that it is read again next time."""
        # A name that is not valid UTF-8 can be neither printed nor stored as it is.
        key = _printable(key)
        self.known.pop(key, None)
        self.rejections.append(Rejection(_printable(shown), reason))
        self.refused.append(ScannedFile(key, 0, _FORCE_REREAD, None, reason))


def _storable_name(path: str) -> bool:
    # Linux file names are bytes; Python maps undecodable ones to lone surrogates, which no store (and no UTF-8
    # terminal) can take.
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _by_key(candidate: _Candidate) -> str:
    return candidate.key


def _with_sep(path: str) -> str:
    return path if path.endswith(os.sep) else path + os.sep


class _Root(NamedTuple):
    shown: str  # as given
    key: str  # absolute
    info: os.stat_result


def _roots(paths: Sequence[Path]) -> list[_Root]:
    """Every given path, stat'ed: a missing one is a usage error, raised before the database is touched."""
    roots = []
    for given in paths:
        shown = os.fspath(given)
        try:
            info = os.stat(shown)
        except FileNotFoundError:
            raise InvalidArgument(f"no such file or folder: {shown}") from None
        except OSError as exc:
            raise InvalidArgument(f"cannot open {shown}: {exc.strerror or exc}") from None
        roots.append(_Root(shown, os.path.abspath(shown), info))
    return roots


def _overlap(roots: list[_Root]) -> bool:
    """Whether one file could be found twice: a path given twice, or one inside a given folder."""
    keys = [root.key for root in roots]
    folders = tuple(_with_sep(root.key) for root in roots if stat.S_ISDIR(root.info.st_mode))
    return len(set(keys)) < len(keys) or any(
        _with_sep(key).startswith(folder) and _with_sep(key) != folder for key in keys for folder in folders
    )


def _scan(roots: list[_Root], known: dict[str, KnownFile], *, racy_after_ns: int) -> _Scan:
    """Every explicit file and every *.md under each folder, stat'ed once, unique, triaged against `known`."""
    scan = _Scan(known, racy_after_ns, overlapping=_overlap(roots))
    for root in roots:
        if stat.S_ISDIR(root.info.st_mode):
            _walk(scan, root.key, root.shown)
        elif scan.dedupe is None or root.key not in scan.dedupe:
            # An explicit file is taken whatever its name: the user asked for it.
            if scan.dedupe is not None:
                scan.dedupe.add(root.key)
            if _storable_name(root.key):
                scan.add(root.shown, root.key, root.info)
            else:
                scan.refuse(root.shown, root.key, _BAD_NAME)
    scan.to_read.sort(key=_by_key)
    return scan


def _walk(scan: _Scan, root: str, shown_root: str) -> None:
    # The hot loop of every rescan (100k files: ~0.4 s, nearly all of it the stat calls themselves), so it does
    # the least Python work per file: no Path objects, no per-file abspath, the shown path built only for a
    # file that is read or reported, the known-file check inlined (see _Scan.add, which it must match).
    pop = scan.known.pop
    racy_after_ns = scan.racy_after_ns
    to_read = scan.to_read
    dedupe = scan.dedupe
    unchanged = 0
    pending = [(root, shown_root)]
    while pending:
        folder, shown_folder = pending.pop()
        prefix = _with_sep(folder)
        shown_prefix = _with_sep(shown_folder)
        # A folder whose own path is not valid UTF-8 makes every file name below it unstorable.
        names_ok = _storable_name(prefix)
        fd = -1
        try:
            if _SCANDIR_FD:
                fd = os.open(folder, _OPEN_DIR)
            # Entries are consumed as they are listed, not collected first: a DirEntry keeps its stat result,
            # and 100k of them alive at once would cost memory and garbage-collector passes.
            with os.scandir(fd if fd >= 0 else folder) as listing:
                for entry in listing:
                    name = entry.name
                    # Hidden files and folders (.git and friends) never hold stories and can be huge.
                    if name[0] == ".":
                        continue
                    if name.endswith(_MD_SUFFIXES):
                        try:
                            is_file = entry.is_file()
                        except OSError:
                            is_file = True  # a symlink loop, say: the stat below reports it
                        if is_file:
                            key = prefix + name
                            if dedupe is not None:
                                if key in dedupe:
                                    continue
                                dedupe.add(key)
                            if not (names_ok and (name.isascii() or _storable_name(name))):
                                scan.refuse(shown_prefix + name, key, _BAD_NAME)
                                continue
                            try:
                                info = entry.stat()
                            except OSError as exc:
                                scan.refuse(shown_prefix + name, key, f"cannot read the file: {exc.strerror or exc}")
                                continue
                            size = info.st_size
                            mtime_ns = info.st_mtime_ns
                            seen = pop(key, None)
                            if (
                                seen is not None
                                and seen.size == size
                                and seen.mtime_ns == mtime_ns
                                and racy_after_ns > mtime_ns != _FORCE_REREAD
                            ):
                                if seen.rejected_reason is None:
                                    unchanged += 1
                                else:
                                    scan.skip_rejected(shown_prefix + name, seen.rejected_reason)
                            else:
                                racy = mtime_ns >= racy_after_ns
                                to_read.append(
                                    _Candidate(shown_prefix + name, key, size, _FORCE_REREAD if racy else mtime_ns)
                                )
                            continue
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((prefix + name, shown_prefix + name))
        except OSError as exc:
            # A folder found twice (overlapping paths) is reported once, like a file.
            if dedupe is None or folder not in dedupe:
                if dedupe is not None:
                    dedupe.add(folder)
                scan.refuse(shown_folder, folder, f"cannot list the folder: {exc.strerror or exc}")
                scan.unlisted.append(prefix)
        finally:
            if fd >= 0:
                os.close(fd)
    scan.unchanged += unchanged


def ingest_paths(
    paths: Sequence[Path],
    location: StoreLocation,
    *,
    clock: Clock,
    max_file_bytes: int,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Ingest files and folders into the store at `location`; raises InvalidArgument or DatabaseError."""
    timer = time.perf_counter()
    started_at = clock.now()
    roots = _roots(paths)
    pool: Pool | None = None
    store = open_ingest_store(location)
    try:
        scan = _scan(roots, store.known_files(), racy_after_ns=time.time_ns() - RACY_WINDOW_NS)
        worker_count = _worker_count(workers, len(scan.to_read))
        if worker_count > 1:
            # No connection of any engine may be inherited by a forked worker (both processes would talk over one
            # socket or file lock): close it for the fork, open a fresh one after. Only big runs fork; the bot's
            # every-minute rescan keeps its one connection.
            store.close()
            pool = _start_pool(worker_count)
            store = open_ingest_store(location)
    except BaseException:
        store.close()
        _stop_pool(pool)
        raise
    gone = _gone(roots, scan.known, scan.unlisted)
    to_read = scan.to_read
    rejections = scan.rejections
    try:
        run = store.begin_run(started_at)
        # Skipped files still count in the run's totals.
        run.count_skipped(unchanged=scan.unchanged, rejected=scan.rejected)
        run.write_batch(scan.refused, now=clock.now())
        done = 0
        if progress is not None:
            progress(0, len(to_read))
        scanned_files: list[ScannedFile] = []
        for batch, outcomes in _parse_batches(to_read, max_file_bytes, pool, worker_count):
            for candidate, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, str):
                    rejections.append(Rejection(candidate.shown, outcome))
                    scanned_files.append(ScannedFile(candidate.key, candidate.size, candidate.mtime_ns, None, outcome))
                else:
                    scanned_files.append(ScannedFile(candidate.key, candidate.size, candidate.mtime_ns, outcome))
            if len(scanned_files) >= WRITE_FILES or done + len(scanned_files) == len(to_read):
                run.write_batch(scanned_files, now=clock.now())
                done += len(scanned_files)
                scanned_files = []
                if progress is not None:
                    progress(done, len(to_read))
        # Files that vanished since the last run: their records go (their stories stay; they were seen).
        run.forget_files(gone)
        counts = run.finish(scanned=scan.scanned, finished_at=clock.now())
        refused = run.refused()
        if refused:
            # Files that parsed but whose rows the database would not take: reported like any other rejection.
            shown_by_key = {candidate.key: candidate.shown for candidate in to_read}
            rejections.extend(Rejection(shown_by_key.get(path, path), reason) for path, reason in refused)
    finally:
        store.close()
        _stop_pool(pool)

    rejections.sort(key=lambda item: item.path)
    report = IngestReport(
        scanned=scan.scanned,
        added=counts.added,
        updated=counts.updated,
        unchanged=counts.unchanged,
        duplicates=counts.duplicates,
        rejected=tuple(rejections),
        seconds=round(time.perf_counter() - timer, 3),
    )
    log.info(
        "ingest: read %s: %s; %d gone, in %.2fs",
        plural(report.scanned, "file"),
        report_counts(report),
        len(gone),
        report.seconds,
    )
    return report


def _gone(roots: list[_Root], unseen: dict[str, KnownFile], unlisted: list[str]) -> list[str]:
    """Recorded files (and folders rejected before) under a scanned folder that were not found this time.

    What lies under a folder that could not be listed is unknown, not gone: its records stay, so the files need no
    reading again once the folder can be listed.
    """
    root_folders = {root.key for root in roots if stat.S_ISDIR(root.info.st_mode)}
    folders = tuple(_with_sep(key) for key in root_folders)
    if not folders:
        return []
    hidden = tuple(unlisted)
    return [
        path
        for path in unseen
        if (path.startswith(folders) or path in root_folders) and not (hidden and path.startswith(hidden))
    ]


def _worker_count(requested: int | None, files: int) -> int:
    batches = -(-files // BATCH_FILES)
    if requested is None:
        if files < PARALLEL_MIN_FILES:
            return 1
        requested = os.cpu_count() or 1
    count = max(1, min(requested, batches))
    if count == 1:
        return 1
    # Worker processes are forked, and forking a process that runs other threads (the bot: its event loop,
    # the scheduler) can copy a lock held by another thread into the child. spawn/forkserver would re-import
    # `__main__`, and `python -m bot` has no main guard, so the child would start a second bot. Inside a
    # threaded process, parse in-process: the bot's rescans are incremental and small anyway.
    import multiprocessing

    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return count


def _start_pool(count: int) -> Pool:
    import multiprocessing

    # Imported before the fork so that every worker inherits the parser instead of importing it again.
    import bot.ingest.parse  # noqa: F401

    # Everything alive now (the scanned file list above all) lives until the run ends: frozen, the collector
    # stops re-walking it, in this process and in the forked workers (whose walks would also copy every page
    # they touch). Only ever reached in a process without other threads (see _worker_count), i.e. the CLI.
    gc.freeze()
    return multiprocessing.get_context("fork").Pool(count)


def _stop_pool(pool: Pool | None) -> None:
    if pool is not None:
        pool.terminate()
        pool.join()
        gc.unfreeze()


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
    # Imported on first use: a run with nothing to read never loads the parser (YAML, front matter, ...).
    from bot.ingest.parse import StoryRejected, read_story_file
    from db.ingest_rows import story_row

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
