-- 0015: one index on stories' heat instead of two.
-- Why: stories_heat (heat DESC NULLS LAST, id) and stories_hot_seen (the same keys, INCLUDE first_seen_at)
-- serve the same walks in the same order: the hottest stories (/trending's wide windows, a subscription's
-- backfill over every topic). Every heat change updated both, and copy-store built both.
DROP INDEX IF EXISTS stories_heat;
