"""bot.logging_setup: one handler however often it runs; the chatty libraries only warn."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.logging_setup import setup_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("discord.http", "apscheduler")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


def test_setup_logging_sets_the_root_level_and_quietens_discord_http_and_apscheduler() -> None:
    setup_logging("DEBUG")

    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("discord.http").level == logging.WARNING
    assert logging.getLogger("apscheduler").level == logging.WARNING


def test_setup_logging_twice_installs_one_handler() -> None:
    setup_logging("INFO")
    setup_logging("INFO")

    ours = [h for h in logging.getLogger().handlers if h.get_name() == "heatwave"]
    assert len(ours) == 1


def test_setup_logging_at_error_keeps_library_warnings_out_too() -> None:
    setup_logging("ERROR")

    assert logging.getLogger("apscheduler").level == logging.ERROR


def _our_handler() -> logging.Handler:
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "heatwave"]
    return handler


def _formatted(record: logging.LogRecord) -> str:
    handler = _our_handler()
    assert handler.formatter is not None
    return handler.formatter.format(record)


def _record(message: str, *args: object, exc: BaseException | None = None, **extra: object) -> logging.LogRecord:
    return logging.getLogger("bot.services.alerts").makeRecord(
        "bot.services.alerts", logging.WARNING, __file__, 1, message, args,
        (type(exc), exc, exc.__traceback__) if exc is not None else None, extra=extra,
    )


def test_setup_logging_json_writes_one_object_per_line_with_structured_fields() -> None:
    setup_logging("INFO", log_format="json")
    try:
        raise RuntimeError("boom")
    except RuntimeError as caught:
        error = caught

    line = _formatted(_record("channel %d cannot take alerts", 42, exc=error, guild=1, channel=42, story=7))

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "bot.services.alerts"
    assert entry["message"] == "channel 42 cannot take alerts"
    assert (entry["guild"], entry["channel"], entry["story"]) == (1, 42, 7)
    assert entry["time"].endswith("+00:00")
    assert "RuntimeError: boom" in entry["exc"]


def test_setup_logging_never_writes_the_secrets_in_either_format() -> None:
    for log_format in ("text", "json"):
        setup_logging("INFO", log_format=log_format, secrets=["tok.SECRET.en", "pg-pass", ""])

        line = _formatted(_record("login with %s to postgresql://u:%s@db/x", "tok.SECRET.en", "pg-pass"))

        assert "SECRET" not in line
        assert "pg-pass" not in line
        assert "***" in line


def test_json_log_lines_of_a_real_logger_parse(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", log_format="json")
    log = logging.getLogger("bot.test")
    log.info("first %s", "line")
    log.warning("second", extra={"guild": 5})

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    assert [(e["message"], e.get("guild")) for e in lines] == [("first line", None), ("second", 5)]
