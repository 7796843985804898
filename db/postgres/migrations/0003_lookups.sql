-- 0003: indexes for the lookup commands (db/postgres/lookups.py, db/postgres/matches.py).
--
-- stories_id_brin: the newest matches of a full-text search. A word in a few thousand stories is too common to
-- read every match from the table (each read ~3-5 us at 1M stories, most of the table outside shared_buffers)
-- and too rare to find its newest matches by walking the newest stories (~1 us each). ANDing the GIN index's
-- bitmap with the page ranges that hold the newest ids reads only the matches among those: a BRIN index gives
-- those ranges for ~0.2 ms (a bitmap of the primary key's range cost ~0.15 us an id, 4.5 ms for 30k ids).
-- Stories are appended in id order, so page ranges follow ids; rows moved by updates widen ranges (BRIN results
-- are rechecked, never wrong), and once pg_stats says the order has blurred, windows are not used at all.
-- Ingest cost: next to nothing (one summary per 128 pages).
CREATE INDEX stories_id_brin ON stories USING brin (id);

-- title_search: titles-only full text (the /related story autocomplete, a title typed to /related). The
-- `search` index holds title and excerpt words alike, so every story with a typed word anywhere had to be read
-- from the table to see whether the word is in its title (weights are not in the index); titles hold about a
-- quarter of the words, so this index yields about a quarter of the stories, all of them matches. A stored
-- column rather than an expression index: PostgreSQL re-tests every row of a lossy bitmap page (a window's
-- BRIN ranges make them), and computing to_tsvector for each costs ~5 us where reading the column costs little.
-- Ingest cost: one more GIN index, about a third the size of `search`'s (31 MB against 101 MB at 1M stories),
-- and ~60 bytes a row. Adding the column rewrites `stories`; there are no PostgreSQL stores older than this.
ALTER TABLE stories ADD COLUMN title_search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, title_words)) STORED;
CREATE INDEX stories_title_search ON stories USING gin (title_search);

-- Two covering indexes for /trending.
-- Why: a narrow window (the last hours: up to a few thousand stories) is read whole and sorted by heat. At 1M
-- stories most of `stories` lives outside shared_buffers, so each story read from the table costs ~3-5 us,
-- against ~0.1 us for an index entry; with every column the read needs in one index it is an index-only scan.
-- * stories_first_seen gains id, so the window of all stories comes from the index alone.
-- * story_topics_seen gives one topic's stories by first-seen time: the window of a topic is one range of it,
--   where each story of the whole window had to be probed for the topic (~5 us each).
-- Ingest cost: story_topics gets a fifth index (one more entry per topic link); stories_first_seen only grows
-- by 8 bytes an entry.
DROP INDEX stories_first_seen;
CREATE INDEX stories_first_seen ON stories (first_seen_at, heat) INCLUDE (id);
CREATE INDEX story_topics_seen ON story_topics (topic_id, first_seen_at) INCLUDE (heat, story_id);
