"""bot.logging_setup: one handler however often it runs; the chatty libraries only warn."""

from __future__ import annotations

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
