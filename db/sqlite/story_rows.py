"""Reading stories back as `StoryView`s: one column list for every repository (rows map through db.records)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

from db.models import StoryView
from db.records import story_view
from db.sqlite.timefmt import from_db

STORY_COLUMNS = (
    "s.id, s.url, s.link_url, s.title, s.excerpt, s.published_at, s.kind, s.provider_name, "
    "s.provider_domain, s.amp_url, s.image_url, s.heat, s.quality, s.first_seen_at"
)

# SQLite's default limit on host parameters is 32766 on 3.32+; stay well below it.
_CHUNK = 500


async def topics_for(conn: aiosqlite.Connection, story_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Display names of each story's topics, in the order the file listed them."""
    ids = list(dict.fromkeys(story_ids))
    result: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = (
            "SELECT st.story_id, t.name FROM story_topics st JOIN topics t ON t.id = st.topic_id "
            f"WHERE st.story_id IN ({marks}) ORDER BY st.story_id, st.position"
        )
        async with conn.execute(sql, chunk) as cursor:
            async for story_id, name in cursor:
                result[story_id].append(name)
    return {k: tuple(v) for k, v in result.items()}


async def fetch_stories(conn: aiosqlite.Connection, story_ids: Sequence[int]) -> list[StoryView]:
    """The stories with these ids, in the order given (missing ids are skipped)."""
    ids = list(dict.fromkeys(story_ids))
    rows: dict[int, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        async with conn.execute(f"SELECT {STORY_COLUMNS} FROM stories s WHERE s.id IN ({marks})", chunk) as cur:
            async for row in cur:
                rows[row["id"]] = row
    topics = await topics_for(conn, rows)
    return [story_view(rows[i], topics[i], from_db) for i in ids if i in rows]
