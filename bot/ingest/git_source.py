"""Keep a local, sparse copy of a publisher's git repository and ingest its story folder, heat history included.

The `git` program does the work (every machine has it): a partial clone (`--filter=blob:none`) with a sparse
checkout of `subdir` only, so a repository of gigabytes costs what its news folder costs. Later syncs fetch the
one branch and move the checkout to it: a fast-forward normally, a reset when the branch was rewritten.

Each commit's version of a story file is a heat observation at that commit's time: the first sync replays the
commits of the last `history_days` days, later syncs the commits the fetch brought, through the same ingest
store and rules as any file, before the checkout itself is ingested like a folder.

git is always run with its arguments as a list (never a shell string), with a validated URL after `--`, no
terminal prompts and the command-running transports (`ext::`, `fd::`) disabled.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import Clock
from bot.ingest.pipeline import IngestReport
from bot.sources import GitSource, validate_git_url
from db import StoreLocation, open_ingest_store
from db.ingest_rows import ScannedFile

log = logging.getLogger(__name__)

# A clone of a big repository's news folder can take minutes; a fetch or a local step should not.
CLONE_TIMEOUT_SECONDS = 30 * 60
STEP_TIMEOUT_SECONDS = 10 * 60
_POLL_SECONDS = 0.2
_FORCE_REREAD = -1
_MD_SUFFIX = ".md"

_GIT_CONFIG = (
    # Transports that run a command of the URL's choosing, never allowed whatever the user's git config says.
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "protocol.fd.allow=never",
    # Our own checkout: nobody else's hooks or fsmonitor.
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "advice.detachedHead=false",
)

Ingest = Callable[..., IngestReport]


class GitSourceError(Exception):
    """A sync that failed (unreachable, refused, no such branch, broken clone): one line for stats and logs."""


class SyncStopped(Exception):
    """The sync was asked to stop (shutdown) and its git process was ended."""


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What one sync did."""

    commit: str
    previous: str | None  # the commit the store was synced to before (None: its first sync of this source)
    rewritten: bool  # the branch was rewritten (force-push): the checkout was reset to it
    history_versions: int  # file versions of earlier commits recorded as heat history
    history_changed: bool  # those versions added or changed stories
    stories: int  # story files in the checkout that were stored (not rejected)
    report: IngestReport  # the ingest of the checkout itself

    @property
    def changed(self) -> bool:
        return self.history_changed or bool(self.report.added or self.report.updated)


def checkout_folder(data_dir: Path, source: GitSource) -> Path:
    """Where a git source's clone lives under the data folder."""
    return data_dir / "sources" / source.key


def stories_folder(checkout: Path, source: GitSource) -> Path:
    return checkout / source.subdir if source.subdir else checkout


