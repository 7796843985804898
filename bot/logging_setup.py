"""Logging, configured once by the runner (never at import time).

Two formats: human text (the default) and, with HEATWAVE_LOG_FORMAT=json, one JSON object per line for log
shippers: time, level, logger, message, any structured fields a call passes in `extra` (guild, channel, story...)
and the traceback as `exc`. In both, the secrets handed to `setup_logging` (the token, a database password) are
replaced by *** wherever they would appear, whoever logged them.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import discord

# Both are chatty at INFO (every rate-limit bucket, every job run); their warnings are what an operator needs.
_QUIET_LOGGERS = ("discord.http", "apscheduler")
_HANDLER_NAME = "heatwave"
_PLAIN_FORMAT = "[{asctime}] [{levelname:<8}] {name}: {message}"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


REDACTED = "***"
# Attributes every LogRecord has; anything else on a record came from `extra=` and is a structured field.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO 8601 UTC), level, logger, message, extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and key not in entry:
                entry[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


class _Redacting(logging.Formatter):
    """Wraps a formatter and replaces every secret in its output (message, fields and traceback alike)."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self._inner = inner
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        """The inner formatter's text with the secrets replaced."""
        text = self._inner.format(record)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def setup_logging(level: str, *, log_format: str = "text", secrets: Iterable[str] = ()) -> None:
    """Log to stderr at `level` (as text or JSON lines) through discord.py's helper; quieten the noisy libraries;
    never write `secrets`. Safe to call again."""
    numeric = logging.getLevelNamesMapping()[level.upper()]
    root = logging.getLogger()
    # discord.utils.setup_logging adds a handler per call; a second run in the same process (tests) replaces ours.
    for existing in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(existing)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    # discord.py colours output whenever it runs inside Docker, tty or not; log files and `docker logs` piped
    # to a file should not fill with escape codes, so colour only an interactive terminal.
    formatter: logging.Formatter
    if log_format == "json":
        formatter = JsonFormatter()
    elif sys.stderr.isatty():
        # discord.py's own colour formatter, as discord.utils.setup_logging would pick it.
        formatter = discord.utils._ColourFormatter()
    else:
        formatter = logging.Formatter(_PLAIN_FORMAT, _DATE_FORMAT, "{")
    discord.utils.setup_logging(handler=handler, formatter=_Redacting(formatter, secrets), level=numeric, root=True)
    # Heatwave never joins voice; discord.py's start-up warnings about missing voice extras are only noise.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    for name in _QUIET_LOGGERS:
        # A stricter overall level (ERROR) still wins: records are filtered by their own logger's level.
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))
