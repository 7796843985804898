"""Real git repositories made in a test's temp folder: the publisher's side of a git source."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

from tests.support.story_files import story_text


class Origin:
    """A repository the test commits to (at chosen times), rewrites and deletes; fetched over file://."""

    def __init__(self, path: Path, *, branch: str = "main") -> None:
        self.path = path
        self.branch = branch
        path.mkdir(parents=True)
        self.git("init", "--quiet", f"--initial-branch={branch}")
        # What a hosting service allows: partial clones, and fetching the blobs they left out by id.
        self.git("config", "uploadpack.allowFilter", "true")
        self.git("config", "uploadpack.allowAnySHA1InWant", "true")

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def git(self, *args: str, when: datetime | None = None) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Publisher",
            "GIT_AUTHOR_EMAIL": "news@example.com",
            "GIT_COMMITTER_NAME": "Publisher",
            "GIT_COMMITTER_EMAIL": "news@example.com",
        }
        if when is not None:
            stamp = f"@{int(when.timestamp())} +0000"
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = stamp
        result = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def write_story(self, relative: str, **fields: object) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(story_text(**fields), encoding="utf-8")

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def remove(self, relative: str) -> None:
        (self.path / relative).unlink()

    def commit(self, message: str, *, when: datetime) -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message, when=when)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def rewrite_last(self, message: str, *, when: datetime) -> str:
        """Replace the last commit with another (what a force-push does to the branch)."""
        self.git("reset", "--quiet", "--hard", "HEAD~1")
        return self.commit(message, when=when)

    def delete_branch(self) -> None:
        self.git("checkout", "--quiet", "-b", "elsewhere")
        self.git("branch", "-D", self.branch)

    def vanish(self) -> None:
        shutil.rmtree(self.path)
