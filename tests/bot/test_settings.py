from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import EXIT_USAGE, main
from bot.settings import Settings, SettingsError
from db import StoreLocation


def load(env: dict[str, str], tmp_path: Path) -> Settings:
    return Settings.load(env, env_file=tmp_path / ".env", toml_file=tmp_path / "heatwave.toml")


def test_settings_defaults_without_any_source(tmp_path: Path) -> None:
    settings = load({}, tmp_path)
    assert settings.store == StoreLocation("sqlite", path=Path("data/heatwave.db"))
    assert settings.news_dir == Path("seeds")
    assert settings.scan_seconds == 60
    assert settings.discord_token is None


def test_settings_environment_beats_dotenv_beats_toml(tmp_path: Path) -> None:
    (tmp_path / "heatwave.toml").write_text(
        'HEATWAVE_DB = "toml.db"\nHEATWAVE_NEWS_DIR = "toml-news"\nHEATWAVE_SCAN_SECONDS = 7\n'
    )
    (tmp_path / ".env").write_text("HEATWAVE_DB=dotenv.db\nexport HEATWAVE_NEWS_DIR='dotenv-news'\n")
    settings = load({"HEATWAVE_DB": "env.db"}, tmp_path)
    assert settings.store == StoreLocation("sqlite", path=Path("env.db"))
    assert settings.news_dir == Path("dotenv-news")
    assert settings.scan_seconds == 7


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HEATWAVE_SCAN_SECONDS", "0", "HEATWAVE_SCAN_SECONDS must be a whole number from 1 to 86400, got '0'"),
        ("HEATWAVE_POST_SECONDS", "soon", "HEATWAVE_POST_SECONDS must be a whole number from 1 to 86400, got 'soon'"),
        ("DISCORD_GUILD_ID", "my-guild", "DISCORD_GUILD_ID must be a Discord id"),
        ("DISCORD_API_BASE", "ftp://x", "DISCORD_API_BASE must be a http or https URL"),
        ("DISCORD_GATEWAY_URL", "http://x", "DISCORD_GATEWAY_URL must be a ws or wss URL"),
    ],
)
def test_settings_bad_value_names_the_variable(tmp_path: Path, name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        load({name: value}, tmp_path)


def test_settings_any_cadence_of_at_least_one_second_is_valid(tmp_path: Path) -> None:
    assert load({"HEATWAVE_SCAN_SECONDS": "1", "HEATWAVE_POST_SECONDS": "86400"}, tmp_path).post_seconds == 86400


def test_settings_token_never_appears_in_repr_or_errors(tmp_path: Path) -> None:
    settings = load({"DISCORD_TOKEN": "sekrit.token.value"}, tmp_path)
    assert settings.discord_token == "sekrit.token.value"
    assert "sekrit" not in repr(settings)
    with pytest.raises(SettingsError) as info:
        load({"DISCORD_TOKEN": "bad token"}, tmp_path)
    assert "bad token" not in str(info.value)


def test_settings_unknown_toml_key_is_reported(tmp_path: Path) -> None:
    (tmp_path / "heatwave.toml").write_text('HEATWAVE_DBB = "x"\n')
    with pytest.raises(SettingsError, match="unknown setting 'HEATWAVE_DBB'"):
        load({}, tmp_path)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HEATWAVE_SCAN_SECONDS", "260000000000", "HEATWAVE_SCAN_SECONDS must be a whole number from 1 to 86400"),
        ("HEATWAVE_POST_SECONDS", "260000000000", "HEATWAVE_POST_SECONDS must be a whole number from 1 to 86400"),
        ("HEATWAVE_POST_SECONDS", "86401", "HEATWAVE_POST_SECONDS must be a whole number from 1 to 86400"),
        ("HEATWAVE_SCAN_SECONDS", "9" * 5000, "HEATWAVE_SCAN_SECONDS must be a whole number from 1 to 86400"),
        ("HEATWAVE_SCAN_SECONDS", "-5", "HEATWAVE_SCAN_SECONDS must be a whole number from 1 to 86400"),
        ("HEATWAVE_SCAN_SECONDS", "1.5", "HEATWAVE_SCAN_SECONDS must be a whole number from 1 to 86400"),
        ("HEATWAVE_MAX_POSTS_PER_TICK", "51", "HEATWAVE_MAX_POSTS_PER_TICK must be a whole number from 1 to 50"),
        ("HEATWAVE_MAX_POSTS_PER_TICK", "0", "HEATWAVE_MAX_POSTS_PER_TICK must be a whole number from 1 to 50"),
        (
            "HEATWAVE_MAX_FILE_BYTES",
            str(64 * 1024 * 1024 + 1),
            "HEATWAVE_MAX_FILE_BYTES must be a whole number from 1 to 67108864",
        ),
    ],
)
def test_settings_numbers_have_an_upper_bound(tmp_path: Path, name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(expected)) as info:
        load({name: value}, tmp_path)
    assert "\n" not in str(info.value)


