"""`heatwave run` without a token: the playground's own store, its drop folder, its start-up lines, and the whole
thing at a real terminal (a story dropped in while a line is half typed)."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bot.runner
from bot.cli import main
from db import parse_location
from tests.e2e.stories import Story, write_story, write_story_set
from tests.support.db_probe import query_one
from tests.support.terminal import CTRL_D, ENTER, PtyScreen

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SUBSCRIPTIONS = "SELECT count(*) FROM alert_subscriptions"
STORIES = (
    Story(slug="ai-one", title="AI model learns to fold laundry", topics=("AI",), heat=90),
    Story(slug="ai-two", title="AI chip ships early", topics=("AI",), heat=80),
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder as `make run` sees it: the working directory, with the sample stories in `news/`."""
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "HEATWAVE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HEATWAVE_NEWS_DIR", "news")
    monkeypatch.chdir(tmp_path)
    # The runner's logging set-up would keep a handler on pytest's captured stderr after the test.
    monkeypatch.setattr(bot.runner, "setup_logging", lambda level, **_: None)
    write_story_set(tmp_path / "news", STORIES)
    return tmp_path


def heatwave_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *lines: str) -> str:
    """`heatwave run` with `lines` typed (piped) into the playground; returns what it printed."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    code = main(["run"])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def flat(text: str) -> str:
    """The text with its line wrapping undone (the start-up lines are wrapped to the terminal)."""
    return " ".join(text.split())


def test_playground_keeps_its_alerts_out_of_the_real_bots_store(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = heatwave_run(monkeypatch, capsys, "/alerts add channel:#console AI")
    again = heatwave_run(monkeypatch, capsys, "/alerts list")

    assert "#console will now get new stories on AI" in first
    assert "Store: data/playground.db, the playground's own. The real bot uses data/heatwave.db" in flat(first)
    assert "#console · AI · heat ≥ 70" in again  # the playground remembers its own subscription...
    assert query_one(parse_location(project / "data/playground.db"), SUBSCRIPTIONS) == (1,)
    # ...and the real bot's store holds nothing it would try to post to "channel 1".
    assert query_one(parse_location(project / "data/heatwave.db"), SUBSCRIPTIONS) is None


def test_playground_uses_heatwave_db_when_it_is_set(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / ".env").write_text("HEATWAVE_DB=shared.db\n")

    out = heatwave_run(monkeypatch, capsys, "/alerts add AI")

    assert "Store: shared.db (from HEATWAVE_DB), shared with the real bot" in flat(out)
    assert query_one(parse_location(project / "shared.db"), SUBSCRIPTIONS) == (1,)
    assert not (project / "data/playground.db").exists()


def test_playground_uses_the_db_option(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("/alerts add AI\n"))

    assert main(["run", "--db", "picked.db"]) == 0

    assert "Store: picked.db." in capsys.readouterr().out
    assert query_one(parse_location(project / "picked.db"), SUBSCRIPTIONS) == (1,)
    assert not (project / "data/playground.db").exists()


def test_playground_creates_the_drop_folder_and_reads_stories_from_it(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = heatwave_run(monkeypatch, capsys)
    assert (project / "drop").is_dir()
    assert "Your own stories: put .md files in drop/ (git-ignored; news/ holds the samples)." in flat(first)
    assert "in drop:" not in first  # an empty drop folder needs no summary line

    write_story(project / "drop", Story(slug="mine", title="My own story about fusion", topics=("Fusion",)))
    second = heatwave_run(monkeypatch, capsys, "/topic Fusion")

    assert "Read 1 file in drop: 1 new, 0 updated, 0 unchanged, 0 duplicates, 0 rejected" in second
    assert "Read 2 files in news: 0 new, 0 updated, 2 unchanged" in second
    assert "My own story about fusion" in second.split("Topic Fusion")[1]


def readme_playground_lines() -> list[str]:
    """The commands the README's getting-started section tells people to try in the playground."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("**Without a Discord token**", 1)[1]
    block = section.split("```\n", 2)[1]
    return [line for line in block.splitlines() if line.strip()]


def test_every_command_the_readme_shows_for_the_playground_works_as_written(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEATWAVE_NEWS_DIR", str(PROJECT_ROOT / "seeds"))  # "Try these" is about the samples
    lines = readme_playground_lines()
    assert len(lines) >= 5, lines
    assert all(line.startswith("/") for line in lines), lines

    out = heatwave_run(monkeypatch, capsys, *lines)

    refused = [line for line in out.splitlines() if line.startswith("! ") or "Unknown command" in line]
    assert refused == []
    replies = out.split("type /help for commands, /quit to leave.\n", 1)[1]
    assert "No story" not in replies
    assert "There is no topic" not in replies


def test_the_playground_files_are_ignored_by_git() -> None:
    if not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    paths = ["drop/my-story.md", "data/playground.db", "data/console_history"]

    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )

    assert result.stdout.split() == paths, result.stderr


async def test_heatwave_run_at_a_terminal_prints_a_dropped_storys_alert_above_the_half_typed_line(
    project: Path,
) -> None:
    env = {**os.environ, "HEATWAVE_SCAN_SECONDS": "1", "HEATWAVE_POST_SECONDS": "1", "TERM": "xterm"}
    screen = PtyScreen(columns=100, rows=60)
    screen.attach()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=project, env=env, stdin=screen.slave, stdout=screen.slave, stderr=screen.slave, start_new_session=True,
    )  # fmt: skip
    try:
        await screen.wait_for("Your own stories: put .md files in drop/", within=30)
        await screen.wait_for(lambda: screen.before_cursor == "heatwave> ", what="the prompt")
        screen.type(f"/alerts add min_heat:100{ENTER}")
        await screen.wait_for("#console will now get new stories on every topic with heat ≥ 100")
        # Keys typed before the next prompt is drawn are echoed by the terminal itself: type at the prompt.
        await screen.wait_for(lambda: screen.before_cursor == "heatwave> ", what="the next prompt")
        screen.type("/topic Fus")
        await screen.wait_for(lambda: screen.before_cursor == "heatwave> /topic Fus", what="the half-typed line")

        write_story(project / "drop", Story(slug="fusion", title="Fusion startup reaches ignition", topics=("Fusion",),
                                            heat=150))  # fmt: skip
        await screen.wait_for("🔥 alert in #console:")
        # The alert and the redrawn prompt reach the terminal as separate writes: wait for the redraw.
        await screen.wait_for(
            lambda: [line for line in screen.lines if line][-1] == "heatwave> /topic Fus",
            what="the half-typed line redrawn below the alert",
        )

        lines = [line for line in screen.lines if line]
        alert = lines.index("🔥 alert in #console:")
        assert "Fusion startup reaches ignition" in lines[alert + 1]
        assert screen.before_cursor == "heatwave> /topic Fus"

        screen.type(f"ion{ENTER}")
        await screen.wait_for("Topic Fusion · hottest first · 1 story")
        await screen.wait_for(lambda: screen.before_cursor == "heatwave> ", what="the prompt")
        screen.type(CTRL_D)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        screen.close()

    assert "Traceback" not in screen.text
    assert not (project / "data/heatwave.db").exists()
