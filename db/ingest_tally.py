"""What each scanned file of one ingest run does to the store, and the run's totals; engines only store.

One run remembers which file holds each URL it wrote and each file's outcome: when a later file of the same run
wins a URL, the earlier holder becomes the duplicate instead, so the totals describe the files, not the order
they were read in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeAlias, TypeVar

from db.ingest_rows import Outcome, RunCounts, ScannedFile, StoryRow


class StoredStory(Protocol):
    """The columns of a stored story the outcome depends on (an engine keeps more for its own writes)."""

    @property
    def id(self) -> int: ...

    @property
    def source_path(self) -> str: ...

    @property
    def published_at(self) -> str: ...


S = TypeVar("S", bound=StoredStory)

# What a batch touched in the tally, to put back when its transaction is rolled back:
# (path -> outcome before, or None), (URL -> holder before, or None).
_Mark: TypeAlias = tuple[dict[str, Outcome | None], dict[str, str | None]]
REFUSED = "the database refused this story: "


class IngestTally(ABC, Generic[S]):
    """The engine-neutral part of an ingest run; a subclass supplies the storage steps."""

    def __init__(self) -> None:
        self._holder: dict[str, str] = {}  # URL -> the path holding it, for URLs written in this run
        self._outcome: dict[str, Outcome] = {}  # path -> outcome, for files read in this run
        self._extra: dict[Outcome, int] = {"unchanged": 0, "rejected": 0}
        self._refused: list[tuple[str, str]] = []  # (path, reason) of files whose rows the database refused

    @abstractmethod
    def _insert_story(self, story: StoryRow, path: str, stamp: str) -> S:
        """Store a story whose URL is not stored yet; returns what later files of the run compare against."""

    @abstractmethod
    def _update_story(self, current: S, story: StoryRow, path: str, stamp: str) -> Outcome:
        """Make `path`'s version the stored one ("updated", or "unchanged" when only the path moves)."""

    @abstractmethod
    def _record_file(self, scanned: ScannedFile, story_id: int | None, published_at: str | None, stamp: str) -> None:
        """Remember the file (size, mtime, its story) for the next incremental rescan."""

    def count_skipped(self, *, unchanged: int, rejected: int) -> None:
        """Files skipped after a stat still count in the run's totals."""
        self._extra["unchanged"] += unchanged
        self._extra["rejected"] += rejected

    def refused(self) -> list[tuple[str, str]]:
        """(path, reason) of the files of this run that the database refused to store, in the order met."""
        return list(self._refused)

    def counts(self) -> RunCounts:
        tally: dict[Outcome, int] = {"added": 0, "updated": 0, "unchanged": 0, "duplicate": 0, "rejected": 0}
        for outcome in self._outcome.values():
            tally[outcome] += 1
        return RunCounts(
            added=tally["added"],
            updated=tally["updated"],
            unchanged=tally["unchanged"] + self._extra["unchanged"],
            duplicates=tally["duplicate"],
            rejected=tally["rejected"] + self._extra["rejected"],
        )

    def _apply(self, scanned: ScannedFile, stored: dict[str, S], stamp: str) -> None:
        """One file of a batch; `stored` holds the batch's URLs already stored and gains the ones inserted."""
        path = scanned.path
        story = scanned.story
        if story is None:
            self._outcome[path] = "rejected"
            self._record_file(scanned, None, None, stamp)
            return
        url = story.url
        current = stored.get(url)
        if current is None:
            current = stored[url] = self._insert_story(story, path, stamp)
            self._outcome[path] = "added"
            self._holder[url] = path
        elif current.source_path == path:
            # The story's own file changed: always applies, whatever its date now says.
            self._outcome[path] = self._update_story(current, story, path, stamp)
            self._holder[url] = path
        else:
            self._outcome[path] = self._resolve_duplicate(current, story, path, stamp)
        self._record_file(scanned, current.id, story.published_at, stamp)

    def _resolve_duplicate(self, current: S, story: StoryRow, path: str, stamp: str) -> Outcome:
        """Two files, one URL: the newer publishedDateTime wins, then the later path; the loser is the duplicate."""
        loser = current.source_path
        if (story.published_at, path) <= (current.published_at, loser):
            return "duplicate"
        earlier = self._outcome.get(loser) if self._holder.get(story.url) == loser else None
        changed = self._update_story(current, story, path, stamp)
        self._holder[story.url] = path
        if earlier is None:
            # The losing file was not read in this run: this file is the one that revealed the duplicate.
            return "duplicate"
        self._outcome[loser] = "duplicate"
        if earlier == "added":
            return "added"
        return "updated" if "updated" in (earlier, changed) else "unchanged"

    def _write_isolating(
        self,
        files: Sequence[ScannedFile],
        write: Callable[[Sequence[ScannedFile]], None],
        refusal: Callable[[Exception], str | None],
    ) -> None:
        """`write` the batch in one transaction; when the database refuses a row, store all the others.

        `write` must leave nothing behind when it raises (its transaction rolled back); `refusal` names the
        reason when the error is about the data of a row (None for anything else, which stays fatal: a lost
        connection or a full disk would fail every file alike). The batch is halved until the refused file is
        alone, so one bad file among a thousand costs ~20 short transactions, not a thousand.
        """
        mark = self._mark(files)
        try:
            write(files)
            return
        except Exception as exc:
            reason = refusal(exc)
            if reason is None:
                raise
            self._rewind(mark)
        if len(files) > 1:
            middle = len(files) // 2
            self._write_isolating(files[:middle], write, refusal)
            self._write_isolating(files[middle:], write, refusal)
            return
        scanned = files[0]
        reason = REFUSED + reason
        self._refused.append((scanned.path, reason))
        rejected = scanned._replace(story=None, rejected_reason=reason)
        try:
            write([rejected])
        except Exception as exc:
            if refusal(exc) is None:
                raise
            # Not even its record could be kept (a path the database cannot hold): it is read again next run.
            self._rewind(mark)
            self._outcome[scanned.path] = "rejected"

    def _mark(self, files: Sequence[ScannedFile]) -> _Mark:
        # Only what this batch can change: its files, its URLs, and the earlier holders of those URLs.
        urls = {story.url for scanned in files if (story := scanned.story) is not None}
        holders = {url: self._holder.get(url) for url in urls}
        paths = {scanned.path for scanned in files}
        paths.update(holder for holder in holders.values() if holder is not None)
        return {path: self._outcome.get(path) for path in paths}, holders

    def _rewind(self, mark: _Mark) -> None:
        outcomes, holders = mark
        for path, outcome in outcomes.items():
            if outcome is None:
                self._outcome.pop(path, None)
            else:
                self._outcome[path] = outcome
        for url, holder in holders.items():
            if holder is None:
                self._holder.pop(url, None)
            else:
                self._holder[url] = holder
