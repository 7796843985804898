"""Writing story files shaped like the corpus, for the ingest tests."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import yaml

# Old enough that the pipeline trusts size + mtime (files changed in the last seconds are always re-read).
AGE_SECONDS = 3_600

BASE: dict[str, Any] = {
    "category": "news",
    "title": "Solar farm doubles output with AI-guided panels",
    "excerpt": "Engineers say the new tracking model pays for itself in a year.",
    "publishedDateTime": "2021-03-31T07:00:00Z",
    "originalUrl": "https://news.example.com/solar-farm",
    "webUrl": "https://news.example.com/solar-farm",
    "type": "article",
    "quality": 84,
    "heat": 94,
    "published": True,
    "provider": {"name": "Example News", "domain": "example.com"},
    "topics": ["AI", "Energy"],
    "images": [{"url": "https://img.example.com/solar.jpg", "width": 1200, "height": 630, "isCached": True}],
    "secured": "c2VjcmV0;c2VjcmV0",
}

# Pass as a field value to leave the key out of the file.
DROP: Any = object()


def story_text(*, crlf: bool = False, **fields: Any) -> str:
    """Front matter like the corpus: BASE with overrides; pass a field as DROP to leave it out."""
    meta = {**BASE, **fields}
    meta = {key: value for key, value in meta.items() if value is not DROP}
    body = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=10_000)
    # The corpus writes publishedDateTime unquoted so YAML reads it as a timestamp.
    body = body.replace("publishedDateTime: '", "publishedDateTime: ").replace("Z'\n", "Z\n")
    text = f"---\n{body}---\n\n"
    return text.replace("\n", "\r\n") if crlf else text


def write_story(path: Path, *, age: bool = True, crlf: bool = False, **fields: Any) -> Path:
    """Write one story file (mtime in the past by default, as files in a news folder usually are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(story_text(crlf=crlf, **fields).encode("utf-8"))
    if age:
        set_age(path)
    return path


def write_raw(path: Path, data: bytes, *, age: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age:
        set_age(path)
    return path


def set_age(path: Path, seconds: float = AGE_SECONDS) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))
