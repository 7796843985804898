"""Reading stories back as `StoryView`s: one column list for every repository (rows map through db.records)."""

from __future__ import annotations

from collections.abc import Sequence
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


async def fetch_stories(conn: aiosqlite.Connection, story_ids: Sequence[int]) -> list[StoryView]:
    """The stories with these ids, in the order given (missing ids are skipped).

    One statement (one hop to the connection's thread) per chunk: a row per topic link, each story's topics in
    the order its file listed them, and one row with no topic for a story without any."""
    ids = list(dict.fromkeys(story_ids))
    rows: dict[int, Any] = {}
    topics: dict[int, list[str]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = (
            f"SELECT {STORY_COLUMNS}, t.name AS topic FROM stories s "
            "LEFT JOIN story_topics st ON st.story_id = s.id LEFT JOIN topics t ON t.id = st.topic_id "
            f"WHERE s.id IN ({marks}) ORDER BY s.id, st.position"
        )
        for row in await conn.execute_fetchall(sql, chunk):
            story_id = row["id"]
            rows.setdefault(story_id, row)
            names = topics.setdefault(story_id, [])
            if row["topic"] is not None:
                names.append(row["topic"])
    return [story_view(rows[i], tuple(topics[i]), from_db) for i in ids if i in rows]
