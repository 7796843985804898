"""One typed settings object, loaded once: environment over `.env` over `heatwave.toml` over defaults.

This is the only module that reads the environment. A bad value fails fast with the variable's name and what
is expected, so a typo in a deployment is a one-line message, not a traceback at 3 a.m.
"""

from __future__ import annotations

import enum
import io
import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.sources import SettingsError, Source, parse_sources
from db.location import StoreLocation, parse_location

DEFAULT_MAX_FILE_BYTES = 1024 * 1024
MAX_FILE_BYTES_LIMIT = 64 * 1024 * 1024  # 64 MiB: no story file needs more, and each is read whole into memory
MAX_INTERVAL_SECONDS = 24 * 60 * 60  # a day: a longer scan or post interval is a mistake, not a schedule
MAX_POSTS_PER_TICK_LIMIT = 50  # Discord's rate limits make more posts per tick pointless
DEFAULT_STORE = "data/heatwave.db"
# The console playground's own store when HEATWAVE_DB is not set: a subscription to its one "channel" left in the
# bot's store would make the real bot try to post to a channel that does not exist, fail and pause.
PLAYGROUND_STORE = "data/playground.db"


__all__ = ["Settings", "SettingsError"]

# `HEATWAVE_CONFIG` names the settings file; without it, `heatwave.toml` in the working directory (if present).
CONFIG_VARIABLE = "HEATWAVE_CONFIG"
DEFAULT_CONFIG_FILE = Path("heatwave.toml")


class _ConfigFile(enum.Enum):
    FROM_ENVIRONMENT = "HEATWAVE_CONFIG, else heatwave.toml"


# Settings.load's default for `toml_file`: HEATWAVE_CONFIG, else DEFAULT_CONFIG_FILE.
FROM_ENVIRONMENT = _ConfigFile.FROM_ENVIRONMENT


def _whole_number(minimum: int, maximum: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        problem = f"{name} must be a whole number from {minimum} to {maximum}, got {raw!r}"
        text = str(raw).strip()
        # Digits only: int() would also take "1_000", "+5" and other spellings nobody means in a setting.
        if not text.isascii() or not text.isdigit():
            raise SettingsError(problem)
        try:
            value = int(text)
        except ValueError:  # more digits than Python converts: certainly out of range
            raise SettingsError(problem) from None
        if not minimum <= value <= maximum:
            raise SettingsError(problem)
        return value

    return parse


def _optional_snowflake(name: str, raw: str) -> int | None:
    text = str(raw).strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise SettingsError(f"{name} must be a Discord id (digits only), got {raw!r}")
    return int(text)


def _optional_url(schemes: tuple[str, ...]) -> Callable[[str, str], str | None]:
    def parse(name: str, raw: str) -> str | None:
        text = str(raw).strip()
        if not text:
            return None
        scheme, sep, rest = text.partition("://")
        if not sep or scheme.lower() not in schemes or not rest:
            raise SettingsError(f"{name} must be a {' or '.join(schemes)} URL, got {raw!r}")
        return text.rstrip("/")

    return parse


def _store_location(name: str, raw: str) -> StoreLocation:
    try:
        return parse_location(str(raw))
    except ValueError as exc:
        raise SettingsError(f"{name} {exc}") from None


def _path(name: str, raw: str) -> Path:
    text = str(raw).strip()
    if not text:
        raise SettingsError(f"{name} must be a path, got an empty value")
    return Path(text).expanduser()


def _optional_secret(name: str, raw: str) -> str | None:
    text = str(raw).strip()
    if not text:
        return None
    if any(ch.isspace() for ch in text):
        # Never echo the value: it is a secret even when it is malformed.
        raise SettingsError(f"{name} must not contain whitespace")
    return text


def _boolean(name: str, raw: str) -> bool:
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _log_level(name: str, raw: str) -> str:
    text = str(raw).strip().upper()
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"{name} must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {raw!r}")
    return text


def _optional_port(name: str, raw: str) -> int | None:
    text = str(raw).strip()
    if not text:
        return None
    return _whole_number(1, 65535)(name, text)