def test_settings_largest_allowed_numbers_are_accepted(tmp_path: Path) -> None:
    settings = load(
        {
            "HEATWAVE_SCAN_SECONDS": "86400",
            "HEATWAVE_MAX_POSTS_PER_TICK": "50",
            "HEATWAVE_MAX_FILE_BYTES": str(64 * 1024 * 1024),
        },
        tmp_path,
    )
    assert (settings.scan_seconds, settings.max_posts_per_tick, settings.max_file_bytes) == (
        86400,
        50,
        64 * 1024 * 1024,
    )
    assert load({}, tmp_path).max_posts_per_tick == 5


def test_cli_refuses_an_overflowing_interval_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEATWAVE_SCAN_SECONDS", "260000000000")
    assert main(["stats", "--db", str(tmp_path / "x.db")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == "heatwave: HEATWAVE_SCAN_SECONDS must be a whole number from 1 to 86400, got '260000000000'\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("HEATWAVE_DB = 5", "HEATWAVE_DB must be a string, got an integer 5"),
        ("HEATWAVE_NEWS_DIR = true", "HEATWAVE_NEWS_DIR must be a string, got a boolean True"),
        ('HEATWAVE_SCAN_SECONDS = "60"', "HEATWAVE_SCAN_SECONDS must be an integer, got a string '60'"),
        ("HEATWAVE_POST_SECONDS = true", "HEATWAVE_POST_SECONDS must be an integer, got a boolean True"),
        ("HEATWAVE_MAX_POSTS_PER_TICK = 2.5", "HEATWAVE_MAX_POSTS_PER_TICK must be an integer, got a float 2.5"),
        ("HEATWAVE_MAX_FILE_BYTES = [1]", "HEATWAVE_MAX_FILE_BYTES must be an integer, got an array [1]"),
        ("DISCORD_GUILD_ID = 1.0", "DISCORD_GUILD_ID must be an integer or a string, got a float 1.0"),
    ],
)
def test_settings_toml_value_of_the_wrong_type_is_refused(tmp_path: Path, line: str, expected: str) -> None:
    (tmp_path / "heatwave.toml").write_text(line + "\n")
    with pytest.raises(SettingsError, match=re.escape(f"{tmp_path / 'heatwave.toml'}: {expected}")):
        load({}, tmp_path)


def test_settings_toml_values_of_the_right_type_are_read(tmp_path: Path) -> None:
    (tmp_path / "heatwave.toml").write_text(
        'HEATWAVE_DB = "t.db"\nHEATWAVE_MAX_POSTS_PER_TICK = 9\nDISCORD_GUILD_ID = "123"\n'
    )
    settings = load({}, tmp_path)
    assert settings.store == StoreLocation("sqlite", path=Path("t.db"))
    assert settings.max_posts_per_tick == 9
    assert settings.discord_guild_id == 123
    (tmp_path / "heatwave.toml").write_text("DISCORD_GUILD_ID = 456\n")
    assert load({}, tmp_path).discord_guild_id == 456


