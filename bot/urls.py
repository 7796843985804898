"""URL hygiene shared by ingest (story identity) and rendering (only http(s) links leave the bot)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_",)
_TRACKING_KEYS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "ocid", "cmpid"})


def is_http_url(value: object) -> bool:
    """True for an absolute http(s) URL with a host; everything else is refused."""
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value.strip()):
        return False
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for an out-of-range or non-numeric port
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme.lower() in ("http", "https") and bool(host.strip("."))


def safe_http_url(value: object) -> str | None:
    """The URL itself when it is http(s), else None (for links and images in embeds)."""
    return value.strip() if isinstance(value, str) and is_http_url(value) else None


def normalize_url(value: str) -> str:
    """Canonical form used as a story's identity.

    The same article reaches us with different casing of the host, a default port, a fragment, tracking
    parameters or a trailing slash; none of those make it a different story. Path case is kept: many
    servers treat it as significant.
    """
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www.") and len(host) > 4:
        host = host[4:]
    if ":" in host:  # IPv6 literal: keep the brackets so the port stays unambiguous
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query_pairs = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_KEYS
    ]
    query = urlencode(sorted(query_pairs))
    # http and https copies of one article are one story.
    return urlunsplit(("https" if scheme in ("http", "https") else scheme, netloc, path, query, ""))
