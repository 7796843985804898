"""The ingester's side of the store (sync sqlite3: it runs in the CLI or a worker thread of the bot).

Writes happen in short `BEGIN IMMEDIATE` transactions, one per batch of about a thousand files, so a bot in
another process waits at most one batch for the write lock (its busy timeout is far longer than that).
Parsed stories arrive as `StoryRow`s (plain column values, built by `story_row` in the parse workers): they
cross the process boundary cheaply, and the writer only adds ids and stamps before its bulk INSERTs.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TypeAlias

from db.errors import DatabaseError
from db.ingest_rows import STORY_COLUMNS, KnownFile, Outcome, RunCounts, ScannedFile, StoryRow
from db.ingest_tally import IngestTally
from db.location import StoreLocation
from db.models import StoreStats
from db.sqlite.connection import connect_sync
from db.sqlite.migrate import migrate
from db.sqlite.stats import read_stats
from db.sqlite.timefmt import to_db
from db.text import topic_key

log = logging.getLogger(__name__)

# Stay well below SQLite's host-parameter limit when looking stories up by URL.
_LOOKUP_CHUNK = 500
_CACHE_KIB = 64 * 1024
_CHECKPOINT_PAGES = 16_384


@dataclass(slots=True)
class _Stored:
    """The columns of a stored story that decide what a newly read file does to it."""

    id: int
    source_path: str
    published_at: str
    content_hash: str
    heat: int | None


class SqliteIngestStore:
    """One sync connection, migrated on open; the only writer the ingester uses."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, location: StoreLocation, *, create: bool = True) -> SqliteIngestStore:
        """Connect and bring the schema up to date; raises DatabaseError when the file cannot be used."""
        assert location.path is not None
        path = location.path
        if not create and not path.is_file():
            raise DatabaseError(f"no database at {path}; run `heatwave ingest PATH` first")
        conn = connect_sync(path)
        try:
            migrate(conn)
            # This connection is a bulk writer: a bigger page cache keeps the URL index's randomly ordered
            # inserts in memory, and rarer WAL checkpoints mean fewer fsyncs (measured ~7% faster at 20k files).
            conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
            conn.execute(f"PRAGMA wal_autocheckpoint = {_CHECKPOINT_PAGES}")
        except sqlite3.Error as exc:
            conn.close()
            raise DatabaseError(f"cannot use database {path}: {exc}") from None
        except DatabaseError:
            conn.close()
            raise
        return cls(conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteIngestStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def known_files(self) -> dict[str, KnownFile]:
        """Every path seen before, keyed by path, for the incremental rescan."""
        try:
            cursor = self._conn.execute("SELECT path, size, mtime_ns, rejected_reason FROM source_files")
            return {row[0]: KnownFile._make(row) for row in cursor}
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot read the database: {exc}") from None

    def begin_run(self, started_at: datetime) -> SqliteIngestRun:
        """Start counting one ingest run; write batches through the returned object."""
        return SqliteIngestRun(self._conn, started_at)

    def story_ids(self, urls: Sequence[str]) -> dict[str, int]:
        try:
            return {url: stored.id for url, stored in _lookup(self._conn, urls).items()}
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot read the database: {exc}") from None

    def read_stats(self) -> StoreStats:
        return read_stats(self._conn)

    def app_state_value(self, key: str) -> str | None:
        try:
            row = self._conn.execute("SELECT value FROM app_state WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot read the database: {exc}") from None
        return None if row is None else str(row[0])


# Each INSERT below takes many rows per statement (`_insert_rows`). One statement per row (`executemany`) cost
# twice the writer's time: FTS5 writes its in-memory index out as a new segment at the end of every statement
# that touches it (the statement savepoint), so the stories_fts/titles_fts triggers flushed and later merged one
# tiny segment per story. One statement per 256 stories indexes them together (writer CPU 4.0 s -> 1.9 s per
# 30k files), with the triggers unchanged: every other writer of `stories` keeps the indexes in step as before.
_INSERT_STORY = (
    "INSERT INTO stories (id, url, title, excerpt, published_at, kind, provider_name, provider_domain, link_url, "
    "amp_url, image_url, heat, quality, content_hash, source_path, first_seen_at, updated_at) VALUES ",
    17,
    "",
)
_INSERT_TOPIC_LINK = ("INSERT INTO story_topics (story_id, topic_id, position) VALUES ", 3, "")
_INSERT_RELATED = (
    "INSERT INTO related_entries (story_id, position, url, link_url, title, excerpt, published_at, "
    "provider_name, provider_domain, quality, image_url) VALUES ",
    11,
    "",
)
_INSERT_HEAT = ("INSERT INTO heat_history (story_id, observed_at, heat, previous_heat) VALUES ", 4, "")
_RECORD_FILE = (
    "INSERT INTO source_files (path, size, mtime_ns, story_id, published_at, rejected_reason, ingested_at) VALUES ",
    7,
    " ON CONFLICT (path) DO UPDATE SET size = excluded.size, "
    "mtime_ns = excluded.mtime_ns, story_id = excluded.story_id, published_at = excluded.published_at, "
    "rejected_reason = excluded.rejected_reason, ingested_at = excluded.ingested_at",
)
# Rows per statement: more saves little (measured: 1,024 rows cost the same CPU as 256), and a prepared statement
# grows with its rows (at 1,024 the cached statements held ~30 MB more). A power of two, see `_insert_rows`.
_ROWS_PER_STATEMENT = 256

_StoryParams: TypeAlias = tuple[object, ...]
_TopicLink: TypeAlias = tuple[int, int, int]
_RelatedParams: TypeAlias = tuple[object, ...]
_HeatParams: TypeAlias = tuple[int, str, int | None, int | None]
_FileParams: TypeAlias = tuple[str, int, int, int | None, str | None, str | None, str]


class _Pending:
    """Rows of one batch not yet written: a few multi-row INSERTs per batch instead of ~5 statements per file."""

    __slots__ = ("files", "heat", "related", "stories", "topic_links")

    def __init__(self) -> None:
        self.stories: list[_StoryParams] = []
        self.topic_links: list[_TopicLink] = []
        self.related: list[_RelatedParams] = []
        self.heat: list[_HeatParams] = []
        self.files: list[_FileParams] = []


class SqliteIngestRun(IngestTally[_Stored]):
    """Applies batches of scanned files; IngestTally decides what each file does and counts the outcomes."""

    def __init__(self, conn: sqlite3.Connection, started_at: datetime) -> None:
        super().__init__()
        self._conn = conn
        self._started_at = started_at
        self._topic_ids: dict[str, int] = {}  # topic key -> id
        self._spelled: dict[str, int] = {}  # name as written in files -> id (saves the casefolding per link)
        self._pending = _Pending()
        self._next_id = 0

    def write_batch(self, files: Sequence[ScannedFile], *, now: datetime) -> None:
        """Store one batch in a single short transaction (a file whose row SQLite refuses is stored as rejected)."""
        if not files:
            return
        stamp = to_db(now)
        try:
            self._write_isolating(files, lambda batch: self._write(batch, stamp), _refusal)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot write to the database: {exc}") from None

    def _write(self, files: Sequence[ScannedFile], stamp: str) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            stored = self._lookup(story.url for f in files if (story := f.story) is not None)
            # New stories get their ids here rather than from SQLite, so that their rows can be inserted in
            # bulk: the same ids SQLite would pick (max + 1), safe because this transaction holds the write lock.
            self._next_id = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM stories").fetchone()[0])
            for scanned in files:
                self._apply(scanned, stored, stamp)
            self._flush()
            conn.execute("COMMIT")
        except BaseException:
            self._pending = _Pending()
            # Topics created in this transaction are gone with it.
            self._topic_ids.clear()
            self._spelled.clear()
            # SQLite may already have rolled back by itself (disk full, I/O error).
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def forget_files(self, paths: Sequence[str]) -> None:
        """Drop the records of files that no longer exist (their stories are kept)."""
        if not paths:
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("DELETE FROM source_files WHERE path = ?", [(path,) for path in paths])
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot write to the database: {exc}") from None

    def finish(self, *, scanned: int, finished_at: datetime) -> RunCounts:
        """Record the run in ingest_runs and return its totals."""
        counts = self.counts()
        try:
            self._conn.execute(
                "INSERT INTO ingest_runs (started_at, finished_at, scanned, added, updated, unchanged, duplicates, "
                "rejected) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    to_db(self._started_at),
                    to_db(finished_at),
                    scanned,
                    counts.added,
                    counts.updated,
                    counts.unchanged,
                    counts.duplicates,
                    counts.rejected,
                ),
            )
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot write to the database: {exc}") from None
        return counts

    def _lookup(self, urls: Iterable[str]) -> dict[str, _Stored]:
        return _lookup(self._conn, urls)

    def _record_file(self, scanned: ScannedFile, story_id: int | None, published_at: str | None, stamp: str) -> None:
        self._pending.files.append(
            (scanned.path, scanned.size, scanned.mtime_ns, story_id, published_at, scanned.rejected_reason, stamp)
        )

    def _insert_story(self, story: StoryRow, path: str, stamp: str) -> _Stored:
        story_id = self._next_id
        self._next_id += 1
        pending = self._pending
        pending.stories.append((story_id, *story[:STORY_COLUMNS], path, stamp, stamp))
        self._add_children(story_id, story)
        pending.heat.append((story_id, stamp, story.heat, None))
        return _Stored(story_id, path, story.published_at, story.content_hash, story.heat)

    def _update_story(self, current: _Stored, story: StoryRow, path: str, stamp: str) -> Outcome:
        # Updates are rare (changed or duplicate files) and may touch a story inserted earlier in this batch:
        # write what is pending first, so rows land in the same order (and heat_history ids) as file order.
        self._flush()
        if current.content_hash == story.content_hash:
            if current.source_path != path:
                self._conn.execute("UPDATE stories SET source_path = ? WHERE id = ?", (path, current.id))
                current.source_path = path
            return "unchanged"
        self._conn.execute(
            "UPDATE stories SET title = ?, excerpt = ?, published_at = ?, kind = ?, provider_name = ?, "
            "provider_domain = ?, link_url = ?, amp_url = ?, image_url = ?, heat = ?, quality = ?, "
            "content_hash = ?, source_path = ?, updated_at = ? WHERE id = ?",
            (*story[1:STORY_COLUMNS], path, stamp, current.id),
        )
        self._conn.execute("DELETE FROM story_topics WHERE story_id = ?", (current.id,))
        self._conn.execute("DELETE FROM related_entries WHERE story_id = ?", (current.id,))
        self._add_children(current.id, story)
        if story.heat != current.heat:
            self._pending.heat.append((current.id, stamp, story.heat, current.heat))
        self._flush()
        current.source_path = path
        current.published_at = story.published_at
        current.content_hash = story.content_hash
        current.heat = story.heat
        return "updated"

    def _add_children(self, story_id: int, story: StoryRow) -> None:
        pending = self._pending
        if story.topics:
            topic_id = self._topic_id
            pending.topic_links.extend(
                (story_id, topic_id(name), position) for position, name in enumerate(story.topics)
            )
        if story.related:
            pending.related.extend((story_id, position, *entry) for position, entry in enumerate(story.related))

    def _flush(self) -> None:
        # Parents before children: the story_topics triggers read the story's row, and the foreign keys of
        # every other table point at stories.
        pending = self._pending
        conn = self._conn
        for insert, rows in (
            (_INSERT_STORY, pending.stories),
            (_INSERT_TOPIC_LINK, pending.topic_links),
            (_INSERT_RELATED, pending.related),
            (_INSERT_HEAT, pending.heat),
            (_RECORD_FILE, pending.files),
        ):
            if rows:
                _insert_rows(conn, insert, rows)
                rows.clear()

    def _topic_id(self, name: str) -> int:
        topic_id = self._spelled.get(name)
        if topic_id is not None:
            return topic_id
        key = topic_key(name)
        topic_id = self._topic_ids.get(key)
        if topic_id is None:
            # Another ingest may have created it since; the first display name seen is kept.
            self._conn.execute("INSERT INTO topics (key, name) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, name))
            topic_id = int(self._conn.execute("SELECT id FROM topics WHERE key = ?", (key,)).fetchone()[0])
            self._topic_ids[key] = topic_id
        self._spelled[name] = topic_id
        return topic_id


# Errors about the values of one row (a number past 64 bits, text that is not valid Unicode, a broken
# constraint): that file is rejected and the rest of its batch stored. Any other error (a locked, full, read-only
# or corrupt database) would fail every file alike and stays fatal.
_ROW_ERRORS = (OverflowError, UnicodeEncodeError, sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError)


def _refusal(exc: Exception) -> str | None:
    return (str(exc) or type(exc).__name__) if isinstance(exc, _ROW_ERRORS) else None


def _insert_rows(conn: sqlite3.Connection, insert: tuple[str, int, str], rows: Sequence[Sequence[object]]) -> None:
    """INSERT `rows` (each `width` values) in statements of _ROWS_PER_STATEMENT rows, the rest in power-of-two
    pieces: at most 9 distinct statements per table, so the sqlite3 module's cache of prepared statements (by
    text, 128 of them) keeps them all and each is compiled once per run."""
    start = 0
    while start < len(rows):
        count = min(_ROWS_PER_STATEMENT, 1 << ((len(rows) - start).bit_length() - 1))
        chunk = rows[start : start + count]
        conn.execute(_statement(insert, count), [value for row in chunk for value in row])
        start += count


@functools.cache
def _statement(insert: tuple[str, int, str], rows: int) -> str:
    head, width, tail = insert
    return head + ",".join(["(" + ",".join("?" * width) + ")"] * rows) + tail


def _lookup(conn: sqlite3.Connection, urls: Iterable[str]) -> dict[str, _Stored]:
    wanted = list(dict.fromkeys(urls))
    found: dict[str, _Stored] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[start : start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT url, id, source_path, published_at, content_hash, heat FROM stories WHERE url IN ({marks})"
        for url, story_id, source_path, published_at, content_hash, heat in conn.execute(sql, chunk):
            found[url] = _Stored(story_id, source_path, published_at, content_hash, heat)
    return found