def _host(name: str, raw: str) -> str:
    text = str(raw).strip()
    if not text or any(ch.isspace() or ch in "/@" for ch in text):
        raise SettingsError(f"{name} must be an IP address or host name to listen on, got {raw!r}")
    return text


LOG_FORMATS = ("text", "json")


def _log_format(name: str, raw: str) -> str:
    text = str(raw).strip().lower()
    if text not in LOG_FORMATS:
        raise SettingsError(f"{name} must be one of {', '.join(LOG_FORMATS)}, got {raw!r}")
    return text


# The TOML value types a setting accepts in `heatwave.toml`; anything else is refused, never stringified.
TOML_STRING: tuple[type, ...] = (str,)
TOML_INTEGER: tuple[type, ...] = (int,)
TOML_BOOLEAN: tuple[type, ...] = (bool,)
_TOML_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean"}


def _setting(
    env: str,
    parse: Callable[[str, str], Any],
    default: Any,
    *,
    toml: tuple[type, ...] = TOML_STRING,
    secret: bool = False,
) -> Any:
    return field(default=default, repr=not secret, metadata={"env": env, "parse": parse, "toml": toml})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable about Heatwave. Field metadata names the environment variable."""

    store: StoreLocation = _setting("HEATWAVE_DB", _store_location, parse_location(DEFAULT_STORE))
    news_dir: Path = _setting("HEATWAVE_NEWS_DIR", _path, Path("seeds"))
    scan_seconds: int = _setting("HEATWAVE_SCAN_SECONDS", _whole_number(1, MAX_INTERVAL_SECONDS), 60, toml=TOML_INTEGER)
    post_seconds: int = _setting("HEATWAVE_POST_SECONDS", _whole_number(1, MAX_INTERVAL_SECONDS), 60, toml=TOML_INTEGER)
    max_posts_per_tick: int = _setting(
        "HEATWAVE_MAX_POSTS_PER_TICK", _whole_number(1, MAX_POSTS_PER_TICK_LIMIT), 5, toml=TOML_INTEGER
    )
    max_file_bytes: int = _setting(
        "HEATWAVE_MAX_FILE_BYTES", _whole_number(1, MAX_FILE_BYTES_LIMIT), DEFAULT_MAX_FILE_BYTES, toml=TOML_INTEGER
    )
    log_level: str = _setting("HEATWAVE_LOG_LEVEL", _log_level, "INFO")
    log_format: str = _setting("HEATWAVE_LOG_FORMAT", _log_format, "text")
    # Off unless set: the bot opens no port nobody asked for.
    metrics_port: int | None = _setting("HEATWAVE_METRICS_PORT", _optional_port, None, toml=TOML_INTEGER + TOML_STRING)
    # All interfaces by default, so a Prometheus in another container or host can scrape; 127.0.0.1 keeps it local.
    metrics_host: str = _setting("HEATWAVE_METRICS_HOST", _host, "0.0.0.0")  # noqa: S104
    discord_token: str | None = _setting("DISCORD_TOKEN", _optional_secret, None, secret=True)
    discord_api_base: str | None = _setting("DISCORD_API_BASE", _optional_url(("http", "https")), None)
    discord_gateway_url: str | None = _setting("DISCORD_GATEWAY_URL", _optional_url(("ws", "wss")), None)
    # Discord ids are strings in Discord's own JSON, so a quoted id is as natural as a bare one.
    discord_guild_id: int | None = _setting(
        "DISCORD_GUILD_ID", _optional_snowflake, None, toml=TOML_INTEGER + TOML_STRING
    )
    data_dir: Path = _setting("HEATWAVE_DATA_DIR", _path, Path("data"))
    watch: bool = _setting("HEATWAVE_WATCH", _boolean, True, toml=TOML_BOOLEAN)
    # The `[[sources]]` of the settings file (not a variable: a list of tables).
    sources: tuple[Source, ...] = field(default=(), metadata={"env": None})
    # Not a variable of its own: `load` records whether HEATWAVE_DB was given by any source (see playground_store).
    store_given: bool = field(default=False, metadata={"env": None})

    @property
    def playground_store(self) -> StoreLocation:
        """The console playground's store: HEATWAVE_DB when it was given, else data/playground.db, never the bot's."""
        return self.store if self.store_given else parse_location(PLAYGROUND_STORE)

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: Path | None = Path(".env"),
        toml_file: Path | _ConfigFile | None = FROM_ENVIRONMENT,
    ) -> Settings:
        """Read every source once and validate; raises SettingsError naming the bad variable.

        The settings file is `toml_file` when given, else the one `HEATWAVE_CONFIG` names (environment or
        `.env`; it must exist), else `heatwave.toml` when it exists.
        """
        environment = os.environ if environ is None else environ
        dotenv = _read_dotenv(env_file) if env_file is not None and env_file.is_file() else {}
        if isinstance(toml_file, _ConfigFile):
            toml_file = _config_file({**dotenv, **environment})
        sources: dict[str, str] = {}
        story_sources: tuple[Source, ...] = ()
        if toml_file is not None and toml_file.is_file():
            read, story_sources = _read_toml(toml_file)
            sources.update(read)
        sources.update(dotenv)
        sources.update(environment)
        values: dict[str, Any] = {}
        for spec in _variables():
            env_name = spec.metadata["env"]
            if env_name in sources:
                values[spec.name] = spec.metadata["parse"](env_name, sources[env_name])
        return cls(**values, sources=story_sources, store_given="HEATWAVE_DB" in sources)


def _config_file(given: Mapping[str, str]) -> Path:
    raw = given.get(CONFIG_VARIABLE)
    if raw is None:
        return DEFAULT_CONFIG_FILE
    path = _path(CONFIG_VARIABLE, raw)
    if not path.is_file():
        raise SettingsError(f"{CONFIG_VARIABLE} names {str(path)!r}, which is not a file")
    return path


def _variables() -> list[Field[Any]]:
    """The settings read from a variable (all but what `load` records about them)."""
    return [spec for spec in fields(Settings) if spec.metadata.get("env") is not None]


def _read_toml(path: Path) -> tuple[dict[str, str], tuple[Source, ...]]:
    """`heatwave.toml` uses the environment variable names as keys, e.g. `HEATWAVE_DB = "x.db"`, plus the
    `[[sources]]` tables.

    Each value must have the TOML type its setting declares: `HEATWAVE_DB = 5` is refused, not read as "5".
    """
    # Imported only when the file exists: every `heatwave` start would otherwise pay for the TOML parser.
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read settings file: {exc}") from None
    accepted = {spec.metadata["env"]: spec.metadata["toml"] for spec in _variables()}
    result: dict[str, str] = {}
    story_sources: tuple[Source, ...] = ()
    for key, value in data.items():
        if key == "sources":
            story_sources = parse_sources(value, str(path))
            continue
        name = key.upper()
        if name not in accepted:
            known = ", ".join([*sorted(accepted), "[[sources]]"])
            raise SettingsError(f"{path}: unknown setting {key!r}; known: {known}")
        types = accepted[name]
        # bool is an int in Python, but `true` is not a number of seconds.
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            expected = " or ".join(_TOML_TYPE_NAMES[t] for t in types)
            raise SettingsError(f"{path}: {key} must be {expected}, got {_toml_type_name(value)} {value!r}")
        result[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return result, story_sources


def _toml_type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


def _read_dotenv(path: Path) -> dict[str, str]:
    """`.env` as python-dotenv reads it: `#` comments (inline ones too), `export`, quotes, escapes.

    Unlike python-dotenv, a line it cannot parse (or a bare `KEY` without `=`) is an error naming the file and line,
    not a logged warning after which the setting silently keeps its default. `${VAR}` is not expanded: a value
    means what it says, and the settings never read the process environment behind the caller's back.
    """
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read settings file: {exc}") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and binding.value is None):
            # The line is not echoed: it may hold a secret such as the token.
            raise SettingsError(f"{path}:{binding.original.line}: expected KEY=VALUE")
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in values.items() if value is not None}
