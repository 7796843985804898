"""Logging, configured once by the runner (never at import time)."""

from __future__ import annotations

import logging
import sys

import discord

# Both are chatty at INFO (every rate-limit bucket, every job run); their warnings are what an operator needs.
_QUIET_LOGGERS = ("discord.http", "apscheduler")
_HANDLER_NAME = "heatwave"
_PLAIN_FORMAT = "[{asctime}] [{levelname:<8}] {name}: {message}"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def setup_logging(level: str) -> None:
    """Log to stderr at `level` through discord.py's helper; quieten the noisy libraries. Safe to call again."""
    numeric = logging.getLevelNamesMapping()[level.upper()]
    root = logging.getLogger()
    # discord.utils.setup_logging adds a handler per call; a second run in the same process (tests) replaces ours.
    for existing in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(existing)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    # discord.py colours output whenever it runs inside Docker, tty or not; log files and `docker logs` piped
    # to a file should not fill with escape codes, so colour only an interactive terminal.
    formatter = discord.utils.MISSING if sys.stderr.isatty() else logging.Formatter(_PLAIN_FORMAT, _DATE_FORMAT, "{")
    discord.utils.setup_logging(handler=handler, formatter=formatter, level=numeric, root=True)
    # Heatwave never joins voice; discord.py's start-up warnings about missing voice extras are only noise.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    for name in _QUIET_LOGGERS:
        # A stricter overall level (ERROR) still wins: records are filtered by their own logger's level.
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))
