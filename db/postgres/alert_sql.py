"""SQL shared by the alert repositories (subscriptions, ledger): when a story qualifies for a subscription.

The same rules as db/sqlite/alert_sql.py. Only `%(name)s` placeholders appear in these fragments, so every
statement that uses one binds its values by name.
"""

from __future__ import annotations

from db.postgres.database import AsyncConn

# A story qualifies for subscription `s` when this holds (story aliased `st`). min_heat >= 0 (a CHECK in the
# schema) is what keeps heat -1 and unknown (NULL) out: NULL >= x is never true.
QUALIFIES = (
    "st.heat >= s.min_heat"
    " AND (s.min_quality IS NULL OR st.quality >= s.min_quality)"
    " AND (s.topic_id IS NULL OR EXISTS (SELECT 1 FROM story_topics x WHERE x.story_id = st.id"
    " AND x.topic_id = s.topic_id))"
)

GUILD_ACTIVE = "NOT EXISTS (SELECT 1 FROM alert_guild_pauses g WHERE g.guild_id = c.guild_id)"

# After a subscription is removed, its channel's waiting rows it queued go to the first remaining subscription
# ("every topic" first) that still wants the story, so that subscription's /alerts list line counts them; a row
# no one wants keeps its owner and is withdrawn by WITHDRAW_UNWANTED. Claimed rows too: a failed send re-queues
# them.
REASSIGN_ORPHANS = f"""
UPDATE alert_deliveries SET topic_key = coalesce((
    SELECT min(s.topic_key) FROM alert_subscriptions s JOIN stories st ON st.id = alert_deliveries.story_id
    WHERE s.channel_id = alert_deliveries.channel_id AND {QUALIFIES}
), topic_key)
WHERE channel_id = %(channel)s AND status IN ('queued', 'claimed') AND NOT EXISTS (
    SELECT 1 FROM alert_subscriptions o WHERE o.channel_id = alert_deliveries.channel_id
    AND o.topic_key = alert_deliveries.topic_key
)
"""

# Queued rows of one channel that no subscription of the channel wants any more leave the queue.
WITHDRAW_UNWANTED = f"""
UPDATE alert_deliveries SET status = 'withdrawn'
WHERE status = 'queued' AND channel_id = %(channel)s AND NOT EXISTS (
    SELECT 1 FROM alert_subscriptions s JOIN stories st ON st.id = alert_deliveries.story_id
    WHERE s.channel_id = alert_deliveries.channel_id AND {QUALIFIES}
)
"""


async def backfill_query(conn: AsyncConn, subscription_id: int, limit: int) -> tuple[str, dict[str, object]] | None:
    """The statement and values selecting what backfill would queue for this subscription (None when the
    subscription is gone): see `backfill_select`."""
    cur = await conn.execute(
        "SELECT channel_id, topic_id, topic_key, min_heat, min_quality FROM alert_subscriptions WHERE id = %s",
        (subscription_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    params: dict[str, object] = {
        "channel": row["channel_id"],
        "topic": row["topic_id"],
        "topic_key": row["topic_key"],
        "min_heat": row["min_heat"],
        "min_quality": row["min_quality"],
        "limit": limit,
    }
    return backfill_select(topic=row["topic_id"] is not None, quality=row["min_quality"] is not None), params


def backfill_select(*, topic: bool, quality: bool) -> str:
    """Ids (and heat) of the hottest stories that qualify for one subscription now and its channel never had,
    hottest first; binds %(channel)s, %(topic)s, %(min_heat)s, %(min_quality)s and %(limit)s.

    The subscription's values are bound as constants (the caller reads its row first) instead of joined in,
    so the planner sees the topic and threshold and walks the right index in heat order, stopping after
    `limit` rows: stories_hot_seen for "every topic", story_topics_hot (its copy of the heat) for one topic.
    """
    quality_filter = " AND st.quality >= %(min_quality)s" if quality else ""
    never_had = (
        " AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.story_id = st.id AND d.channel_id = %(channel)s)"
    )
    if not topic:
        return (
            "SELECT st.id, st.heat FROM stories st WHERE st.heat >= %(min_heat)s"
            f"{quality_filter}{never_had} ORDER BY st.heat DESC NULLS LAST, st.id LIMIT %(limit)s"
        )
    return (
        "SELECT st.id, st.heat FROM story_topics x JOIN stories st ON st.id = x.story_id"
        " WHERE x.topic_id = %(topic)s AND x.heat >= %(min_heat)s AND st.heat >= %(min_heat)s"
        f"{quality_filter}{never_had} ORDER BY x.heat DESC NULLS LAST, x.story_id LIMIT %(limit)s"
    )
