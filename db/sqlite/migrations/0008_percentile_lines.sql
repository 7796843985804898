-- 0008: topic-relative heat lines: `min_heat` may be a share of a topic's recent stories ("top10%") (digests issue).
-- Why this shape: topics differ in heat scale, so a subscription may keep the rule (`heat_percentile`: the line is
-- the heat above which that share of the topic's stories of the last 30 days lie) and the engine keeps turning it
-- into today's number in `min_heat`, which everything else (the enqueue, qualification, digests) already reads.
-- `line_at` and `line_basis` (when the number was computed, and over how many stories) let the bot recompute it at
-- least once a day, and sooner when the topic's 30-day set has grown or shrunk a lot. NULL: a plain number.
ALTER TABLE alert_subscriptions ADD COLUMN heat_percentile INTEGER CHECK (heat_percentile BETWEEN 1 AND 99);
ALTER TABLE alert_subscriptions ADD COLUMN line_at TEXT;
ALTER TABLE alert_subscriptions ADD COLUMN line_basis INTEGER;
ALTER TABLE digest_subscriptions ADD COLUMN heat_percentile INTEGER CHECK (heat_percentile BETWEEN 1 AND 99);
ALTER TABLE digest_subscriptions ADD COLUMN line_at TEXT;
ALTER TABLE digest_subscriptions ADD COLUMN line_basis INTEGER;
