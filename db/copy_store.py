"""`heatwave copy-store`: a lossless copy of one store into another, whichever engines they run on.

The driver here knows the schema's tables and their order, never an engine: each engine's `dump` module reads
rows as plain Python values (ints, str, None, aware UTC datetimes) and writes them back, ids verbatim (heat
history ids are what subscription and engine cursors point at, story ids what the delivery ledger names).

Safety, in order:
1. the target is migrated, and refused when it already holds data (unless `force`);
2. a marker row (`app_state[INCOMPLETE_COPY_KEY]`) is committed into the target before anything is cleared
   or written, and deleted only after every count matched: a copy cut short anywhere leaves a store that
   `db.open_store`/`open_ingest_store` refuse to open, naming the copy's source;
3. the source is read in one snapshot, so a bot writing to it meanwhile cannot make the copy inconsistent,
   and the counts it is verified against come from that same snapshot.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from db.errors import DatabaseError
from db.location import StoreLocation

INCOMPLETE_COPY_KEY = "copy-store:incomplete"
# app_state keys under this prefix (the marker, an engine's own bookkeeping) belong to the copy: never copied,
# counted or cleared as data.
BOOKKEEPING_KEYS = "copy-store:%"  # a LIKE pattern
# Rows per batch handed from reader to writer: big enough that per-batch costs vanish, small enough that
# memory stays flat (a batch of stories is a few MB).
BATCH_ROWS = 10_000

Row = Sequence[object]
Batches = Iterable[list[Row]]
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Table:
    """One table as copied: `columns` travel verbatim; `counted` columns are kept by the target's triggers
    (they are compared afterwards, never written); `times` hold timestamps."""

    name: str
    columns: tuple[str, ...]
    times: frozenset[str] = frozenset()
    id_column: str | None = None  # an id that only grows and that other rows point at: its max is verified
    counted: tuple[str, ...] = ()

    @property
    def time_positions(self) -> tuple[int, ...]:
        return tuple(i for i, column in enumerate(self.columns) if column in self.times)


def _table(
    name: str, columns: str, times: str = "", *, id_column: str | None = None, counted: tuple[str, ...] = ()
) -> Table:
    return Table(name, tuple(columns.split()), frozenset(times.split()), id_column, counted)


# Every table of the schema, parents before children (foreign keys hold at every step).
TABLES: tuple[Table, ...] = (
    _table(
        "stories",
        "id url title excerpt published_at kind provider_name provider_domain link_url amp_url image_url heat "
        "quality content_hash source_path first_seen_at updated_at",
        "published_at first_seen_at updated_at",
        id_column="id",
    ),
    # story_count is the number of story_topics rows: both engines count them with triggers as links arrive,
    # so topics start at 0 (copying the count too would double it).
    _table("topics", "id key name", id_column="id", counted=("story_count",)),
    _table(
        "story_topics",
        "story_id topic_id position heat published_at first_seen_at",
        "published_at first_seen_at",
    ),
    _table(
        "related_entries",
        "story_id position url link_url title excerpt published_at provider_name provider_domain quality image_url",
        "published_at",
    ),
    _table("heat_history", "id story_id observed_at heat previous_heat", "observed_at", id_column="id"),
    _table(
        "source_files",
        "path size mtime_ns story_id published_at rejected_reason ingested_at",
        "published_at ingested_at",
    ),
    _table(
        "ingest_runs",
        "id started_at finished_at scanned added updated unchanged duplicates rejected",
        "started_at finished_at",
        id_column="id",
    ),
    _table("app_state", "key value"),
    _table(
        "alert_channels",
        "channel_id guild_id kind created_at paused_at auto_paused_reason failure_count last_error last_error_at "
        "last_post_at hold_until",
        "created_at paused_at last_error_at last_post_at hold_until",
    ),
    _table(
        "alert_subscriptions",
        "id channel_id topic_id topic_key min_heat min_quality cursor created_at updated_at heat_percentile line_at "
        "line_basis",
        "created_at updated_at line_at",
        id_column="id",
    ),
    _table("alert_guild_pauses", "guild_id paused_at", "paused_at"),
    _table("alert_engine", "id cursor"),
    _table(
        "alert_deliveries",
        "story_id channel_id status heat queued_at next_attempt_at attempts claimed_at message_id sent_at last_error "
        "topic_key queued_by",
        "queued_at next_attempt_at claimed_at sent_at",
    ),
    _table("alert_crossposts", "id channel_id message_id published_at", "published_at", id_column="id"),
    _table(
        "digest_subscriptions",
        "id guild_id channel_id kind topic_id topic_key every minute weekday timezone top min_heat next_due_at "
        "covers_from created_at updated_at last_sent_at last_error last_error_at heat_percentile line_at line_basis",
        "next_due_at covers_from created_at updated_at last_sent_at last_error_at line_at",
        id_column="id",
    ),
    _table(
        "digest_deliveries",
        "subscription_id due_at channel_id status covers_from expires_at queued_at next_attempt_at attempts "
        "claimed_at message_id sent_at stories last_error",
        "due_at covers_from expires_at queued_at next_attempt_at claimed_at sent_at",
    ),
    _table(
        "alert_quiet_hours",
        "channel_id guild_id start_minute end_minute timezone breaking held_since created_at updated_at",
        "held_since created_at updated_at",
    ),
    _table("alert_summaries", "channel_id story_id kind created_at", "created_at"),
    _table("alert_log_channels", "guild_id channel_id set_by set_at", "set_at"),
    _table("alert_log_notices", "guild_id problem posted_at resolved_at", "posted_at resolved_at"),
    # Copied like the rest: the bot is stopped for a copy, so a lease in it has been handed back or runs out.
    _table("leases", "name holder expires_at", "expires_at"),
    _table(
        "living_posts",
        "channel_id story_id message_id edit_channel_id posted_at shown_heat version shown_version not_before "
        "attempts edited_at gone_at last_error",
        "posted_at not_before edited_at gone_at",
    ),
    _table("post_coverage", "channel_id story_id post_story_id added_at", "added_at"),
    _table("living_channels", "channel_id dedupe ping_heat"),
    _table("topic_roles", "guild_id topic_id role_id created_at", "created_at"),
    _table("role_pings", "channel_id role_id pinged_at", "pinged_at"),
    _table("post_words", "channel_id word shown_at story_id", "shown_at"),
)
TABLES_BY_NAME = {table.name: table for table in TABLES}
# Migrations seed this one row; a store holding only it (and nothing else) is empty.
SEEDED_TABLES = frozenset({"alert_engine"})


@dataclass(frozen=True, slots=True)
class Facts:
    """What verification compares: rows per table, the max of each id, and every topic's story count."""

    rows: dict[str, int]
    max_ids: dict[str, int | None]
    story_counts: dict[int, int]


