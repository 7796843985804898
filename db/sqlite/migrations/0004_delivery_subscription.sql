-- 0004: a delivery remembers which subscription of its channel queued it, and whether a backfill did.
-- Why: a channel's queue is one list (a story posts once per channel however many of its subscriptions want it),
-- but /alerts list shows a line per subscription, and each line showed the whole channel's queue: three stories
-- queued by the AI subscription's backfill appeared as "3 queued" on the every-topic line too. The ledger did not
-- know who queued a row, so no query could tell. (channel_id, topic_key) is the subscription's own key: it
-- survives a subscription removed and added again, where an id would not (the ledger outlives subscriptions).
-- * topic_key: set whenever a row is queued (by a crossing, a backfill, or a revival); rows finished before this
--   migration keep NULL, as only waiting rows are ever counted or shown. A subscription removed while others
--   remain hands its waiting rows to one that still wants them (db/*/subscriptions.py `remove`).
-- * queued_by: 'crossing' when the story's heat crossed the subscription's line, 'backfill' when /alerts add's
--   backfill queued it; NULL for rows queued before this migration (which it was is not known). Text, not a
--   flag: it reads the same on both engines and in `heatwave copy-store`.
ALTER TABLE alert_deliveries ADD COLUMN topic_key INTEGER;
ALTER TABLE alert_deliveries ADD COLUMN queued_by TEXT CHECK (queued_by IN ('crossing', 'backfill'));

-- Rows waiting now: the first subscription of their channel ("every topic" first) the story still qualifies for,
-- else the channel's first subscription (whoever queued it then, its channel still posts it).
UPDATE alert_deliveries SET topic_key = coalesce(
    (SELECT min(s.topic_key) FROM alert_subscriptions s JOIN stories st ON st.id = alert_deliveries.story_id
     WHERE s.channel_id = alert_deliveries.channel_id
       AND st.heat >= s.min_heat
       AND (s.min_quality IS NULL OR st.quality >= s.min_quality)
       AND (s.topic_id IS NULL OR EXISTS (SELECT 1 FROM story_topics x WHERE x.story_id = st.id
                                          AND x.topic_id = s.topic_id))),
    (SELECT min(s.topic_key) FROM alert_subscriptions s WHERE s.channel_id = alert_deliveries.channel_id)
)
WHERE status IN ('queued', 'claimed');
