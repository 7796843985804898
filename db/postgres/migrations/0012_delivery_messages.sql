-- 0012: find the stories one message carries (/why: "posted in a roll-up with 4 others").
-- Why: a summary message (while you were away, catch-up after a pause, roll-up) records every story it carries
-- with the same message id; /why names the summary a posted story went out in by finding the others. Only sent
-- rows have a message id, so the index stays as small as the channel's history of posts.
-- IF NOT EXISTS: a store put back to an older schema version (tests do) runs this again.
CREATE INDEX IF NOT EXISTS alert_deliveries_message ON alert_deliveries (channel_id, message_id)
    WHERE message_id IS NOT NULL;
