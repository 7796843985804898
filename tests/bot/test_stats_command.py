"""`heatwave stats` on both engines: what it counts, it lists (path and reason), in text and in JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.cli import main
from db import StoreLocation
from tests.support.story_files import DROP, write_story


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Settings also read .env / heatwave.toml from the working directory: keep the developer's out of it.
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("HEATWAVE_"):
            monkeypatch.delenv(name)


def _database(location: StoreLocation) -> str:
    database = location.url if location.engine == "postgres" else str(location.path)
    assert database is not None
    return database


def test_stats_lists_every_rejection_it_counts(
    tmp_path: Path, location: StoreLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    news = tmp_path / "news"
    write_story(news / "good.md")
    write_story(news / "no-title.md", title=DROP, webUrl="https://news.example.com/no-title")
    os.symlink("loop.md", news / "loop.md")
    with open(os.path.join(os.fsencode(news), b"caf\xe9.md"), "wb") as handle:
        handle.write(b"---\ntitle: x\n---\n")
    assert main(["ingest", str(news), "--db", _database(location)]) == 1
    listed_by_ingest = capsys.readouterr().out.split("Rejected:\n", 1)[1].splitlines()

    assert main(["stats", "--db", _database(location), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert main(["stats", "--db", _database(location)]) == 0
    text = capsys.readouterr().out

    expected = [
        (str(news / "caf\ufffd.md"), "the file name is not valid UTF-8; rename the file"),
        (str(news / "loop.md"), "cannot read the file: Too many levels of symbolic links"),
        (str(news / "no-title.md"), "missing title"),
    ]
    assert payload["last_ingest"]["rejected"] == len(expected)
    assert [(item["path"], item["reason"]) for item in payload["rejected"]] == expected
    assert f"{len(expected)} rejected\nRejected files ({len(expected)}):\n" in text
    assert text.endswith("".join(f"  {path}: {reason}\n" for path, reason in expected))
    # The same rejections `heatwave ingest` printed, with the same reasons.
    assert listed_by_ingest == [f"  {path}: {reason}" for path, reason in expected]
