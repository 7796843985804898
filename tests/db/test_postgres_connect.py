"""PostgreSQL at start and while running: clear one-line errors, never a password, and riding out a lost connection."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path

import psycopg
import pytest

from bot.cli import main
from bot.runner import run_command
from bot.settings import Settings
from db import DatabaseError, open_ingest_store, open_store, parse_location
from tests.support.pg import private_schema, require_server, server_url

SECRET = "pw-s3cret-123"


def _with(url: str, **params: str) -> str:
    joiner = "&" if "?" in url else "?"
    return url + joiner + "&".join(f"{k}={v}" for k, v in params.items())


async def test_an_unreachable_server_is_one_line_naming_the_masked_url() -> None:
    location = parse_location(f"postgresql://bot:{SECRET}@127.0.0.1:9/heatwave")
    with pytest.raises(DatabaseError) as caught:
        await open_store(location)
    message = str(caught.value)
    assert "postgresql://bot:***@127.0.0.1:9/heatwave" in message
    assert SECRET not in message
    assert "\n" not in message


def test_stats_on_an_unreachable_server_exits_2_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["stats", "--db", f"postgresql://bot:{SECRET}@127.0.0.1:9/heatwave"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("heatwave: cannot connect to the database postgresql://bot:***@127.0.0.1:9/heatwave")
    assert SECRET not in err
    assert err.count("\n") == 1


async def test_a_missing_database_says_so() -> None:
    require_server()
    base = server_url().rsplit("/", 1)[0]
    with pytest.raises(DatabaseError, match="does not exist"):
        await open_store(parse_location(f"{base}/heatwave_no_such_db_{uuid.uuid4().hex[:8]}"))


def test_stats_on_an_empty_database_asks_for_an_ingest_first(capsys: pytest.CaptureFixture[str]) -> None:
    with private_schema() as url:
        code = main(["stats", "--db", url])
    assert code == 2
    assert "heatwave ingest" in capsys.readouterr().err


async def test_a_schema_newer_than_the_code_is_refused() -> None:
    with private_schema() as url:
        store = await open_store(parse_location(url))
        await store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE schema_version SET version = 999")
        with pytest.raises(DatabaseError, match="newer than this Heatwave"):
            await open_store(parse_location(url))
        with pytest.raises(DatabaseError, match="newer than this Heatwave"), open_ingest_store(parse_location(url)):
            pass


async def test_several_processes_migrating_at_once_apply_each_migration_once() -> None:
    with private_schema() as url:
        location = parse_location(url)
        stores = await asyncio.gather(*(open_store(location) for _ in range(4)))
        for store in stores:
            await store.close()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)
            assert conn.execute("SELECT count(*) FROM alert_engine").fetchone() == (1,)


async def test_commands_answer_again_after_the_server_drops_every_connection() -> None:
    name = f"hw_{uuid.uuid4().hex[:12]}"
    with private_schema() as url:
        store = await open_store(parse_location(_with(url, application_name=name)))
        try:
            await store.app_state.set("greeting", "hello")

            def terminate() -> int:
                with psycopg.connect(server_url(), autocommit=True) as admin:
                    rows = admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
                    ).fetchall()
                return len(rows)

            assert await asyncio.to_thread(terminate) >= 1
            # The pool's connections are dead now; the next reads and writes reconnect and succeed.
            assert await store.app_state.get("greeting") == "hello"
            await store.app_state.set("greeting", "again")
            assert await store.app_state.get("greeting") == "again"
        finally:
            await store.close()


def test_heatwave_run_with_an_unreachable_database_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the playground's drop/ folder is made in the working folder
    news = tmp_path / "news"
    news.mkdir()
    settings = Settings.load(
        {"HEATWAVE_DB": f"postgresql://bot:{SECRET}@127.0.0.1:9/heatwave", "HEATWAVE_NEWS_DIR": str(news)},
        env_file=None,
        toml_file=None,
    )
    code = run_command(settings, store=settings.store, stdin=io.StringIO(""), configure_logging=False)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("heatwave: cannot connect to the database postgresql://bot:***@127.0.0.1:9/heatwave")
    assert SECRET not in err
    assert err.count("\n") == 1