def sync_git_source(
    source: GitSource,
    checkout: Path,
    location: StoreLocation,
    *,
    last_commit: str | None,
    clock: Clock,
    max_file_bytes: int,
    ingest: Ingest,
    stopping: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncOutcome:
    """Clone or fetch `source` into `checkout`, record the new commits' heat history, ingest the story folder.

    `last_commit` is the commit this store was last synced to (None: never): the history recorded is the commits
    after it, so two stores sharing one clone each get every commit. Raises GitSourceError when git fails (the
    stories already stored stay as they are).
    """
    try:
        validate_git_url(source.url)
    except ValueError as exc:
        raise GitSourceError(f"refusing the URL: {exc}") from None
    git = _Git(checkout, stopping)
    head = git.head() if checkout.is_dir() else None
    if head is None:
        if checkout.exists():
            # Not a usable clone (interrupted first clone, corrupted .git): start again from nothing.
            log.warning("git source %s: %s is not a usable clone; cloning again", source.name, checkout)
            shutil.rmtree(checkout)
        _clone(git, source, checkout)
        new = git.head()
        if new is None:
            raise GitSourceError("the clone has no commit on its branch")
    else:
        branch = source.branch or git.current_branch()
        refspec = f"+refs/heads/{branch}:refs/remotes/origin/{branch}"
        git.run("fetch", "--quiet", "--no-tags", "--prune", "origin", refspec)
        new = git.rev_parse(f"refs/remotes/origin/{branch}")
        if new != head:
            # Our own checkout, never edited: a fast-forward, or the rewritten branch (force-push) as it now is.
            git.run("reset", "--quiet", "--hard", new)
    rewritten = False
    if last_commit is None:
        since = clock.now() - timedelta(days=source.history_days)
        commits = git.log(new, source.subdir, since=since)
    elif last_commit == new:
        commits = []
    elif git.is_ancestor(last_commit, new):
        commits = git.log(f"{last_commit}..{new}", source.subdir, since=None)
    else:
        # The branch was rewritten (or the commit is unknown here): its present state is ingested as it is.
        log.warning("git source %s: the branch no longer holds %s; following it", source.name, last_commit[:12])
        rewritten = True
        commits = []
    history_versions, history_changed = _record_history(
        git, commits, checkout, location, clock=clock, max_file_bytes=max_file_bytes
    )
    folder = stories_folder(checkout, source)
    if not folder.is_dir():
        raise GitSourceError(f"the repository has no folder {source.subdir!r} on this branch")
    report = ingest(
        [folder], location, clock=clock, max_file_bytes=max_file_bytes, **({"progress": progress} if progress else {})
    )
    return SyncOutcome(
        commit=new,
        previous=last_commit,
        rewritten=rewritten,
        history_versions=history_versions,
        history_changed=history_changed,
        stories=report.scanned - len(report.rejected),
        report=report,
    )


REMOTE_CHECK_TIMEOUT_SECONDS = 20


def check_remote(source: GitSource, *, timeout: float = REMOTE_CHECK_TIMEOUT_SECONDS) -> str:
    """Ask the remote for the source's branch without fetching anything (`git ls-remote`); returns the commit
    the branch (or the remote's default branch) points at, or raises GitSourceError saying why not."""
    validate_git_url(source.url)
    git = _Git(Path.cwd(), None)
    ref = f"refs/heads/{source.branch}" if source.branch else "HEAD"
    out = git.run("ls-remote", "--", source.url, ref, timeout=timeout).decode()
    for line in out.splitlines():
        commit, _, name = line.partition("\t")
        if name.strip() == ref:
            return commit.strip()
    missing = f"the repository has no branch {source.branch}" if source.branch else "the repository is empty"
    raise GitSourceError(missing)


def _clone(git: _Git, source: GitSource, checkout: Path) -> None:
    checkout.parent.mkdir(parents=True, exist_ok=True)
    args = ["clone", "--quiet", "--filter=blob:none", "--no-checkout", "--single-branch", "--no-tags"]
    if source.branch:
        args += ["--branch", source.branch]
    git.run(*args, "--", source.url, str(checkout), cwd=checkout.parent, timeout=CLONE_TIMEOUT_SECONDS)
    if source.subdir:
        git.run("sparse-checkout", "set", "--cone", "--", source.subdir)
    # The branch clone chose (the remote's default without --branch): check it out, sparse.
    git.run("checkout", "--quiet", git.current_branch(), timeout=CLONE_TIMEOUT_SECONDS)


@dataclass(frozen=True, slots=True)
class _Change:
    commit_time: datetime
    path: str  # relative to the repository
    blob: str


def _record_history(
    git: _Git,
    changes: Sequence[_Change],
    checkout: Path,
    location: StoreLocation,
    *,
    clock: Clock,
    max_file_bytes: int,
) -> tuple[int, bool]:
    """Store each changed story file's version at its commit's time, oldest first; returns (versions, changed)."""
    if not changes:
        return 0, False
    from bot.ingest.parse import StoryRejected, parse_story
    from db.ingest_rows import story_row

    blobs = git.read_blobs([change.blob for change in changes], max_file_bytes)
    now = clock.now()
    batches: list[tuple[datetime, list[ScannedFile]]] = []
    for change in changes:
        data = blobs.get(change.blob)
        if data is None:
            continue  # over the size limit, or gone from the remote: its present version is ingested as usual
        try:
            row = story_row(parse_story(data))
        except (StoryRejected, RecursionError, ValueError, TypeError):
            continue  # a bad version in the past is no observation; a bad present file is reported by the ingest
        when = min(change.commit_time, now)
        # The file's path in the checkout, like a folder ingest's; -1: the ingest of the checkout reads it again.
        scanned = ScannedFile(str((checkout / change.path).absolute()), len(data), _FORCE_REREAD, row)
        if batches and batches[-1][0] == when:
            batches[-1][1].append(scanned)
        else:
            batches.append((when, [scanned]))
    if not batches:
        return 0, False
    versions = 0
    with open_ingest_store(location) as store:
        run = store.begin_run(now)
        for when, files in batches:
            run.write_batch(files, now=when)
            versions += len(files)
        counts = run.counts()
    return versions, bool(counts.added or counts.updated)


class _Git:
    """git in one checkout; every call is an argument list, its failure a GitSourceError with git's own words."""

    def __init__(self, checkout: Path, stopping: threading.Event | None) -> None:
        self._checkout = checkout
        self._stopping = stopping

    def run(
        self, *args: str, cwd: Path | None = None, timeout: float = STEP_TIMEOUT_SECONDS, stdin: bytes = b""
    ) -> bytes:
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",  # a private repository fails at once instead of waiting for a password
            "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true",
            "GCM_INTERACTIVE": "never",
            "LC_ALL": "C",
        }
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        command = ["git", *_GIT_CONFIG, *args]
        try:
            process = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
                command,
                cwd=cwd or self._checkout,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except FileNotFoundError:
            raise GitSourceError("the `git` program is not installed") from None
        out, err = self._wait(process, stdin, timeout, args[0])
        if process.returncode != 0:
            raise GitSourceError(f"git {args[0]} failed: {_last_line(err)}")
        return out

    def _wait(self, process: subprocess.Popen[bytes], stdin: bytes, timeout: float, what: str) -> tuple[bytes, bytes]:
        # communicate() in short steps, so that a shutdown can end a long clone instead of waiting for it.
        waited = 0.0
        pending: bytes | None = stdin
        while True:
            try:
                return process.communicate(pending, timeout=_POLL_SECONDS)
            except subprocess.TimeoutExpired:
                pending = None
                waited += _POLL_SECONDS
                stop = self._stopping is not None and self._stopping.is_set()
                if stop or waited >= timeout:
                    process.kill()
                    process.communicate()
                    if stop:
                        raise SyncStopped from None
                    raise GitSourceError(f"git {what} took longer than {timeout:.0f} s") from None

    def head(self) -> str | None:
        """The checked-out commit, or None when this is not a usable clone."""
        try:
            return self.rev_parse("HEAD")
        except GitSourceError:
            return None

    def rev_parse(self, ref: str) -> str:
        return self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()

    def current_branch(self) -> str:
        return self.run("symbolic-ref", "--quiet", "--short", "HEAD").decode().strip()

    def is_ancestor(self, older: str, newer: str) -> bool:
        try:
            self.run("merge-base", "--is-ancestor", older, newer)
        except GitSourceError:
            return False
        return True

    def log(self, revisions: str, subdir: str, *, since: datetime | None) -> list[_Change]:
        """Story files added or modified by the commits of `revisions` under `subdir`, oldest first."""
        args = ["log", "--reverse", "--no-renames", "--raw", "--no-abbrev", "-z", "--format=%x01%H %ct"]
        if since is not None:
            args.append(f"--since={int(since.timestamp())}")
        args += [revisions, "--", subdir or "."]
        changes: list[_Change] = []
        commit_time: datetime | None = None
        tokens = self.run(*args).decode("utf-8", "surrogateescape").split("\0")
        index = 0
        while index < len(tokens):
            token = tokens[index].lstrip("\n")
            index += 1
            if token.startswith("\x01"):
                commit_time = datetime.fromtimestamp(int(token.split()[1]), UTC)
            elif token.startswith(":") and index < len(tokens):
                path = tokens[index]
                index += 1
                meta = token.split()
                # :old_mode new_mode old_blob new_blob status; a deleted file has no new version.
                wanted = commit_time is not None and meta[-1] in ("A", "M") and path.lower().endswith(_MD_SUFFIX)
                # Hidden files and folders never hold stories (as in a folder scan).
                if wanted and commit_time and not any(part.startswith(".") for part in path.split("/")):
                    changes.append(_Change(commit_time, path, meta[3]))
        return changes

    def read_blobs(self, blobs: Sequence[str], max_bytes: int) -> dict[str, bytes]:
        """The contents of these blobs (at most `max_bytes` each; larger ones are left out)."""
        wanted = list(dict.fromkeys(blobs))
        self._prefetch(wanted)
        out = self.run("cat-file", "--batch", stdin="".join(f"{blob}\n" for blob in wanted).encode())
        contents: dict[str, bytes] = {}
        position = 0
        while position < len(out):
            header_end = out.index(b"\n", position)
            header = out[position:header_end].split()
            position = header_end + 1
            if len(header) < 3 or header[1] != b"blob":
                continue  # "<oid> missing"
            size = int(header[2])
            if size <= max_bytes:
                contents[header[0].decode()] = out[position : position + size]
            position += size + 1
        return contents

    def _prefetch(self, blobs: Sequence[str]) -> None:
        # One fetch for every blob of the history, as git's own lazy fetch asks for one (the same arguments),
        # instead of one round trip per blob when cat-file meets them missing.
        try:
            self.run(
                "-c",
                "fetch.negotiationAlgorithm=noop",
                "fetch",
                "--quiet",
                "origin",
                "--no-tags",
                "--no-write-fetch-head",
                "--recurse-submodules=no",
                "--filter=blob:none",
                "--stdin",
                stdin="".join(f"{blob}\n" for blob in blobs).encode(),
                timeout=CLONE_TIMEOUT_SECONDS,
            )
        except GitSourceError as exc:
            log.debug("prefetch of %d blobs failed (%s); reading them one by one", len(blobs), exc)


# user:password@ in a URL that git echoes back: never into a log or `heatwave stats`.
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


def _last_line(err: bytes) -> str:
    return _CREDENTIALS.sub(r"\1***@", _reason(err))


def _reason(err: bytes) -> str:
    lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    # "fatal: ..." is the reason; the lines before it are progress and hints.
    for line in reversed(lines):
        if line.startswith(("fatal:", "error:")):
            return line.split(":", 1)[1].strip()
    return lines[-1] if lines else "no reason given"
