"""One typed settings object, loaded once: environment over `.env` over `heatwave.toml` over defaults.

This is the only module that reads the environment. A bad value fails fast with the variable's name and what
is expected, so a typo in a deployment is a one-line message, not a traceback at 3 a.m.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from db.location import StoreLocation, parse_location

DEFAULT_MAX_FILE_BYTES = 1024 * 1024


class SettingsError(ValueError):
    """A setting has a value the program cannot use."""


def _positive_int(minimum: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise SettingsError(f"{name} must be a whole number >= {minimum}, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be a whole number >= {minimum}, got {raw!r}")
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


def _log_level(name: str, raw: str) -> str:
    text = str(raw).strip().upper()
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"{name} must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {raw!r}")
    return text


def _setting(env: str, parse: Callable[[str, str], Any], default: Any, *, secret: bool = False) -> Any:
    return field(default=default, repr=not secret, metadata={"env": env, "parse": parse})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable about Heatwave. Field metadata names the environment variable."""

    store: StoreLocation = _setting("HEATWAVE_DB", _store_location, parse_location("data/heatwave.db"))
    news_dir: Path = _setting("HEATWAVE_NEWS_DIR", _path, Path("seeds"))
    scan_seconds: int = _setting("HEATWAVE_SCAN_SECONDS", _positive_int(1), 60)
    post_seconds: int = _setting("HEATWAVE_POST_SECONDS", _positive_int(1), 60)
    max_posts_per_tick: int = _setting("HEATWAVE_MAX_POSTS_PER_TICK", _positive_int(1), 5)
    max_file_bytes: int = _setting("HEATWAVE_MAX_FILE_BYTES", _positive_int(1), DEFAULT_MAX_FILE_BYTES)
    log_level: str = _setting("HEATWAVE_LOG_LEVEL", _log_level, "INFO")
    discord_token: str | None = _setting("DISCORD_TOKEN", _optional_secret, None, secret=True)
    discord_api_base: str | None = _setting("DISCORD_API_BASE", _optional_url(("http", "https")), None)
    discord_gateway_url: str | None = _setting("DISCORD_GATEWAY_URL", _optional_url(("ws", "wss")), None)
    discord_guild_id: int | None = _setting("DISCORD_GUILD_ID", _optional_snowflake, None)

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: Path | None = Path(".env"),
        toml_file: Path | None = Path("heatwave.toml"),
    ) -> Settings:
        """Read every source once and validate; raises SettingsError naming the bad variable."""
        sources: dict[str, str] = {}
        if toml_file is not None and toml_file.is_file():
            sources.update(_read_toml(toml_file))
        if env_file is not None and env_file.is_file():
            sources.update(_read_dotenv(env_file))
        sources.update(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for spec in fields(cls):
            env_name = spec.metadata["env"]
            if env_name in sources:
                values[spec.name] = spec.metadata["parse"](env_name, sources[env_name])
        return cls(**values)


def _read_toml(path: Path) -> dict[str, str]:
    """`heatwave.toml` uses the environment variable names as keys, e.g. `HEATWAVE_DB = "x.db"`."""
    # Imported only when the file exists: every `heatwave` start would otherwise pay for the TOML parser.
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read settings file: {exc}") from None
    known = {spec.metadata["env"] for spec in fields(Settings)}
    result: dict[str, str] = {}
    for key, value in data.items():
        name = key.upper()
        if name not in known:
            raise SettingsError(f"{path}: unknown setting {key!r}; known: {', '.join(sorted(known))}")
        result[name] = str(value)
    return result


def _read_dotenv(path: Path) -> dict[str, str]:
    """A minimal `.env`: KEY=VALUE lines, `#` comments, optional `export` and surrounding quotes."""
    result: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read settings file: {exc}") from None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        text = text.removeprefix("export ").strip()
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        result[key.strip()] = value
    return result
