"""HEATWAVE_DB: a file path or a PostgreSQL URL, and passwords never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError
from db.location import mask_url, parse_location


def test_a_path_is_a_sqlite_file() -> None:
    location = parse_location("data/news.db")
    assert location.engine == "sqlite"
    assert location.path == Path("data/news.db")
    assert str(location) == "data/news.db"
    assert not location.shared_over_network  # processes sharing a file must run on its machine


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "POSTGRESQL"])
def test_a_postgres_url_is_the_server_engine(scheme: str) -> None:
    location = parse_location(f"{scheme}://bot:s3cret@db.example:5433/heatwave")
    assert location.engine == "postgres"
    assert "s3cret" not in str(location)
    assert "s3cret" not in repr(location)
    assert str(location) == f"{scheme.lower()}://bot:***@db.example:5433/heatwave"
    assert location.shared_over_network


def test_a_password_in_the_query_string_is_masked_too() -> None:
    assert mask_url("postgresql://db.example/h?sslmode=require&password=s3cret") == (
        "postgresql://db.example/h?sslmode=require&password=***"
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("postgresql://bot:s3cret@db.example:notaport/heatwave", "not a valid PostgreSQL URL"),
        ("postgresql://bot:s3cret@db.example:5432/", "needs a database name"),
        ("mysql://bot:s3cret@db.example/heatwave", "not supported"),
        ("   ", "got nothing"),
    ],
)
def test_bad_locations_are_refused_without_showing_the_password(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint) as caught:
        parse_location(text)
    assert "s3cret" not in str(caught.value)


def test_settings_name_the_variable_and_hide_the_password() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load({"HEATWAVE_DB": "postgresql://bot:s3cret@db.example:x/heatwave"}, env_file=None, toml_file=None)
    message = str(caught.value)
    assert message.startswith("HEATWAVE_DB ")
    assert "s3cret" not in message


def test_settings_accept_a_url() -> None:
    settings = Settings.load({"HEATWAVE_DB": "postgres://bot:pw@db.example/heatwave"}, env_file=None, toml_file=None)
    assert settings.store.engine == "postgres"
    assert "pw" not in repr(settings)
