"""`heatwave ingest` and `heatwave stats` as a user runs them: exit codes, output, JSON shape, start-up cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from db import StoreLocation
from tests.conftest import PROJECT_ROOT, SEEDS_DIR
from tests.support.permissions import enforce_permissions_in_child, locked
from tests.support.story_files import DROP, write_raw, write_story

INGEST_KEYS = ["scanned", "added", "updated", "unchanged", "duplicates", "rejected", "seconds"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Settings also read .env / heatwave.toml from the working directory: keep the developer's out of it.
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("HEATWAVE_"):
            monkeypatch.delenv(name)


def run_cli(*args: str, preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEATWAVE_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        preexec_fn=preexec_fn,
    )


def test_ingest_command_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_story(tmp_path / "news" / "a.md")
    write_story(tmp_path / "news" / "bad.md", title=DROP)

    status = main(["ingest", str(tmp_path / "news"), "--db", str(tmp_path / "h.db"), "--json"])

    out = capsys.readouterr().out
    assert status == 1
    assert out.count("\n") == 1
    payload = json.loads(out)
    assert list(payload) == INGEST_KEYS
    assert payload["rejected"] == [{"path": str(tmp_path / "news" / "bad.md"), "reason": "missing title"}]
    assert (payload["scanned"], payload["added"], payload["unchanged"]) == (2, 1, 0)
    assert isinstance(payload["seconds"], float)


def test_ingest_command_exit_zero_without_rejections(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_story(tmp_path / "news" / "a.md")

    assert main(["ingest", "news", "--db", "h.db"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("Read 1 file into h.db in ")
    assert "1 new, 0 updated, 0 unchanged, 0 duplicates, 0 rejected." in out


def test_ingest_command_lists_rejected_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_story(tmp_path / "news" / "a.md")
    write_raw(tmp_path / "news" / "notes.md", b"just some notes\n")

    assert main(["ingest", "news", "--db", "h.db"]) == 1

    out = capsys.readouterr().out
    assert "1 rejected." in out
    assert "Rejected:\n  news/notes.md: no front matter: the file must start with a `---` line" in out


def test_ingest_command_with_every_file_rejected_does_not_say_ingested(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_raw(tmp_path / "news" / "notes.md", b"just some notes\n")
    write_story(tmp_path / "news" / "bad.md", title=DROP)

    assert main(["ingest", "news", "--db", "h.db"]) == 1

    first = capsys.readouterr().out.splitlines()[0]
    assert "Ingested" not in first
    assert first.startswith("Read 2 files into h.db in ")
    assert first.endswith(": 0 new, 0 updated, 0 unchanged, 0 duplicates, 2 rejected.")


def test_ingest_command_counts_one_duplicate_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_story(tmp_path / "news" / "a.md")
    write_story(tmp_path / "news" / "b.md")

    assert main(["ingest", "news", "--db", "h.db"]) == 0

    assert ": 1 new, 0 updated, 0 unchanged, 1 duplicate, 0 rejected." in capsys.readouterr().out


def test_ingest_command_reports_an_unreadable_folder_like_any_rejected_file(
    tmp_path: Path, location: StoreLocation
) -> None:
    write_story(tmp_path / "news" / "a.md")
    write_story(tmp_path / "news" / "private" / "b.md", webUrl="https://news.example.com/b")
    database = location.url if location.engine == "postgres" else str(location.path)
    assert database is not None
    reason = "cannot list the folder: Permission denied"

    # As a user who may not read news/private (see tests/bot/ingest/permissions.py for why not just chmod).
    with locked(tmp_path / "news" / "private"):
        text = run_cli("ingest", "news", "--db", database, preexec_fn=enforce_permissions_in_child)
        as_json = run_cli("ingest", "news", "--db", database, "--json", preexec_fn=enforce_permissions_in_child)
    stats = run_cli("stats", "--db", database, "--json")

    assert (text.returncode, text.stderr) == (1, "")
    assert "1 new, 0 updated, 0 unchanged, 0 duplicates, 1 rejected." in text.stdout
    assert text.stdout.endswith(f"Rejected:\n  news/private: {reason}\n")
    assert (as_json.returncode, as_json.stderr) == (1, "")
    assert json.loads(as_json.stdout)["rejected"] == [{"path": "news/private", "reason": reason}]
    assert json.loads(stats.stdout)["rejected"] == [{"path": str(tmp_path / "news" / "private"), "reason": reason}]


def test_ingest_command_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["ingest", "missing-folder", "--db", "h.db", "--json"])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert captured.err == "heatwave: no such file or folder: missing-folder\n"


def test_ingest_command_unwritable_database_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_story(tmp_path / "a.md")
    (tmp_path / "blocker").write_text("a file where a folder should be")

    status = main(["ingest", "a.md", "--db", "blocker/h.db"])

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("heatwave: cannot create the folder for database blocker/h.db")
    assert err.count("\n") == 1


def test_ingest_command_uses_heatwave_db_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_story(tmp_path / "a.md")
    monkeypatch.setenv("HEATWAVE_DB", str(tmp_path / "from-env.db"))

    assert main(["ingest", "a.md", "--json"]) == 0
    assert (tmp_path / "from-env.db").is_file()


def test_ingest_command_seeds_via_real_cli(tmp_path: Path) -> None:
    result = run_cli("ingest", str(SEEDS_DIR), "--db", str(tmp_path / "h.db"), "--json")

    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["rejected"] == []
    assert payload["scanned"] == len(list(SEEDS_DIR.glob("*.md"))) >= 1
    assert payload["added"] + payload["duplicates"] == payload["scanned"]
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_ingest_command_second_run_reports_all_unchanged(tmp_path: Path) -> None:
    for index in range(3):
        write_story(tmp_path / "news" / f"{index}.md", webUrl=f"https://news.example.com/{index}")
    run_cli("ingest", str(tmp_path / "news"), "--db", str(tmp_path / "h.db"))

    result = run_cli("ingest", str(tmp_path / "news"), "--db", str(tmp_path / "h.db"), "--json")

    payload = json.loads(result.stdout)
    assert (payload["scanned"], payload["added"], payload["updated"], payload["unchanged"]) == (3, 0, 0, 3)


def test_ingest_command_does_not_import_discord() -> None:
    code = (
        "import sys\n"
        "from bot.cli import main\n"
        "main(['ingest', '--help']) if False else None\n"
        "import bot.ingest.command, bot.stats_command\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('discord', 'aiohttp', 'apscheduler')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_ingest_command_does_not_import_aiosqlite() -> None:
    code = "import sys\nimport bot.ingest.command, bot.stats_command\nprint('aiosqlite' in sys.modules)\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_stats_command_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_story(tmp_path / "news" / "hot.md", heat=150)
    write_story(tmp_path / "news" / "cool.md", webUrl="https://news.example.com/cool", heat=12)
    write_story(tmp_path / "news" / "hidden.md", webUrl="https://news.example.com/hidden", heat=-1)
    write_story(tmp_path / "news" / "old.md", webUrl="https://news.example.com/old", heat=DROP, topics=["Space"])
    write_story(tmp_path / "news" / "bad.md", webUrl="ftp://nope", originalUrl=DROP)
    main(["ingest", "news", "--db", "h.db"])
    capsys.readouterr()

    assert main(["stats", "--db", "h.db", "--json"]) == 0

    payload = json.loads(capsys.readouterr().out)
    assert payload["stories"] == 4
    assert payload["topics"] == 3
    assert payload["heat"] == {"min": 12, "max": 150}
    assert (payload["suppressed"], payload["unknown_heat"]) == (1, 1)
    assert payload["last_ingest"]["scanned"] == 5
    assert payload["last_ingest"]["rejected"] == 1
    assert payload["rejected"] == [
        {
            "path": str(tmp_path / "news" / "bad.md"),
            "reason": "no http(s) URL: webUrl text ('ftp://nope'), not an http(s) link",
        }
    ]


def test_stats_command_human_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_story(tmp_path / "a.md", heat=80)
    main(["ingest", "a.md", "--db", "h.db"])
    capsys.readouterr()

    assert main(["stats", "--db", "h.db"]) == 0

    out = capsys.readouterr().out
    assert "Stories:  1 (0 suppressed, 0 with unknown heat)" in out
    assert "Heat:     80 to 80" in out
    assert "Last ingest: " in out
    assert "1 scanned, 1 added" in out


def test_stats_command_without_database_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--db", "none.db"]) == 2
    assert capsys.readouterr().err == "heatwave: no database at none.db; run `heatwave ingest PATH` first\n"
    assert not (tmp_path / "none.db").exists()


def test_ingest_command_progress_bar_only_for_big_runs() -> None:
    from io import StringIO

    from bot.ingest.command import PROGRESS_MIN_FILES, _progress_bar

    small, big = StringIO(), StringIO()
    small_bar, big_bar = _progress_bar(small), _progress_bar(big)
    small_bar(0, 10)
    small_bar(10, 10)
    big_bar(0, PROGRESS_MIN_FILES)
    big_bar(PROGRESS_MIN_FILES, PROGRESS_MIN_FILES)
    big_bar(-1, -1)

    assert small.getvalue() == ""
    assert f"{PROGRESS_MIN_FILES}/{PROGRESS_MIN_FILES} files" in big.getvalue()
    assert big.getvalue().endswith("\r\x1b[2K")


def test_ingest_command_unchanged_rescan_does_not_load_the_parser(tmp_path: Path) -> None:
    # Start-up cost: a rescan with nothing to read must not import YAML, front matter or multiprocessing.
    write_story(tmp_path / "news" / "a.md")
    assert main(["ingest", str(tmp_path / "news"), "--db", str(tmp_path / "h.db")]) == 0
    code = (
        "import sys\n"
        "from bot.cli import main\n"
        f"code = main(['ingest', {str(tmp_path / 'news')!r}, '--db', {str(tmp_path / 'h.db')!r}])\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', 'frontmatter', 'multiprocessing')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60, check=True
    )
    assert result.stdout.splitlines()[-1] == "0 []"