def test_settings_dotenv_drops_inline_comments_and_keeps_quoted_hashes(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# a comment line\n"
        "\n"
        "HEATWAVE_DB=x.db  # local\n"
        'export HEATWAVE_NEWS_DIR="my #news"  # quoted hash stays\n'
        "HEATWAVE_SCAN_SECONDS='30'\n"
    )
    settings = load({}, tmp_path)
    assert settings.store == StoreLocation("sqlite", path=Path("x.db"))
    assert settings.news_dir == Path("my #news")
    assert settings.scan_seconds == 30


def test_settings_dotenv_does_not_expand_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME_OF_NEWS", "/elsewhere")
    (tmp_path / ".env").write_text("HEATWAVE_NEWS_DIR=${HOME_OF_NEWS}/news\n")
    assert load({}, tmp_path).news_dir == Path("${HOME_OF_NEWS}/news")


@pytest.mark.parametrize(
    "content",
    [
        "HEATWAVE_DB=ok.db\nthis is not a setting\n",
        'HEATWAVE_DB=ok.db\nDISCORD_TOKEN="unterminated\n',
        "HEATWAVE_DB=ok.db\nHEATWAVE_NEWS_DIR\n",
        'HEATWAVE_DB=ok.db\nHEATWAVE_NEWS_DIR="x" trailing\n',
    ],
)
def test_settings_malformed_dotenv_line_names_file_and_line(tmp_path: Path, content: str) -> None:
    (tmp_path / ".env").write_text(content)
    with pytest.raises(SettingsError) as info:
        load({}, tmp_path)
    assert str(info.value) == f"{tmp_path / '.env'}:2: expected KEY=VALUE"


# ----- issue 13 (5): the console playground keeps to its own store unless HEATWAVE_DB is given ---------------


def test_settings_playground_store_is_its_own_file_when_heatwave_db_is_not_set(tmp_path: Path) -> None:
    settings = load({}, tmp_path)

    assert settings.playground_store == StoreLocation("sqlite", path=Path("data/playground.db"))
    assert settings.store == StoreLocation("sqlite", path=Path("data/heatwave.db"))


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("environment", "data/heatwave.db"),  # the bot's own default, given on purpose: shared as asked
        ("environment", "postgresql://heatwave@127.0.0.1/heatwave"),
        (".env", "chosen.db"),
        ("heatwave.toml", "chosen.db"),
    ],
)
def test_settings_playground_store_is_heatwave_db_when_it_is_given(tmp_path: Path, source: str, value: str) -> None:
    env: dict[str, str] = {}
    if source == "environment":
        env["HEATWAVE_DB"] = value
    elif source == ".env":
        (tmp_path / ".env").write_text(f"HEATWAVE_DB={value}\n")
    else:
        (tmp_path / "heatwave.toml").write_text(f'HEATWAVE_DB = "{value}"\n')

    settings = load(env, tmp_path)

    assert settings.playground_store == settings.store


def test_settings_sources_from_the_toml_file(tmp_path: Path) -> None:
    from bot.sources import FolderSource, GitSource

    (tmp_path / "heatwave.toml").write_text(
        'HEATWAVE_DB = "toml.db"\n'
        "[[sources]]\n"
        'path = "seeds/"\n'
        "[[sources]]\n"
        'git = "https://github.com/SmartableAI/artificial-intelligence"\n'
        'branch = "master"\n'
        'subdir = "_news"\n'
        'every = "30s"\n'
        "[[sources]]\n"
        'git = "git@github.com:SmartableAI/robotics.git"\n'
        "history_days = 7\n"
    )
    settings = load({}, tmp_path)
    assert settings.store == StoreLocation("sqlite", path=Path("toml.db"))
    assert settings.sources == (
        FolderSource(Path("seeds")),
        GitSource(
            url="https://github.com/SmartableAI/artificial-intelligence",
            branch="master",
            subdir="_news",
            every_seconds=30,
        ),
        GitSource(url="git@github.com:SmartableAI/robotics.git", history_days=7),
    )
    assert settings.sources[2].every_seconds == 300  # the default: every 5 minutes


