"""The ingester's side of the PostgreSQL store (sync psycopg: it runs in the CLI or a worker thread of the bot).

Several processes may write one database at once (bots, other `heatwave ingest` runs). Every write transaction
of the ingester starts by taking one transaction-scoped advisory lock (INGEST_LOCK), and only then looks URLs
up: a second writer waits, then sees the first one's stories, so two runs never insert one URL twice or lose a
heat change. heat_history ids are allocated only while the lock is held, so they also become visible in id
order (the alert cursor relies on that, see migrations/0001_schema.sql).

One transaction per batch (~1,000 files): URLs looked up in one query, story ids reserved from the identity
sequence in one query, then every table bulk-loaded with COPY. A story inserted and then changed within one
batch (two files, one URL) is changed in memory before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TypeAlias

import psycopg

from db.errors import DatabaseError
from db.ingest_rows import STORY_COLUMNS, KnownFile, Outcome, RunCounts, ScannedFile, StoryRow, iso_utc
from db.ingest_tally import IngestTally
from db.location import StoreLocation
from db.models import StoreStats
from db.postgres.connection import connect_sync, describe_error
from db.postgres.migrate import migrate, schema_version
from db.postgres.news_channel import NOTIFY_NEWS
from db.postgres.stats import read_stats
from db.postgres.vectors import search_text
from db.text import index_words, topic_key

# pg_advisory_xact_lock key held by every write transaction of an ingester (any constant shared by every
# Heatwave process on this database, distinct from the migration lock).
INGEST_LOCK = 0x4E41_5645_0002  # "HEAVE" 2

_LOOKUP = (
    "SELECT url, id, source_path, published_at, content_hash, heat, first_seen_at FROM stories WHERE url = ANY(%s)"
)
_COPY_STORIES = (
    "COPY stories (id, url, title, excerpt, published_at, kind, provider_name, provider_domain, link_url, amp_url, "
    "image_url, heat, quality, content_hash, source_path, first_seen_at, updated_at, title_words, excerpt_words, "
    "search, title_search) FROM STDIN"
)
_COPY_TOPIC_LINKS = "COPY story_topics (story_id, topic_id, position, heat, published_at, first_seen_at) FROM STDIN"
_COPY_RELATED = (
    "COPY related_entries (story_id, position, url, link_url, title, excerpt, published_at, provider_name, "
    "provider_domain, quality, image_url) FROM STDIN"
)
_COPY_HEAT = "COPY heat_history (story_id, observed_at, heat, previous_heat) FROM STDIN"
_FILES_TABLE = "heatwave_incoming_files"
_CREATE_FILES_TABLE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_FILES_TABLE} (path text, size bigint, mtime_ns bigint, story_id bigint, "
    "published_at timestamptz, rejected_reason text, ingested_at timestamptz) ON COMMIT DELETE ROWS"
)
_COPY_FILES = (
    f"COPY {_FILES_TABLE} (path, size, mtime_ns, story_id, published_at, rejected_reason, ingested_at) FROM STDIN"
)
_UPSERT_FILES = (
    "INSERT INTO source_files (path, size, mtime_ns, story_id, published_at, rejected_reason, ingested_at) "
    f"SELECT path, size, mtime_ns, story_id, published_at, rejected_reason, ingested_at FROM {_FILES_TABLE} "
    "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
    "story_id = excluded.story_id, published_at = excluded.published_at, "
    "rejected_reason = excluded.rejected_reason, ingested_at = excluded.ingested_at"
)
_UPDATE_STORY = (
    "UPDATE stories SET title = %s, excerpt = %s, published_at = %s, kind = %s, provider_name = %s, "
    "provider_domain = %s, link_url = %s, amp_url = %s, image_url = %s, heat = %s, quality = %s, "
    "content_hash = %s, source_path = %s, updated_at = %s, title_words = %s, excerpt_words = %s, "
    "search = %s::tsvector, title_search = %s::tsvector WHERE id = %s"
)
_MOVE_STORY = "UPDATE stories SET source_path = %s WHERE id = %s"

# A stories row as copied: id, the StoryRow columns, source_path, first_seen_at, updated_at, the two word lists
# and the two search vectors made from them.
_PATH_AT = 1 + STORY_COLUMNS
_FIRST_SEEN_AT = _PATH_AT + 1
_StoryCopy: TypeAlias = list[object]
# (story_id, topic key, position, heat, published_at, first_seen_at): the key becomes a topic id at flush time.
_TopicLink: TypeAlias = tuple[int, str, int, int | None, str, str]
_RelatedCopy: TypeAlias = tuple[object, ...]
_HeatCopy: TypeAlias = tuple[int, str, int | None, int | None]
_FileCopy: TypeAlias = tuple[str, int, int, int | None, str | None, str | None, str]


@dataclass(slots=True)
class _Stored:
    """The columns of a stored story that decide what a newly read file does to it (times as ISO text)."""

    id: int
    source_path: str
    published_at: str
    content_hash: str
    heat: int | None
    first_seen_at: str


@contextmanager
def _reported(location: StoreLocation, doing: str) -> Iterator[None]:
    """psycopg errors as one-line DatabaseErrors naming the (masked) location."""
    try:
        yield
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot {doing} the database {location}: {describe_error(exc)}") from None


class PostgresIngestStore:
    """One sync connection (autocommit; explicit transactions for writes), migrated on open."""

    def __init__(self, conn: psycopg.Connection, location: StoreLocation) -> None:
        self._conn = conn
        self._location = location

    @classmethod
    def open(cls, location: StoreLocation, *, create: bool = True) -> PostgresIngestStore:
        """Connect and bring the schema up to date; raises DatabaseError when the database cannot be used."""
        conn = connect_sync(location)
        try:
            with _reported(location, "use"):
                if not create and schema_version(conn) == 0:
                    raise DatabaseError(f"no Heatwave data at {location}; run `heatwave ingest PATH` first")
                migrate(conn, location)
        except BaseException:
            conn.close()
            raise
        return cls(conn, location)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> PostgresIngestStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def known_files(self) -> dict[str, KnownFile]:
        """Every path seen before, keyed by path, for the incremental rescan."""
        with _reported(self._location, "read"):
            rows = self._conn.execute("SELECT path, size, mtime_ns, rejected_reason FROM source_files").fetchall()
        make = KnownFile._make
        return {row[0]: make(row) for row in rows}

    def begin_run(self, started_at: datetime) -> PostgresIngestRun:
        """Start counting one ingest run; write batches through the returned object."""
        return PostgresIngestRun(self._conn, self._location, started_at)

    def story_ids(self, urls: Sequence[str]) -> dict[str, int]:
        with _reported(self._location, "read"):
            return {url: stored.id for url, stored in _lookup(self._conn, urls).items()}

    def read_stats(self) -> StoreStats:
        return read_stats(self._conn, self._location)

    def app_state_value(self, key: str) -> str | None:
        with _reported(self._location, "read"):
            row = self._conn.execute("SELECT value FROM app_state WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])


class _Pending:
    """What one batch will write, built in memory and flushed with a few COPYs at the end of the batch."""

    __slots__ = ("files", "heat", "inserts", "links", "moves", "related", "replaced", "topics", "updates")

    def __init__(self) -> None:
        self.inserts: dict[int, _StoryCopy] = {}  # new stories by id, in file order
        self.updates: dict[int, tuple[object, ...]] = {}  # _UPDATE_STORY parameters of stored stories
        self.moves: dict[int, str] = {}  # stored stories whose content stays but whose file changed
        self.replaced: set[int] = set()  # stored stories whose topic links and related entries are rewritten
        self.links: dict[int, list[_TopicLink]] = {}
        self.related: dict[int, list[_RelatedCopy]] = {}
        self.heat: list[_HeatCopy] = []
        self.files: dict[str, _FileCopy] = {}
        self.topics: dict[str, str] = {}  # topic key -> first display name seen, for keys not yet known

    def move(self, story_id: int, path: str) -> None:
        if story_id in self.inserts:
            self.inserts[story_id][_PATH_AT] = path
        elif story_id in self.updates:
            *head, _path, updated_at, title_words, excerpt_words, search, title_search, row_id = self.updates[story_id]
            self.updates[story_id] = (*head, path, updated_at, title_words, excerpt_words, search, title_search, row_id)
        else:
            self.moves[story_id] = path


class PostgresIngestRun(IngestTally[_Stored]):
    """Applies batches of scanned files; IngestTally decides what each file does and counts the outcomes."""

    def __init__(self, conn: psycopg.Connection, location: StoreLocation, started_at: datetime) -> None:
        super().__init__()
        self._conn = conn
        self._location = location
        self._started_at = started_at
        self._topic_ids: dict[str, int] = {}
        self._topic_keys: dict[str, str] = {}  # display name -> topic key (a few names recur in every batch)
        self._pending = _Pending()
        self._new_ids: Iterator[int] = iter(())
        self._story_sequence: str | None = None
        self._files_table_ready = False

    def write_batch(self, files: Sequence[ScannedFile], *, now: datetime) -> None:
        """Store one batch in a single short transaction (a file whose row PostgreSQL refuses is stored as rejected)."""
        if not files:
            return
        stamp = iso_utc(now)
        with _reported(self._location, "write to"):
            self._write_isolating(files, lambda batch: self._write(batch, stamp), _refusal)

    def _write(self, files: Sequence[ScannedFile], stamp: str) -> None:
        conn = self._conn
        try:
            with conn.transaction():
                self._lock()
                stored = _lookup(conn, [story.url for f in files if (story := f.story) is not None])
                self._reserve_ids(files, stored)
                for scanned in files:
                    self._apply(scanned, stored, stamp)
                self._flush()
        except BaseException:
            # Rolled back: topics and the temp table created in this transaction are gone with it.
            self._topic_ids.clear()
            self._files_table_ready = False
            raise
        finally:
            self._pending = _Pending()

    def forget_files(self, paths: Sequence[str]) -> None:
        """Drop the records of files that no longer exist (their stories are kept)."""
        if not paths:
            return
        with _reported(self._location, "write to"), self._conn.transaction():
            self._lock()
            self._conn.execute("DELETE FROM source_files WHERE path = ANY(%s)", (list(paths),))

    def finish(self, *, scanned: int, finished_at: datetime) -> RunCounts:
        """Record the run in ingest_runs and return its totals."""
        counts = self.counts()
        with _reported(self._location, "write to"), self._conn.transaction():
            self._lock()
            self._conn.execute(
                "INSERT INTO ingest_runs (started_at, finished_at, scanned, added, updated, unchanged, duplicates, "
                "rejected) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    self._started_at,
                    finished_at,
                    scanned,
                    counts.added,
                    counts.updated,
                    counts.unchanged,
                    counts.duplicates,
                    counts.rejected,
                ),
            )
        return counts

    def _lock(self) -> None:
        # First statement of every write transaction: whatever is read after it includes the other writers' work.
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (INGEST_LOCK,))

    def _reserve_ids(self, files: Sequence[ScannedFile], stored: dict[str, _Stored]) -> None:
        """Take ids for every URL of the batch not stored yet (each is inserted exactly once) in one query."""
        new_urls = {story.url for f in files if (story := f.story) is not None and story.url not in stored}
        if not new_urls:
            self._new_ids = iter(())
            return
        if self._story_sequence is None:
            row = self._conn.execute("SELECT pg_get_serial_sequence('stories', 'id')").fetchone()
            assert row is not None
            self._story_sequence = str(row[0])
        rows = self._conn.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (self._story_sequence, len(new_urls))
        ).fetchall()
        self._new_ids = iter(sorted(int(row[0]) for row in rows))

    def _record_file(self, scanned: ScannedFile, story_id: int | None, published_at: str | None, stamp: str) -> None:
        path = scanned.path
        self._pending.files[path] = (
            path,
            scanned.size,
            scanned.mtime_ns,
            story_id,
            published_at,
            scanned.rejected_reason,
            stamp,
        )

    def _insert_story(self, story: StoryRow, path: str, stamp: str) -> _Stored:
        story_id = next(self._new_ids)
        self._pending.inserts[story_id] = [story_id, *story[:STORY_COLUMNS], path, stamp, stamp, *_searchable(story)]
        self._add_children(story_id, story, stamp)
        self._pending.heat.append((story_id, stamp, story.heat, None))
        return _Stored(story_id, path, story.published_at, story.content_hash, story.heat, stamp)

    def _update_story(self, current: _Stored, story: StoryRow, path: str, stamp: str) -> Outcome:
        pending = self._pending
        if current.content_hash == story.content_hash:
            if current.source_path != path:
                pending.move(current.id, path)
                current.source_path = path
            return "unchanged"
        searchable = _searchable(story)
        inserted = pending.inserts.get(current.id)
        if inserted is not None:
            # Inserted earlier in this batch: rewrite the row before it is copied (first seen stays).
            inserted[1:] = [*story[:STORY_COLUMNS], path, inserted[_FIRST_SEEN_AT], stamp, *searchable]
        else:
            pending.updates[current.id] = (*story[1:STORY_COLUMNS], path, stamp, *searchable, current.id)
            pending.moves.pop(current.id, None)
            pending.replaced.add(current.id)
        self._add_children(current.id, story, current.first_seen_at)
        if story.heat != current.heat:
            pending.heat.append((current.id, stamp, story.heat, current.heat))
        current.source_path = path
        current.published_at = story.published_at
        current.content_hash = story.content_hash
        current.heat = story.heat
        return "updated"

    def _add_children(self, story_id: int, story: StoryRow, first_seen_at: str) -> None:
        """The story's topic links (with its sort keys) and related entries, replacing any pending ones."""
        pending = self._pending
        links: list[_TopicLink] = []
        keys = self._topic_keys
        for position, name in enumerate(story.topics):
            key = keys.get(name)
            if key is None:
                key = keys[name] = topic_key(name)
            if key not in self._topic_ids and key not in pending.topics:
                pending.topics[key] = name
            links.append((story_id, key, position, story.heat, story.published_at, first_seen_at))
        pending.links[story_id] = links
        pending.related[story_id] = [(story_id, position, *entry) for position, entry in enumerate(story.related)]

    def _flush(self) -> None:
        pending = self._pending
        conn = self._conn
        self._create_topics(pending.topics)
        if pending.replaced:
            replaced = list(pending.replaced)
            conn.execute("DELETE FROM story_topics WHERE story_id = ANY(%s)", (replaced,))
            conn.execute("DELETE FROM related_entries WHERE story_id = ANY(%s)", (replaced,))
        with conn.cursor() as cur:
            if pending.updates:
                cur.executemany(_UPDATE_STORY, list(pending.updates.values()))
            if pending.moves:
                cur.executemany(_MOVE_STORY, [(path, story_id) for story_id, path in pending.moves.items()])
            # Parents before children: every other table's foreign key points at stories.
            _copy(cur, _COPY_STORIES, pending.inserts.values())
            topic_ids = self._topic_ids
            _copy(
                cur,
                _COPY_TOPIC_LINKS,
                (
                    (story_id, topic_ids[key], position, heat, published_at, first_seen_at)
                    for links in pending.links.values()
                    for story_id, key, position, heat, published_at, first_seen_at in links
                ),
            )
            _copy(cur, _COPY_RELATED, (row for rows in pending.related.values() for row in rows))
            _copy(cur, _COPY_HEAT, pending.heat)
            if pending.heat:
                # Bot processes listening for news start their alert tick when this commits (news_signal.py).
                cur.execute(NOTIFY_NEWS)
            if pending.files:
                if not self._files_table_ready:
                    cur.execute(_CREATE_FILES_TABLE)
                    self._files_table_ready = True
                _copy(cur, _COPY_FILES, pending.files.values())
                cur.execute(_UPSERT_FILES)

    def _create_topics(self, wanted: dict[str, str]) -> None:
        """Ids for the topic keys first seen in this batch, created if needed (the first display name stays)."""
        if not wanted:
            return
        keys = list(wanted)
        # Another ingest may have created some of them since; ON CONFLICT keeps its display name.
        self._conn.execute(
            "INSERT INTO topics (key, name) SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT (key) DO NOTHING",
            (keys, list(wanted.values())),
        )
        for key, topic_id in self._conn.execute("SELECT key, id FROM topics WHERE key = ANY(%s)", (keys,)):
            self._topic_ids[key] = int(topic_id)


