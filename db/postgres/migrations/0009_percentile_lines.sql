-- 0009: topic-relative heat lines ("top10%"): see db/sqlite/migrations/0008_percentile_lines.sql.
-- IF NOT EXISTS throughout, as in 0007.
ALTER TABLE alert_subscriptions ADD COLUMN IF NOT EXISTS heat_percentile integer CHECK (heat_percentile BETWEEN 1 AND 99);
ALTER TABLE alert_subscriptions ADD COLUMN IF NOT EXISTS line_at timestamptz;
ALTER TABLE alert_subscriptions ADD COLUMN IF NOT EXISTS line_basis integer;
ALTER TABLE digest_subscriptions ADD COLUMN IF NOT EXISTS heat_percentile integer CHECK (heat_percentile BETWEEN 1 AND 99);
ALTER TABLE digest_subscriptions ADD COLUMN IF NOT EXISTS line_at timestamptz;
ALTER TABLE digest_subscriptions ADD COLUMN IF NOT EXISTS line_basis integer;