def test_heatwave_config_names_the_settings_file(tmp_path: Path) -> None:
    elsewhere = tmp_path / "etc" / "heatwave.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text('HEATWAVE_SCAN_SECONDS = 9\n[[sources]]\npath = "/srv/news"\n')
    settings = Settings.load({"HEATWAVE_CONFIG": str(elsewhere)}, env_file=None)
    assert settings.scan_seconds == 9
    assert [source.name for source in settings.sources] == ["/srv/news"]
    with pytest.raises(SettingsError, match=r"HEATWAVE_CONFIG names '.*nowhere\.toml', which is not a file"):
        Settings.load({"HEATWAVE_CONFIG": str(tmp_path / "nowhere.toml")}, env_file=None)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('git = "--upload-pack=touch /tmp/pwned"', r"sources\[0\]: git '--upload-pack=touch /tmp/pwned' starts with"),
        ('git = "ext::sh -c touch% /tmp/pwned"', "contains whitespace"),
        ('git = "ext::sh"', r"uses a git remote helper \('::'\)"),
        ('git = "ftp://example.com/repo"', "must be an https, ssh or file URL"),
        ('git = "https://x.example/r"\nevery = "0s"', "every '0s' is shorter than 1 s"),
        ('git = "https://x.example/r"\nevery = "soon"', "every 'soon' is not a duration"),
        ('git = "https://x.example/r"\nsubdir = "../etc"', "subdir '../etc' must be a folder inside the repository"),
        ('git = "https://x.example/r"\nbranch = "-f"', "branch '-f' is not a branch name"),
        ('git = "https://x.example/r"\nhistory_days = -1', "history_days must be a whole number from 0 to 3650"),
        ('git = "https://x.example/r"\npath = "x"', "exactly one of `path`"),
        ('git = "https://x.example/r"\nevry = "5m"', "unknown key 'evry'"),
    ],
)
def test_a_bad_source_is_one_line_naming_it(tmp_path: Path, entry: str, expected: str) -> None:
    (tmp_path / "heatwave.toml").write_text(f"[[sources]]\n{entry}\n")
    with pytest.raises(SettingsError, match=expected):
        load({}, tmp_path)


@pytest.mark.parametrize(("raw", "expected"), [("false", False), ("0", False), ("true", True), ("yes", True)])
def test_heatwave_watch_turns_the_folder_watcher_off(tmp_path: Path, raw: str, expected: bool) -> None:
    assert load({"HEATWAVE_WATCH": raw}, tmp_path).watch is expected
    (tmp_path / "heatwave.toml").write_text("HEATWAVE_WATCH = false\n")
    assert load({}, tmp_path).watch is False


def test_a_git_source_never_shows_the_token_in_its_url() -> None:
    from bot.sources import GitSource

    source = GitSource(url="https://bot:ghp_s3cret@github.com/SmartableAI/ai.git", subdir="_news")
    assert source.name == "https://***@github.com/SmartableAI/ai.git:_news"
    assert "s3cret" not in source.key
    assert "s3cret" not in repr(source)
def test_settings_operations_are_off_and_text_by_default(tmp_path: Path) -> None:
    settings = load({}, tmp_path)
    assert settings.metrics_port is None
    assert settings.log_format == "text"


def test_settings_metrics_port_host_and_json_logs_are_read(tmp_path: Path) -> None:
    settings = load(
        {"HEATWAVE_METRICS_PORT": "9108", "HEATWAVE_METRICS_HOST": "127.0.0.1", "HEATWAVE_LOG_FORMAT": "JSON"},
        tmp_path,
    )
    assert (settings.metrics_port, settings.metrics_host, settings.log_format) == (9108, "127.0.0.1", "json")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HEATWAVE_METRICS_PORT", "70000", "HEATWAVE_METRICS_PORT must be a whole number from 1 to 65535"),
        ("HEATWAVE_METRICS_PORT", "metrics", "HEATWAVE_METRICS_PORT must be a whole number from 1 to 65535"),
        ("HEATWAVE_METRICS_HOST", "http://x/", "HEATWAVE_METRICS_HOST must be an IP address or host name"),
        ("HEATWAVE_LOG_FORMAT", "xml", "HEATWAVE_LOG_FORMAT must be one of text, json"),
    ],
)
def test_settings_bad_operations_values_name_the_variable(tmp_path: Path, name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(expected)):
        load({name: value}, tmp_path)