def _refusal(exc: Exception) -> str | None:
    """The reason when the error is about the values of one row (SQLSTATE class 22 or 23, e.g. a number out of
    bigint's range, a NUL in text, a broken constraint); None for anything else (a lost connection, a full disk,
    a missing table), which would fail every file alike and stays fatal."""
    if not isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
        return None
    return exc.diag.message_primary or describe_error(exc)


def _searchable(story: StoryRow) -> tuple[str, str, str, str]:
    """title_words, excerpt_words, search, title_search: what lookups match a story by."""
    title_words = index_words(story.title)
    excerpt_words = index_words(story.excerpt)
    return title_words, excerpt_words, *search_text(title_words, excerpt_words)


def _copy(cur: psycopg.Cursor, statement: str, rows: Iterable[Sequence[object]]) -> None:
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return
    with cur.copy(statement) as copy:
        write = copy.write_row
        write(first)
        for row in iterator:
            write(row)


def _lookup(conn: psycopg.Connection, urls: Iterable[str]) -> dict[str, _Stored]:
    wanted = list(dict.fromkeys(urls))
    if not wanted:
        return {}
    return {
        url: _Stored(story_id, source_path, iso_utc(published_at), content_hash, heat, iso_utc(first_seen_at))
        for url, story_id, source_path, published_at, content_hash, heat, first_seen_at in conn.execute(
            _LOOKUP, (wanted,)
        )
    }