class DumpReader(Protocol):
    """The source side, implemented by `db/<engine>/dump.py`. Never writes."""

    def begin_snapshot(self) -> None:
        """Start the one read transaction every later call reads in."""

    def marker(self) -> str | None:
        """The incomplete-copy marker of this store, if any."""

    def table_columns(self) -> dict[str, list[str]]:
        """Every data table and its columns (engine-internal tables and derived columns left out)."""

    def facts(self, tables: Sequence[Table]) -> Facts: ...

    def batches(self, table: Table, size: int) -> Iterator[list[Row]]:
        """The table's rows in `table.columns` order, as plain Python values."""

    def close(self) -> None: ...


class DumpWriter(Protocol):
    """The target side, implemented by `db/<engine>/dump.py`; opened migrated to the latest schema."""

    def table_columns(self) -> dict[str, list[str]]: ...

    def non_empty_tables(self, tables: Sequence[Table]) -> list[str]:
        """Tables holding rows (the seeded alert_engine row and the marker do not count)."""

    def marker(self) -> str | None: ...

    def set_marker(self, value: str | None) -> None:
        """Write (or with None delete) the incomplete-copy marker, committed at once."""

    def clear(self, tables: Sequence[Table]) -> None:
        """Delete every row of every table except the marker; ids start from 1 again."""

    def write_table(self, table: Table, batches: Batches) -> None:
        """Insert every row of every batch, ids as given."""

    def finish(self, tables: Sequence[Table]) -> None:
        """After the last table: move id generators past the copied ids, refresh planner statistics."""

    def facts(self, tables: Sequence[Table]) -> Facts: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TableCount:
    table: str
    source: int
    target: int
    seconds: float = 0.0  # spent writing it (reading the source included)

    @property
    def matches(self) -> bool:
        return self.source == self.target


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What a copy did; `mismatches` is empty when the target was verified (and unmarked)."""

    source: str
    target: str
    tables: tuple[TableCount, ...]
    mismatches: tuple[str, ...]
    seconds: float
    stories: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches


def incomplete_copy_message(location: StoreLocation, marker: str) -> str:
    return (
        f"the store {location} is an incomplete copy made by `heatwave copy-store` from {marker_source(marker)}; "
        "run the copy again with --force"
    )


def marker_source(marker: str) -> str:
    """The (masked) source named by a marker; its second line is a token unique to one copy."""
    return marker.split("\n", 1)[0]


def refuse_incomplete_copy(location: StoreLocation, marker: str | None) -> None:
    """Raise the clear "incomplete copy" error when a store carries the marker (the open paths call this)."""
    if marker is not None:
        raise DatabaseError(incomplete_copy_message(location, marker))


def open_reader(location: StoreLocation) -> DumpReader:
    if location.engine == "sqlite":
        from db.sqlite.dump import SqliteDumpReader

        return SqliteDumpReader.open(location)
    from db.postgres.dump import PgDumpReader

    return PgDumpReader.open(location)


def open_writer(location: StoreLocation) -> DumpWriter:
    if location.engine == "sqlite":
        from db.sqlite.dump import SqliteDumpWriter

        return SqliteDumpWriter.open(location)
    from db.postgres.dump import PgDumpWriter

    return PgDumpWriter.open(location)


def _same_place(source: StoreLocation, target: StoreLocation) -> bool:
    if source.engine != target.engine:
        return False
    if source.engine == "sqlite":
        assert source.path is not None
        assert target.path is not None
        return source.path.resolve() == target.path.resolve()
    return source.url == target.url


def copy_store(
    source: StoreLocation,
    target: StoreLocation,
    *,
    force: bool = False,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> CopyReport:
    """Copy everything from `source` into `target` and verify it; raises DatabaseError for anything fatal.

    A report with mismatches means the copy finished but did not verify: the target stays marked incomplete.
    """
    if _same_place(source, target):
        raise DatabaseError(f"SOURCE and TARGET are the same store ({source})")
    started = time.perf_counter()
    writer = open_writer(target)
    try:
        _check_columns(writer.table_columns(), target)
        previous = writer.marker()
        if not force:
            if previous is not None:
                raise DatabaseError(incomplete_copy_message(target, previous))
            held = writer.non_empty_tables(TABLES)
            if held:
                raise DatabaseError(
                    f"the target {target} already holds data ({', '.join(held)}); "
                    "run again with --force to replace everything in it"
                )
        reader = open_reader(source)
        try:
            _check_columns(reader.table_columns(), source)
            marker = f"{source}\n{os.urandom(8).hex()}"
            # Committed before the snapshot starts: a source that is the target under another name sees it.
            writer.set_marker(marker)
            try:
                reader.begin_snapshot()
                found = reader.marker()
                if found == marker:
                    raise DatabaseError(f"SOURCE and TARGET are the same store ({source} is {target})")
                if found is not None:
                    raise DatabaseError(
                        f"the source {source} is itself an incomplete copy (from {marker_source(found)}); "
                        "finish that copy first"
                    )
                expected = reader.facts(TABLES)
            except BaseException:
                writer.set_marker(previous)  # nothing was cleared yet: the target is as it was
                raise
            try:
                timings = _copy_tables(reader, writer, expected, progress, batch_rows)
                writer.finish(TABLES)
                actual = writer.facts(TABLES)
            except DatabaseError as exc:
                raise DatabaseError(
                    f"{exc}; the target {target} is left marked as an incomplete copy (run again with --force)"
                ) from None
        finally:
            reader.close()
        mismatches = _compare(expected, actual)
        if not mismatches:
            writer.set_marker(None)
        counts = tuple(TableCount(t.name, expected.rows[t.name], actual.rows[t.name], timings[t.name]) for t in TABLES)
        return CopyReport(
            source=str(source),
            target=str(target),
            tables=counts,
            mismatches=tuple(mismatches),
            seconds=time.perf_counter() - started,
            stories=expected.rows["stories"],
        )
    finally:
        writer.close()


def _copy_tables(
    reader: DumpReader, writer: DumpWriter, expected: Facts, progress: Progress | None, batch_rows: int
) -> dict[str, float]:
    """Clear the target and write every table; returns the seconds each took."""
    total = sum(expected.rows.values())
    done = 0

    def counted(batches: Iterator[list[Row]]) -> Iterator[list[Row]]:
        nonlocal done
        for batch in batches:
            yield batch
            # After the writer took the batch: `done` counts rows handed over (a callback that raises stops
            # the copy between two batches, which is how the tests cut a copy short).
            done += len(batch)
            if progress is not None:
                progress(done, total)

    writer.clear(TABLES)
    if progress is not None:
        progress(0, total)
    timings: dict[str, float] = {}
    for table in TABLES:
        started = time.perf_counter()
        writer.write_table(table, counted(reader.batches(table, batch_rows)))
        timings[table.name] = time.perf_counter() - started
    return timings


def _check_columns(found: dict[str, list[str]], location: StoreLocation) -> None:
    """Refuse a schema with a table or column this copy does not know: copying it would silently lose data."""
    for name, columns in found.items():
        table = TABLES_BY_NAME.get(name)
        if table is None:
            raise DatabaseError(
                f"the store {location} has a table `copy-store` does not know ({name}); "
                "this Heatwave cannot copy it without losing data"
            )
        unknown = [c for c in columns if c not in table.columns and c not in table.counted]
        if unknown:
            raise DatabaseError(
                f"the store {location} has columns `copy-store` does not know ({name}.{', '.join(unknown)}); "
                "this Heatwave cannot copy it without losing data"
            )
    missing = [t.name for t in TABLES if t.name not in found]
    if missing:
        raise DatabaseError(f"the store {location} lacks tables {', '.join(missing)}")


def _compare(expected: Facts, actual: Facts) -> list[str]:
    problems = [
        f"{name}: {rows} rows in the source, {actual.rows.get(name)} in the target"
        for name, rows in expected.rows.items()
        if actual.rows.get(name) != rows
    ]
    problems += [
        f"{name}: highest id {top} in the source, {actual.max_ids.get(name)} in the target"
        for name, top in expected.max_ids.items()
        if actual.max_ids.get(name) != top
    ]
    differing = sorted(
        topic
        for topic in expected.story_counts.keys() | actual.story_counts.keys()
        if expected.story_counts.get(topic) != actual.story_counts.get(topic)
    )
    if differing:
        shown = ", ".join(
            f"{topic} ({expected.story_counts.get(topic)} vs {actual.story_counts.get(topic)})"
            for topic in differing[:5]
        )
        more = f" and {len(differing) - 5} more" if len(differing) > 5 else ""
        problems.append(f"topics.story_count differs for topic ids {shown}{more}")
    return problems
