"""Where stories come from: the `[[sources]]` of `heatwave.toml`, folders and git repositories, validated once.

A source is plain configuration here (frozen dataclasses); `bot.ingest.git_source` syncs git sources and
`bot.scheduling` runs them. Every problem is a `SettingsError` naming the source, so a bad entry stops the start
with one line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, TypeAlias


class SettingsError(ValueError):
    """A `[[sources]]` entry the program cannot use (bot.settings re-raises it as its own SettingsError)."""


# app_state key of a git source's status (JSON, see SourceStatus): written by its sync job, read by `heatwave stats`.
SOURCE_STATUS_KEY = "source_status.{key}"

DEFAULT_HISTORY_DAYS = 90
MAX_HISTORY_DAYS = 3650
DEFAULT_FETCH_SECONDS = 5 * 60
MAX_FETCH_SECONDS = 7 * 24 * 60 * 60

_DURATION = re.compile(r"(\d{1,9})\s*(s|m|h|d)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# An scp-like ssh address: user@host:path (git's own rule: a colon before any slash, and no "://").
_SCP_LIKE = re.compile(r"[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:[^\s]+")
# https://user:token@host/...: the credentials part, never shown.
_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_BRANCH_BAD = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]|\.\.|@\{|//|/\.|\.lock$|^/|/$|\.$")


@dataclass(frozen=True, slots=True)
class FolderSource:
    """A folder of story files, scanned and watched."""

    path: Path

    @property
    def name(self) -> str:
        return str(self.path)


@dataclass(frozen=True, slots=True, repr=False)
class GitSource:
    """A git repository whose `subdir` holds story files, fetched every `every_seconds`."""

    url: str
    branch: str | None = None  # None: the remote's default branch
    subdir: str = ""  # "" : the whole repository
    every_seconds: int = DEFAULT_FETCH_SECONDS
    history_days: int = DEFAULT_HISTORY_DAYS

    @property
    def name(self) -> str:
        """How the source is shown (stats, logs): the URL (any password or token in it masked), then the branch
        and folder when given."""
        shown = _CREDENTIALS.sub(r"\1***@", self.url)
        if self.branch:
            shown += f"@{self.branch}"
        if self.subdir:
            shown += f":{self.subdir}"
        return shown

    def __repr__(self) -> str:
        # Never the URL as given: it may hold a token (the settings object is printed in debug logs).
        return f"GitSource({self.name!r}, every_seconds={self.every_seconds}, history_days={self.history_days})"

    @property
    def key(self) -> str:
        """A stable folder name for the clone and key for its status: readable tail plus a digest of the name."""
        tail = re.sub(r"[^A-Za-z0-9._-]+", "-", self.url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))
        digest = hashlib.sha256(f"{self.url}@{self.branch or ''}:{self.subdir}".encode()).hexdigest()[:12]
        return f"{tail.strip('.-')[:40] or 'repo'}-{digest}"


Source: TypeAlias = FolderSource | GitSource


def parse_duration(text: str) -> int:
    """'30s', '5m', '1h', '1d' or '1h30m' -> seconds (at least 1); ValueError otherwise."""
    cleaned = text.strip().lower()
    position = 0
    total = 0
    for match in _DURATION.finditer(cleaned):
        if match.start() != position:
            break
        total += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
        while position < len(cleaned) and cleaned[position] == " ":
            position += 1
    if not cleaned or position != len(cleaned):
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 1h")
    if total < 1:
        raise ValueError(f"{text!r} is shorter than 1 s")
    return total


def validate_git_url(text: str) -> str:
    """The URL as git will get it: https://, ssh://, file://, user@host:path or a local path.

    Nothing git could read as an option (a leading `-`) and no transport that runs commands (`ext::`, `fd::`,
    any other `<transport>::` helper); no whitespace or control characters. Raises ValueError.
    """
    url = text.strip()
    if not url:
        raise ValueError("is empty")
    if url.startswith("-"):
        raise ValueError(f"{url!r} starts with '-' (git would read it as an option)")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise ValueError(f"{url!r} contains whitespace or control characters")
    if "::" in url.split("/", 1)[0]:
        raise ValueError(f"{url!r} uses a git remote helper ('::'); use https, ssh, file or a local path")
    scheme, sep, rest = url.partition("://")
    if sep:
        if scheme.lower() not in ("https", "ssh", "file") or not rest:
            raise ValueError(f"{url!r} must be an https, ssh or file URL, or a local path")
        return url
    if _SCP_LIKE.fullmatch(url):
        return url
    if ":" in url.split("/", 1)[0]:
        raise ValueError(f"{url!r} is not an https, ssh or file URL, nor a local path")
    return url


def _subdir(text: str) -> str:
    path = PurePosixPath(text.strip().strip("/"))
    parts = [part for part in path.parts if part not in ("", ".")]
    if any(part == ".." or part.startswith("-") for part in parts):
        raise ValueError(f"{text!r} must be a folder inside the repository")
    return "/".join(parts)


def _branch(text: str) -> str:
    name = text.strip()
    if not name or name.startswith("-") or _BRANCH_BAD.search(name):
        raise ValueError(f"{text!r} is not a branch name")
    return name


_GIT_KEYS = {"git", "branch", "subdir", "every", "history_days"}
_FOLDER_KEYS = {"path"}


def parse_sources(raw: object, where: str) -> tuple[Source, ...]:
    """The `sources` array of tables of a settings file; SettingsError names the file and the entry."""
    if not isinstance(raw, list):
        raise SettingsError(f"{where}: sources must be an array of tables ([[sources]])")
    return tuple(_parse_source(entry, f"{where}: sources[{index}]") for index, entry in enumerate(raw))


def _parse_source(entry: object, where: str) -> Source:
    if not isinstance(entry, Mapping):
        raise SettingsError(f"{where} must be a table with `path` or `git`")
    keys = set(entry)
    if "git" in keys and "path" not in keys:
        _no_unknown(keys, _GIT_KEYS, where)
        return _git_source(entry, where)
    if "path" in keys and "git" not in keys:
        _no_unknown(keys, _FOLDER_KEYS, where)
        path = _string(entry, "path", where)
        if not path.strip():
            raise SettingsError(f"{where}: path must not be empty")
        return FolderSource(Path(path.strip()).expanduser())
    raise SettingsError(f"{where} must have exactly one of `path` (a folder) or `git` (a repository URL)")


def _no_unknown(keys: set[Any], known: set[str], where: str) -> None:
    unknown = sorted(str(key) for key in keys - known)
    if unknown:
        raise SettingsError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")


def _string(entry: Mapping[Any, Any], key: str, where: str) -> str:
    value = entry[key]
    if not isinstance(value, str):
        raise SettingsError(f"{where}: {key} must be a string, got {value!r}")
    return value


def _git_source(entry: Mapping[Any, Any], where: str) -> GitSource:
    try:
        url = validate_git_url(_string(entry, "git", where))
    except ValueError as exc:
        raise SettingsError(f"{where}: git {exc}") from None
    branch = None
    subdir = ""
    every = DEFAULT_FETCH_SECONDS
    history_days = DEFAULT_HISTORY_DAYS
    key = ""
    try:
        key = "branch"
        if "branch" in entry:
            branch = _branch(_string(entry, "branch", where))
        key = "subdir"
        if "subdir" in entry:
            subdir = _subdir(_string(entry, "subdir", where))
        key = "every"
        if "every" in entry:
            every = parse_duration(_string(entry, "every", where))
            if every > MAX_FETCH_SECONDS:
                raise ValueError(f"{entry['every']!r} is longer than 7 days")
    except ValueError as exc:
        if isinstance(exc, SettingsError):
            raise
        raise SettingsError(f"{where}: {key} {exc}") from None
    if "history_days" in entry:
        value = entry["history_days"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_HISTORY_DAYS:
            raise SettingsError(f"{where}: history_days must be a whole number from 0 to {MAX_HISTORY_DAYS}")
        history_days = value
    return GitSource(url=url, branch=branch, subdir=subdir, every_seconds=every, history_days=history_days)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What `heatwave stats` shows of a git source: its last good sync and its last error (if it failed since)."""

    name: str
    last_sync_at: datetime | None = None
    commit: str | None = None
    stories: int | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "last_sync_at": None if self.last_sync_at is None else _iso(self.last_sync_at),
                "commit": self.commit,
                "stories": self.stories,
                "last_error": self.last_error,
                "last_error_at": None if self.last_error_at is None else _iso(self.last_error_at),
                "failures": self.failures,
            }
        )

    @classmethod
    def from_json(cls, text: str | None, name: str) -> SourceStatus:
        """The stored status (a fresh one when there is none or it cannot be read)."""
        try:
            data = json.loads(text) if text else {}
            return cls(
                name=name,
                last_sync_at=_when(data.get("last_sync_at")),
                commit=data.get("commit"),
                stories=data.get("stories"),
                last_error=data.get("last_error"),
                last_error_at=_when(data.get("last_error_at")),
                failures=int(data.get("failures") or 0),
            )
        except (ValueError, TypeError, AttributeError):
            return cls(name=name)


def _when(text: object) -> datetime | None:
    return None if not isinstance(text, str) else datetime.fromisoformat(text)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def folder_sources(sources: Sequence[Source]) -> list[Path]:
    return [source.path for source in sources if isinstance(source, FolderSource)]


def git_sources(sources: Sequence[Source]) -> list[GitSource]:
    return [source for source in sources if isinstance(source, GitSource)]
