"""Reading stories back as `StoryView`s on PostgreSQL: one statement per batch, topics included.

Each story's topic names come back as one array (in the order its file listed them), so a page of stories is
one round trip instead of one for the stories and one for their topics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from db.models import StoryView
from db.postgres.database import PgDatabase
from db.records import as_is, story_view

STORY_COLUMNS = (
    "s.id, s.url, s.link_url, s.title, s.excerpt, s.published_at, s.kind, s.provider_name, s.provider_domain, "
    "s.amp_url, s.image_url, s.heat, s.quality, s.first_seen_at, "
    "ARRAY(SELECT t.name FROM story_topics st JOIN topics t ON t.id = st.topic_id "
    "WHERE st.story_id = s.id ORDER BY st.position) AS topics"
)


def story_from_row(row: Mapping[str, Any]) -> StoryView:
    return story_view(row, tuple(row["topics"]), as_is)


async def fetch_stories(database: PgDatabase, story_ids: Sequence[int]) -> list[StoryView]:
    """The stories with these ids, in the order given (missing ids are skipped)."""
    ids = list(dict.fromkeys(story_ids))
    if not ids:
        return []
    rows = await database.all(f"SELECT {STORY_COLUMNS} FROM stories s WHERE s.id = ANY(%s::bigint[])", (ids,))
    found = {row["id"]: story_from_row(row) for row in rows}
    return [found[i] for i in ids if i in found]


async def fetch_story_where(database: PgDatabase, condition: str, params: Sequence[Any]) -> StoryView | None:
    """The one story matching `condition` (a constant SQL fragment over `s`), if any."""
    row = await database.one(f"SELECT {STORY_COLUMNS} FROM stories s WHERE {condition}", params)
    return None if row is None else story_from_row(row)
