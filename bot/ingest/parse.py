"""One story file (bytes) -> a validated `StoryRecord`, or a `StoryRejected` whose reason a person understands.

This is the only place that knows the front-matter format (see ../shared/corpus-schema.md). Everything is
validated and cleaned here, once, so the store and the bot only ever see typed, tidy values.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from bot.ingest.yaml_loader import FrontMatterLoader
from bot.urls import http_url, normalize_url
from db.ingest_rows import iso_utc
from db.models import RelatedRecord, StoryRecord
from db.text import topic_key

# The front matter is the first block fenced by `---` lines (the rule python-frontmatter applies, which also
# tolerates blank lines before the opening fence). Trailing spaces and CRLF line endings are allowed. The fences
# are found here rather than by `frontmatter.loads` so that a missing or unclosed block gets its own reason;
# the YAML itself is read by python-frontmatter's handler, with `FrontMatterLoader` (libyaml's safe loader with
# cheaper constructors: bot/ingest/yaml_loader.py).
_OPENING = re.compile(r"\A\s*---[ \t]*\r?\n")
# The first read asks for the stat'ed size plus one byte; later reads (a file that grew) go in chunks this big,
# so a read never allocates a buffer of the whole size limit.
_READ_CHUNK = 64 * 1024

KINDS = frozenset({"article", "video"})
# The publisher's scores: 0..189 in the corpus, heat -1 marks a suppressed story. The upper bound leaves room for
# a scale that grows and still fits every engine's integer column (a huge value is a broken file, not news).
HEAT_RANGE = (-1, 10_000)
QUALITY_RANGE = (0, 10_000)
_RELATED_FIELDS = tuple(spec.name for spec in fields(RelatedRecord))
# Every StoryRecord field but the hash itself, so a field added to the record is hashed without a change here.
_HASHED_FIELDS = tuple(spec.name for spec in fields(StoryRecord) if spec.name != "content_hash")
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_YAML = YAMLHandler()


class StoryRejected(Exception):
    """A file that cannot become a story; `reason` is written for the person who maintains the news folder."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_story_file(path: Path | str, *, size: int, max_file_bytes: int) -> StoryRecord:
    """Parse one file whose size was already taken by `stat`, refusing oversized files before reading them."""
    if size > max_file_bytes:
        raise StoryRejected(f"file is {_human_bytes(size)}, over the {_human_bytes(max_file_bytes)} size limit")
    try:
        data = _read_at_most(path, size, max_file_bytes + 1)
    except OSError as exc:
        raise StoryRejected(f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > max_file_bytes:
        raise StoryRejected(f"file is over the {_human_bytes(max_file_bytes)} size limit")
    return parse_story(data)


def _read_at_most(path: Path | str, size: int, limit: int) -> bytes:
    """The file's bytes up to EOF or `limit`, whichever comes first.

    os.read rather than open(): a buffered file object costs ~4x more per small file, and `read(limit)`
    allocates a limit-sized buffer every time. The file may have grown since the stat, so reading goes on to EOF.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        total = 0
        want = min(size + 1, limit)
        while total < limit:
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            want = min(limit - total, _READ_CHUNK)
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_story(data: bytes) -> StoryRecord:
    """Validate and clean one file's bytes; raises StoryRejected with a readable reason."""
    if b"\x00" in data:
        raise StoryRejected("not a text file (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoryRejected(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    text = text.removeprefix("\ufeff")
    start, end = _front_matter_span(text)
    try:
        meta = _YAML.load(text[start:end], Loader=FrontMatterLoader)
    except yaml.MarkedYAMLError as exc:
        raise StoryRejected(_yaml_reason(exc, first_line=text.count("\n", 0, start) + 1)) from None
    except yaml.YAMLError as exc:
        raise StoryRejected(f"YAML syntax error: {exc}") from None
    except (ValueError, OverflowError) as exc:
        # A typed scalar that cannot be built (`!!int "ten"`, a timestamp past year 9999, ...).
        raise StoryRejected(f"front matter holds a value that cannot be read: {exc}") from None
    if meta is None:
        raise StoryRejected("front matter is empty")
    if not isinstance(meta, dict):
        raise StoryRejected(f"front matter is not a set of `key: value` lines (it is {_describe(meta)})")
    return story_from_mapping(meta)


def _front_matter_span(text: str) -> tuple[int, int]:
    """Where the YAML between the fences starts and ends (str.find, not a regex: ~10x cheaper per file)."""
    opening = _OPENING.match(text)
    if opening is None:
        raise StoryRejected("no front matter: the file must start with a `---` line")
    start = position = opening.end()
    while True:
        if text.startswith("---", position):
            line_end = text.find("\n", position)
            if not text[position + 3 : None if line_end == -1 else line_end].strip(" \t\r"):
                return start, position
        found = text.find("\n---", position)
        if found == -1:
            raise StoryRejected("front matter is not closed: no `---` line after the opening `---`")
        position = found + 1


def story_from_mapping(meta: Mapping[Any, Any]) -> StoryRecord:
    """Build the record from already-loaded front matter (unknown keys are ignored)."""
    title = _required_text(meta, "title")
    excerpt = _optional_text(meta, "excerpt") or ""
    link_url = _story_url(meta)
    published_at = _published_at(meta.get("publishedDateTime"), field="publishedDateTime")
    provider_name, provider_domain = _provider(meta.get("provider"))
    kind_value = meta.get("type")
    kind = kind_value.strip().lower() if isinstance(kind_value, str) else ""
    record_fields: dict[str, Any] = {
        "url": normalize_url(link_url),
        "link_url": link_url,
        "title": title,
        "excerpt": excerpt,
        "published_at": published_at,
        # The schema only knows these two; anything else is shown as an article rather than refused.
        "kind": kind if kind in KINDS else "article",
        "provider_name": provider_name,
        "provider_domain": provider_domain,
        "amp_url": http_url(meta.get("ampWebUrl")),
        "image_url": _first_image(meta.get("images")),
        "heat": _optional_int(meta, "heat", HEAT_RANGE),
        "quality": _optional_int(meta, "quality", QUALITY_RANGE),
        "topics": _topics(meta.get("topics")),
        "related": _related(meta.get("related")),
    }
    return StoryRecord(**record_fields, content_hash=_content_hash(record_fields))


def clean_text(value: str) -> str:
    """HTML entities unescaped, CR/LF and whitespace runs collapsed to one space, ends stripped."""
    if "&" in value:
        value = html.unescape(value)
    # str.split() splits on exactly the characters regex `\s` matches, drops the ends, and is ~4x cheaper.
    return " ".join(value.split())


def _yaml_reason(exc: yaml.MarkedYAMLError, *, first_line: int) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if mark is None:
        return f"YAML syntax error: {problem}"
    # The mark counts from the start of the YAML block; people count lines from the top of the file.
    return f"YAML syntax error on line {mark.line + first_line}, column {mark.column + 1}: {problem}"


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int):
        return f"a number ({value})"
    if isinstance(value, float):
        return f"a decimal number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"text ({shown!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime | date):
        return f"a date ({value.isoformat()})"
    if value is None:
        return "empty"
    return type(value).__name__


def _required_text(meta: Mapping[Any, Any], key: str) -> str:
    if key not in meta or meta[key] is None:
        raise StoryRejected(f"missing {key}")
    value = meta[key]
    if not isinstance(value, str):
        raise StoryRejected(f"{key} must be text, got {_describe(value)}")
    cleaned = clean_text(value)
    if not cleaned:
        raise StoryRejected(f"{key} is empty")
    return cleaned


def _optional_text(meta: Mapping[Any, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise StoryRejected(f"{key} must be text, got {_describe(value)}")
    return clean_text(value)


def _optional_int(meta: Mapping[Any, Any], key: str, bounds: tuple[int, int]) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    # bool is a subclass of int in Python; `heat: true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise StoryRejected(f"{key} must be a whole number, got {_describe(value)}")
    low, high = bounds
    if not low <= value <= high:
        raise StoryRejected(f"{key} must be a whole number from {low} to {high}, got {_shown_number(value)}")
    return value


def _in_range(value: object, bounds: tuple[int, int]) -> int | None:
    """A whole number within bounds, else None (for values whose loss costs nothing but the value)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if bounds[0] <= value <= bounds[1] else None


def _shown_number(value: int) -> str:
    """The number, shortened: a 300-digit value in a reason would drown the report."""
    if value.bit_length() > 1000:  # str() of a huge int is slow (and refused past 4,300 digits)
        return f"{'-' if value < 0 else ''}a number of over 300 digits"
    text = str(value)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text.lstrip('-'))} digits)"


def _story_url(meta: Mapping[Any, Any]) -> str:
    # webUrl is the identity when present (the publisher's API shows webUrl != originalUrl on some items).
    for key in ("webUrl", "originalUrl"):
        url = http_url(meta.get(key))
        if url is not None:
            return url
    present = [f"{key} {_describe(meta[key])}" for key in ("webUrl", "originalUrl") if meta.get(key) is not None]
    if present:
        raise StoryRejected(f"no http(s) URL: {' and '.join(present)}, not an http(s) link")
    raise StoryRejected("no http(s) URL: webUrl and originalUrl are both missing")


def _published_at(value: object, *, field: str) -> datetime:
    if value is None:
        raise StoryRejected(f"missing {field}")
    parsed = _as_datetime(value)
    if parsed is None:
        raise StoryRejected(f"{field} must be a date and time like 2021-03-31T07:00:00Z, got {_describe(value)}")
    return parsed


def _as_datetime(value: object) -> datetime | None:
    """Aware UTC datetime from what YAML gives (datetime, date) or an ISO-8601 string; None when unusable."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" and text else text)
        except ValueError:
            try:
                value = date.fromisoformat(text)
            except ValueError:
                return None
    if isinstance(value, datetime):
        # A timestamp without a zone is taken as UTC: that is what every source in the corpus publishes.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    return None


def _provider(value: object) -> tuple[str | None, str | None]:
    if not isinstance(value, dict):
        return None, None
    name, domain = value.get("name"), value.get("domain")
    clean_name = clean_text(name) if isinstance(name, str) else ""
    clean_domain = clean_text(domain).lower() if isinstance(domain, str) else ""
    return clean_name or None, clean_domain or None


def _first_image(value: object) -> str | None:
    if not isinstance(value, list):
        return None
    for image in value:
        if isinstance(image, dict):
            url = http_url(image.get("url"))
            if url is not None:
                return url
    return None


def _topics(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise StoryRejected(f"topics must be a list of names, got {_describe(value)}")
    seen: dict[str, str] = {}
    for item in value:
        name = clean_text(item)
        # "AI" and "ai" are one topic; the first spelling in the file is the one shown.
        if name and topic_key(name) not in seen:
            seen[topic_key(name)] = name
    return tuple(seen.values())


def _related(value: object) -> tuple[RelatedRecord, ...]:
    # A broken related entry costs the reader one suggestion; it is no reason to lose the story itself.
    if not isinstance(value, list):
        return ()
    entries: list[RelatedRecord] = []
    for item in value:
        if not isinstance(item, dict):
            continue
        link = http_url(item.get("webUrl")) or http_url(item.get("originalUrl"))
        raw_title = item.get("title")
        title = clean_text(raw_title) if isinstance(raw_title, str) else ""
        if link is None or not title:
            continue
        raw_excerpt = item.get("excerpt")
        provider_name, provider_domain = _provider(item.get("provider"))
        entries.append(
            RelatedRecord(
                url=normalize_url(link),
                link_url=link,
                title=title,
                excerpt=clean_text(raw_excerpt) if isinstance(raw_excerpt, str) else "",
                published_at=_as_datetime(item.get("publishedDateTime")),
                provider_name=provider_name,
                provider_domain=provider_domain,
                quality=_in_range(item.get("quality"), QUALITY_RANGE),
                image_url=_first_image(item.get("images")),
            )
        )
    return tuple(entries)


def _content_hash(record_fields: Mapping[str, Any]) -> str:
    """Stable over every stored field (and only those): `secured`, key order and line endings never count."""
    payload = []
    for name in _HASHED_FIELDS:
        value = record_fields[name]
        if name == "published_at":
            value = iso_utc(value)
        elif name == "related":
            value = [
                [
                    *(getattr(entry, field) for field in _RELATED_FIELDS if field != "published_at"),
                    None if entry.published_at is None else iso_utc(entry.published_at),
                ]
                for entry in value
            ]
        payload.append(value)
    return hashlib.blake2b(_JSON.encode(payload).encode("utf-8"), digest_size=16).hexdigest()


def _human_bytes(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} bytes"


__all__ = [
    "HEAT_RANGE",
    "KINDS",
    "QUALITY_RANGE",
    "StoryRejected",
    "clean_text",
    "parse_story",
    "read_story_file",
    "story_from_mapping",
]
