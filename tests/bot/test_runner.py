"""`heatwave run`: the console playground without a token, the bot with one, and clean exits either way."""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.runner import EXIT_FAILED, EXIT_OK, EXIT_TOKEN_REJECTED, run_command
from bot.settings import Settings
from db import StoreLocation, parse_location
from tests.e2e.stories import STORIES, Story, write_story, write_story_set
from tests.support.db_probe import query_one
from tests.support.polling import until_sync
from tests.support.standin_thread import standin_in_thread

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _in_a_fresh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The playground makes drop/ (and data/) in the working folder: never in the repository's."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def news_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "news"
    write_story_set(folder, STORIES)
    return folder


def _settings(tmp_path: Path, news_dir: Path, **overrides: Any) -> Settings:
    base = Settings(store=parse_location(tmp_path / "h.db"), news_dir=news_dir)
    return dataclasses.replace(base, **overrides)


def _env_without_discord(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "HEATWAVE_"))}
    env["HEATWAVE_DB"] = str(tmp_path / "h.db")
    return env


def test_run_command_without_a_token_prints_how_to_get_one_and_exits_at_end_of_input(
    tmp_path: Path, news_dir: Path
) -> None:
    out = io.StringIO()

    code = run_command(
        _settings(tmp_path, news_dir),
        store=parse_location(tmp_path / "h.db"),
        stdin=io.StringIO(""),
        stdout=out,
        configure_logging=False,
    )

    text = out.getvalue()
    assert code == EXIT_OK
    assert "no DISCORD_TOKEN was found" in text
    assert "Reset Token" in text
    assert "DISCORD_TOKEN=" in text
    assert ".env" in text
    assert f"{len(STORIES)} new" in text


def test_run_command_start_up_summary_counts_the_duplicate(tmp_path: Path, news_dir: Path) -> None:
    first = sorted(news_dir.glob("*.md"))[0]
    (news_dir / "zz-copy-of-the-first.md").write_bytes(first.read_bytes())
    out = io.StringIO()

    code = run_command(
        _settings(tmp_path, news_dir),
        store=parse_location(tmp_path / "h.db"),
        stdin=io.StringIO(""),
        stdout=out,
        configure_logging=False,
    )

    assert code == EXIT_OK
    n = len(STORIES)
    summary = f"Read {n + 1} files in {news_dir}: {n} new, 0 updated, 0 unchanged, 1 duplicate, 0 rejected ("
    assert summary in out.getvalue()


def test_run_command_without_a_token_answers_piped_slash_commands(tmp_path: Path, news_dir: Path) -> None:
    out = io.StringIO()

    code = run_command(
        _settings(tmp_path, news_dir),
        store=parse_location(tmp_path / "h.db"),
        stdin=io.StringIO("/topic AI\n"),
        stdout=out,
        configure_logging=False,
    )

    assert code == EXIT_OK
    assert "AI story number 01" in out.getvalue()


def test_run_command_with_a_rejected_token_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, news_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with standin_in_thread(token="the-right-token") as threaded:
        settings = _settings(
            tmp_path,
            news_dir,
            discord_token="a-wrong-token",
            discord_api_base=threaded.standin.base_url,
            discord_gateway_url=threaded.standin.gateway_url,
        )
        code = run_command(settings, store=settings.store, configure_logging=False)

    err = capsys.readouterr().err
    assert code == EXIT_TOKEN_REJECTED
    assert err == "heatwave: DISCORD_TOKEN was rejected by Discord\n"


