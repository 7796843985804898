"""Where the store lives: `HEATWAVE_DB` is a file path (SQLite) or a `postgresql://` URL (PostgreSQL).

The location is parsed once, here, and passed around as an opaque value: code outside `db/` shows it with
`str()` (which masks any password) and hands it back to `db` to open a store, never asking which engine it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

Engine = Literal["sqlite", "postgres"]

_PG_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A parsed `HEATWAVE_DB`. `str()` is safe to print: a PostgreSQL password shows as `***`."""

    engine: Engine
    path: Path | None = None  # SQLite: the database file
    url: str | None = field(default=None, repr=False)  # PostgreSQL: the full URL, password included

    def __str__(self) -> str:
        if self.engine == "sqlite":
            return str(self.path)
        assert self.url is not None
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"StoreLocation({self})"

    @property
    def password(self) -> str | None:
        """The PostgreSQL password (in the authority or a `password=` parameter), for redaction; else None."""
        if self.url is None:
            return None
        try:
            parts = urlsplit(self.url)
        except ValueError:
            return None
        for item in parts.query.split("&"):
            key, _, value = item.partition("=")
            if key.lower() == "password" and value:
                return unquote(value)
        return unquote(parts.password) if parts.password else None


def parse_location(text: str | Path) -> StoreLocation:
    """A file path or a PostgreSQL URL; raises ValueError with a message that never contains the password."""
    if isinstance(text, Path):
        return StoreLocation("sqlite", path=text.expanduser())
    raw = text.strip()
    if not raw:
        raise ValueError("must be a file path or a postgresql://user:password@host:port/dbname URL, got nothing")
    scheme, sep, _rest = raw.partition("://")
    if not sep:
        return StoreLocation("sqlite", path=Path(raw).expanduser())
    if scheme.lower() in ("sqlite", "file"):
        path = raw[len(scheme) + 3 :]
        if not path:
            raise ValueError("a sqlite:// location needs a file path after the scheme")
        return StoreLocation("sqlite", path=Path(path).expanduser())
    if scheme.lower() not in _PG_SCHEMES:
        raise ValueError(
            f"must be a file path or a postgresql:// URL; the scheme {scheme!r} is not supported "
            f"(in {mask_url(raw)})"
        )
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"is not a valid PostgreSQL URL: {mask_url(raw)}") from None
    if not parts.hostname and "host=" not in parts.query:
        raise ValueError(f"a PostgreSQL URL needs a host: {mask_url(raw)}")
    if not parts.path.strip("/"):
        raise ValueError(f"a PostgreSQL URL needs a database name after the host: {mask_url(raw)}")
    return StoreLocation("postgres", url=raw)


def mask_url(url: str) -> str:
    """The URL with any password (in the authority or a `password=` query parameter) replaced by `***`."""
    try:
        parts: SplitResult = urlsplit(url)
    except ValueError:
        return "<an unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if colon else f"{user}@{hostport}"
    query = "&".join(
        "password=***" if item.split("=", 1)[0].lower() == "password" else item
        for item in parts.query.split("&")
        if item
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
