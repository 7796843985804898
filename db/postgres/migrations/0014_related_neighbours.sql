-- 0014: /related's topic neighbours come from an index alone.
-- Why: /related takes, on each of a story's rarer topics, the stories published just before and after it
-- (db/postgres/lookups.py), and needs each one's heat to leave out suppressed stories. story_topics_new gave
-- the story ids, and the heat was read from the table: one scattered heap read per link (~70 a lookup), about
-- half of /related's time at 1M stories. With heat in the index the walk is index-only. The same index serves
-- /topic's newest-first pages, which it still orders. Ingest cost: 8 bytes more per index entry; a heat change
-- already rewrites each link's row, and now moves its entry in this index too.
-- IF EXISTS / IF NOT EXISTS: a store put back to an older schema version (tests do) runs this again.
DROP INDEX IF EXISTS story_topics_new;
CREATE INDEX IF NOT EXISTS story_topics_new ON story_topics (topic_id, published_at DESC, story_id DESC)
    INCLUDE (heat);
