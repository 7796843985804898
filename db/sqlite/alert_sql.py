"""SQL shared by the alert repositories (subscriptions, ledger): when a story qualifies for a subscription."""

# A story qualifies for subscription `s` when this holds (story aliased `st`). min_heat >= 0 (a CHECK in the
# schema) is what keeps heat -1 and unknown (NULL) out: NULL >= x is never true.
_QUALIFIES = (
    "st.heat >= s.min_heat"
    " AND (s.min_quality IS NULL OR st.quality >= s.min_quality)"
    " AND (s.topic_id IS NULL OR EXISTS (SELECT 1 FROM story_topics x WHERE x.story_id = st.id"
    " AND x.topic_id = s.topic_id))"
)

_GUILD_ACTIVE = "NOT EXISTS (SELECT 1 FROM alert_guild_pauses g WHERE g.guild_id = c.guild_id)"

_WITHDRAW = f"""
UPDATE alert_deliveries SET status = 'withdrawn'
WHERE status = 'queued' {{channel_filter}} AND NOT EXISTS (
    SELECT 1 FROM alert_subscriptions s JOIN stories st ON st.id = alert_deliveries.story_id
    WHERE s.channel_id = alert_deliveries.channel_id AND {_QUALIFIES}
)
"""

# After a subscription is removed, its channel's waiting rows it queued go to the first remaining subscription
# ("every topic" first) that still wants the story, so that subscription's /alerts list line counts them; a row
# no one wants keeps its owner and is withdrawn by _WITHDRAW. Claimed rows too: a failed send re-queues them.
_REASSIGN_ORPHANS = f"""
UPDATE alert_deliveries SET topic_key = coalesce((
    SELECT min(s.topic_key) FROM alert_subscriptions s JOIN stories st ON st.id = alert_deliveries.story_id
    WHERE s.channel_id = alert_deliveries.channel_id AND {_QUALIFIES}
), topic_key)
WHERE channel_id = ? AND status IN ('queued', 'claimed') AND NOT EXISTS (
    SELECT 1 FROM alert_subscriptions o WHERE o.channel_id = alert_deliveries.channel_id
    AND o.topic_key = alert_deliveries.topic_key
)
"""
