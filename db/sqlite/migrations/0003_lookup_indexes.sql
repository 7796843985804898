-- 0003: a title-only full-text index with prefix indexes (bot issue, lookups).
-- Why: the /related `story` autocomplete matches titles while the user types, so its last word is a prefix.
-- On stories_fts (title + excerpt, no prefix index) a prefix query merges the doclists of every term that
-- starts with those letters: "a"* took 170 ms and "mi"* 12 ms with 1M stories, against Discord's 3 s deadline
-- for *every keystroke* and our 10 ms budget. A title-only table is ~5x smaller per term, and prefix='1 2 3'
-- stores the merged doclists for 1-3 letter prefixes ahead of time, so "mi"* is one doclist read (~0.2 ms).
-- It is an external-content table over `stories` (no second copy of the titles), kept in step by triggers
-- exactly like stories_fts, and filled from existing rows below.

CREATE VIRTUAL TABLE titles_fts USING fts5 (
    title,
    content = 'stories', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3'
);
CREATE TRIGGER titles_fts_insert AFTER INSERT ON stories BEGIN
    INSERT INTO titles_fts (rowid, title) VALUES (NEW.id, NEW.title);
END;
CREATE TRIGGER titles_fts_delete AFTER DELETE ON stories BEGIN
    INSERT INTO titles_fts (titles_fts, rowid, title) VALUES ('delete', OLD.id, OLD.title);
END;
CREATE TRIGGER titles_fts_update AFTER UPDATE OF title ON stories BEGIN
    INSERT INTO titles_fts (titles_fts, rowid, title) VALUES ('delete', OLD.id, OLD.title);
    INSERT INTO titles_fts (rowid, title) VALUES (NEW.id, NEW.title);
END;
INSERT INTO titles_fts (titles_fts) VALUES ('rebuild');

-- Why story_topics gets copies of its story's sort keys: "/topic AI" (hottest or newest first) and
-- "/trending topic:AI" read one topic's stories in heat or date order. With those keys only on `stories`, a
-- topic of 300k stories had to be sorted whole, or the global heat index walked while checking each row's
-- topics (100+ ms either way for some topic/window mixes at 1M stories). Copied here, each of those lookups
-- is one walk down a covering index that stops after a page. Triggers keep the copies exact: a story_topics
-- row takes its story's values when inserted, and follows every change of them.
ALTER TABLE story_topics ADD COLUMN heat INTEGER;
ALTER TABLE story_topics ADD COLUMN published_at TEXT;
ALTER TABLE story_topics ADD COLUMN first_seen_at TEXT;
UPDATE story_topics SET (heat, published_at, first_seen_at) =
    (SELECT s.heat, s.published_at, s.first_seen_at FROM stories s WHERE s.id = story_topics.story_id);
CREATE TRIGGER story_topics_sort_keys AFTER INSERT ON story_topics BEGIN
    UPDATE story_topics SET (heat, published_at, first_seen_at) =
        (SELECT s.heat, s.published_at, s.first_seen_at FROM stories s WHERE s.id = NEW.story_id)
    WHERE story_id = NEW.story_id AND topic_id = NEW.topic_id;
END;
CREATE TRIGGER stories_sort_keys AFTER UPDATE OF heat, published_at, first_seen_at ON stories BEGIN
    UPDATE story_topics SET heat = NEW.heat, published_at = NEW.published_at, first_seen_at = NEW.first_seen_at
    WHERE story_id = NEW.id;
END;
CREATE INDEX story_topics_hot ON story_topics (topic_id, heat DESC, story_id, first_seen_at);
CREATE INDEX story_topics_new ON story_topics (topic_id, published_at DESC, story_id DESC);

-- /trending without a topic walks stories from the hottest down and stops at a page; with first_seen_at in
-- the index, checking the time window never reads the table row.
CREATE INDEX stories_hot_seen ON stories (heat DESC, id, first_seen_at);
