"""URL hygiene shared by ingest (story identity) and rendering (only http(s) links leave the bot)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_",)
_TRACKING_KEYS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "ocid", "cmpid"})


# The common shape of a link: http(s), an ASCII host name (not only dots) without user or port, no whitespace.
# Such a URL is an http(s) URL as it is, with no urlsplit (~5x cheaper; ingest checks 4-10 URLs per file).
_PLAIN_HTTP = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]*[A-Za-z0-9-][A-Za-z0-9.-]*(?:[/?#]\S*)?")
# The common shape of a story link: http(s), an ASCII host name without user or port, a path without query or
# fragment. Such a link normalises by plain string steps, the same ones as the general path below (~5x cheaper;
# ingest normalises 2-8 links per file).
_PLAIN_IDENTITY = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9.-]+)(/[^\s?#]*)?")
# str.isspace's whitespace (re's \s is the same Unicode property), found in C rather than one char at a time.
_HAS_SPACE = re.compile(r"\s")


def http_url(value: object) -> str | None:
    """The stripped URL when it is an absolute http(s) URL with a host and a valid port; None for anything else."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _PLAIN_HTTP.fullmatch(text):
        return text
    if not text or _HAS_SPACE.search(text):
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for an out-of-range or non-numeric port
    except ValueError:
        return None
    host = parts.hostname or ""
    return text if parts.scheme.lower() in ("http", "https") and host.strip(".") else None


def is_http_url(value: object) -> bool:
    """True for an absolute http(s) URL with a host; everything else is refused."""
    return http_url(value) is not None


def safe_http_url(value: object) -> str | None:
    """The URL itself when it is http(s), else None (for links and images in embeds)."""
    return http_url(value)


def normalize_url(value: str) -> str:
    """Canonical form used as a story's identity.

    The same article reaches us with different casing of the host, a default port, a fragment, tracking
    parameters or a trailing slash; none of those make it a different story. Path case is kept: many
    servers treat it as significant.
    """
    text = value.strip()
    plain = _PLAIN_IDENTITY.fullmatch(text)
    if plain is not None and (host := _host_key(plain[1])):
        # Nothing to split off (no user, port, query or fragment): the same steps as below, without urlsplit.
        return f"https://{host}{_path_key(plain[2] or '/')}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = _host_key(parts.hostname or "")
    if ":" in host:  # IPv6 literal: keep the brackets so the port stays unambiguous
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    path = _path_key(parts.path or "/")
    query_pairs = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_KEYS
    ]
    query = urlencode(sorted(query_pairs))
    # http and https copies of one article are one story.
    return urlunsplit(("https" if scheme in ("http", "https") else scheme, netloc, path, query, ""))


def _host_key(host: str) -> str:
    """Host case, a trailing dot and a leading `www.` never make a different story."""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") and len(host) > 4 else host


def _path_key(path: str) -> str:
    """Trailing slashes never make a different story (the path's case does)."""
    return (path.rstrip("/") or "/") if len(path) > 1 and path.endswith("/") else path
