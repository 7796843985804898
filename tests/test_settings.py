from __future__ import annotations

from pathlib import Path

import pytest

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
        ("HEATWAVE_SCAN_SECONDS", "0", "HEATWAVE_SCAN_SECONDS must be a whole number >= 1"),
        ("HEATWAVE_POST_SECONDS", "soon", "HEATWAVE_POST_SECONDS must be a whole number >= 1"),
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