def test_run_command_with_an_api_base_that_is_not_discord_exits_1_with_one_line(
    tmp_path: Path, news_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Something answers, but not Discord's API (404): unlike an unreachable Discord, waiting will not fix that.
    with standin_in_thread() as threaded:
        api_base = threaded.standin.base_url + "/not-the-api"
        settings = _settings(
            tmp_path,
            news_dir,
            discord_token=threaded.standin.token,
            discord_api_base=api_base,
            discord_gateway_url=threaded.standin.gateway_url,
        )

        code = run_command(settings, store=settings.store, configure_logging=False)

    err = capsys.readouterr().err
    assert code == EXIT_FAILED
    assert err.startswith(f"heatwave: cannot log in to Discord at {api_base}: 404")
    assert err.count("\n") == 1


def test_heatwave_run_with_a_token_logs_in_and_stops_cleanly_on_sigterm(tmp_path: Path, news_dir: Path) -> None:
    token = "subprocess-SECRET-token"
    with standin_in_thread(token=token) as threaded:
        env = _env_without_discord(tmp_path)
        env.update(
            DISCORD_TOKEN=token,
            DISCORD_API_BASE=threaded.standin.base_url,
            DISCORD_GATEWAY_URL=threaded.standin.gateway_url,
            HEATWAVE_NEWS_DIR=str(news_dir),
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
        reader.start()
        try:

            def ready() -> bool:
                assert proc.poll() is None, "".join(lines)
                return any("invite URL: " in line for line in list(lines))

            until_sync(ready, 20, "the bot to become ready")
            syncs = threaded.call(lambda: len(threaded.standin.command_syncs))
            proc.send_signal(signal.SIGTERM)
            out = proc.stdout.read() if proc.stdout else ""
            proc.wait(timeout=20)
            reader.join(timeout=5)
            err = "".join(lines)
        finally:
            if proc.poll() is None:
                proc.kill()

    assert proc.returncode == EXIT_OK, err
    assert syncs == 1
    assert "Traceback" not in err
    assert "\x1b[" not in err  # no colour codes when stderr is not a terminal
    assert "stopping on signal" in err
    assert token not in out + err


def test_heatwave_run_without_a_token_and_no_input_exits_cleanly(tmp_path: Path, news_dir: Path) -> None:
    env = _env_without_discord(tmp_path)
    env["HEATWAVE_NEWS_DIR"] = str(news_dir)

    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert proc.returncode == EXIT_OK, proc.stderr
    assert "no DISCORD_TOKEN was found" in proc.stdout
    assert "Traceback" not in proc.stderr


def _stored(location: StoreLocation, title: str) -> bool:
    return query_one(location, "SELECT count(*) FROM stories WHERE title = ?", (title,)) == (1,)


def test_console_playground_picks_up_a_story_dropped_into_the_news_folder(tmp_path: Path, news_dir: Path) -> None:
    read_fd, write_fd = os.pipe()
    out = io.StringIO()
    codes: list[int] = []
    with os.fdopen(read_fd, "r") as stdin, os.fdopen(write_fd, "w") as typing:
        settings = _settings(tmp_path, news_dir, scan_seconds=1)
        runner = threading.Thread(
            target=lambda: codes.append(
                run_command(settings, store=settings.store, stdin=stdin, stdout=out, configure_logging=False)
            )
        )
        runner.start()
        # Once the console greets, the start-up ingest is over: only the rescan can see the new story.
        until_sync(lambda: "Heatwave console" in out.getvalue(), 15, "the console to open")
        write_story(news_dir, Story(slug="fusion", title="Fusion startup reaches ignition", topics=("Fusion",)))

        title = "Fusion startup reaches ignition"
        until_sync(lambda: _stored(settings.store, title), 15, "the rescan to store the dropped story")
        typing.write("/topic Fusion\n")
        typing.flush()
        until_sync(lambda: title in out.getvalue(), 10, "the console to show the story")
        typing.close()
        runner.join(timeout=15)

    assert codes == [EXIT_OK]


def test_run_command_without_a_news_folder_says_so_and_still_opens_the_playground(tmp_path: Path) -> None:
    out = io.StringIO()
    settings = Settings(store=parse_location(tmp_path / "h.db"), news_dir=tmp_path / "no-such-folder")

    code = run_command(settings, store=settings.store, stdin=io.StringIO(""), stdout=out, configure_logging=False)

    assert code == EXIT_OK
    assert "does not exist yet" in out.getvalue()


def test_start_up_ingest_reads_the_news_folder_and_every_folder_source(tmp_path: Path, news_dir: Path) -> None:
    from bot.clock import SystemClock
    from bot.runner import _ingest_once
    from bot.sources import FolderSource
    from tests.e2e.stories import Story, write_story

    extra = tmp_path / "extra"
    write_story(extra, Story(slug="from-extra", title="From the extra folder", topics=("AI",), heat=50))
    settings = _settings(tmp_path, news_dir, sources=(FolderSource(extra), FolderSource(tmp_path / "not-yet")))

    summary = _ingest_once(settings, settings.store, SystemClock())

    assert summary is not None
    assert f"in {news_dir}, {extra}:" in summary
    assert f"{len(STORIES) + 1} new" in summary


def test_console_playground_syncs_a_git_source_of_the_settings(tmp_path: Path, news_dir: Path) -> None:
    from datetime import UTC, datetime

    from bot.sources import GitSource
    from tests.e2e.stories import render_story
    from tests.support.git_repos import Origin

    origin = Origin(tmp_path / "origin")
    title = "Fusion startup reaches ignition"
    origin.write("_news/fusion.md", render_story(Story(slug="fusion", title=title, topics=("Fusion",))))
    origin.commit("fusion", when=datetime.now(UTC))
    read_fd, write_fd = os.pipe()
    out = io.StringIO()
    codes: list[int] = []
    with os.fdopen(read_fd, "r") as stdin, os.fdopen(write_fd, "w") as typing:
        settings = _settings(
            tmp_path, news_dir, data_dir=tmp_path / "data", sources=(GitSource(url=origin.url, subdir="_news"),)
        )
        runner = threading.Thread(
            target=lambda: codes.append(
                run_command(settings, store=settings.store, stdin=stdin, stdout=out, configure_logging=False)
            )
        )
        runner.start()
        until_sync(lambda: _stored(settings.store, title), 20, "the git source's first sync to store its story")
        typing.write("/topic Fusion\n")
        typing.flush()
        until_sync(lambda: title in out.getvalue(), 10, "the console to show the story")
        typing.close()
        runner.join(timeout=15)

    assert codes == [EXIT_OK]
