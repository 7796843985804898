-- 0008: topic-relative heat lines ("top10%"): see db/sqlite/migrations/0007_percentile_lines.sql.
ALTER TABLE alert_subscriptions ADD COLUMN heat_percentile integer CHECK (heat_percentile BETWEEN 1 AND 99);
ALTER TABLE alert_subscriptions ADD COLUMN line_at timestamptz;
ALTER TABLE alert_subscriptions ADD COLUMN line_basis integer;
ALTER TABLE digest_subscriptions ADD COLUMN heat_percentile integer CHECK (heat_percentile BETWEEN 1 AND 99);
ALTER TABLE digest_subscriptions ADD COLUMN line_at timestamptz;
ALTER TABLE digest_subscriptions ADD COLUMN line_basis integer;
