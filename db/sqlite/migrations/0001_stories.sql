-- 0001: the story store (foundation issue).
-- Why this shape: a story's identity is its canonical URL (files are renamed, re-used and duplicated, and
-- their bytes churn daily), topics are shared case-insensitively, related entries keep URLs we may never
-- have, and heat history is the event stream the alert engine reads to see a story cross a threshold.

CREATE TABLE stories (
    id              INTEGER PRIMARY KEY,
    url             TEXT    NOT NULL UNIQUE,           -- normalised webUrl, else originalUrl
    title           TEXT    NOT NULL,
    excerpt         TEXT    NOT NULL,
    published_at    TEXT    NOT NULL,                  -- ISO-8601 UTC
    kind            TEXT    NOT NULL,                  -- article | video
    provider_name   TEXT,
    provider_domain TEXT,
    link_url        TEXT    NOT NULL,                  -- the URL as published (what a reader clicks)
    amp_url         TEXT,
    image_url       TEXT,
    heat            INTEGER,                           -- NULL = unknown; -1 = suppressed
    quality         INTEGER,
    content_hash    TEXT    NOT NULL,                  -- of the parsed fields; `secured` is excluded
    source_path     TEXT    NOT NULL,                  -- the file whose version won
    first_seen_at   TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX stories_heat ON stories (heat DESC, id);
CREATE INDEX stories_first_seen ON stories (first_seen_at, heat);
CREATE INDEX stories_published ON stories (published_at);

CREATE TABLE topics (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,               -- casefolded name: 'ai' for 'AI'
    name        TEXT    NOT NULL,                      -- display name as first seen
    story_count INTEGER NOT NULL DEFAULT 0             -- kept by triggers so listing topics never counts rows
);

CREATE TABLE story_topics (
    story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    topic_id INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (story_id, topic_id)
) WITHOUT ROWID;
CREATE INDEX story_topics_by_topic ON story_topics (topic_id, story_id);

CREATE TRIGGER story_topics_count_insert AFTER INSERT ON story_topics BEGIN
    UPDATE topics SET story_count = story_count + 1 WHERE id = NEW.topic_id;
END;
CREATE TRIGGER story_topics_count_delete AFTER DELETE ON story_topics BEGIN
    UPDATE topics SET story_count = story_count - 1 WHERE id = OLD.topic_id;
END;

-- A story's own `related` list. The related story is linked by joining `url` to stories.url at read time,
-- so the link appears whichever of the two files arrives first.
CREATE TABLE related_entries (
    story_id        INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    url             TEXT    NOT NULL,                  -- normalised, like stories.url
    link_url        TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    excerpt         TEXT    NOT NULL,
    published_at    TEXT,
    provider_name   TEXT,
    provider_domain TEXT,
    quality         INTEGER,
    image_url       TEXT,
    PRIMARY KEY (story_id, position)
);
CREATE INDEX related_entries_by_url ON related_entries (url);

-- Every observed heat change (the first row of a story has previous_heat NULL). `id` only grows, so the
-- alert engine can remember "seen up to id N" per subscription.
CREATE TABLE heat_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    story_id      INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    observed_at   TEXT    NOT NULL,
    heat          INTEGER,
    previous_heat INTEGER
);
CREATE INDEX heat_history_by_story ON heat_history (story_id, id);

-- Every file ever scanned: drives incremental rescans (size + mtime) and records the source path(s) of a story.
CREATE TABLE source_files (
    path            TEXT    PRIMARY KEY,
    size            INTEGER NOT NULL,
    mtime_ns        INTEGER NOT NULL,
    story_id        INTEGER REFERENCES stories (id) ON DELETE SET NULL,
    published_at    TEXT,
    rejected_reason TEXT,                              -- NULL when the file parsed
    ingested_at     TEXT    NOT NULL
);
CREATE INDEX source_files_by_story ON source_files (story_id);

CREATE TABLE ingest_runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT    NOT NULL,
    finished_at TEXT    NOT NULL,
    scanned     INTEGER NOT NULL,
    added       INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    duplicates  INTEGER NOT NULL,
    rejected    INTEGER NOT NULL
);

-- Full-text index over title + excerpt, kept in step with `stories` by triggers.
CREATE VIRTUAL TABLE stories_fts USING fts5 (
    title, excerpt,
    content = 'stories', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER stories_fts_insert AFTER INSERT ON stories BEGIN
    INSERT INTO stories_fts (rowid, title, excerpt) VALUES (NEW.id, NEW.title, NEW.excerpt);
END;
CREATE TRIGGER stories_fts_delete AFTER DELETE ON stories BEGIN
    INSERT INTO stories_fts (stories_fts, rowid, title, excerpt) VALUES ('delete', OLD.id, OLD.title, OLD.excerpt);
END;
CREATE TRIGGER stories_fts_update AFTER UPDATE OF title, excerpt ON stories BEGIN
    INSERT INTO stories_fts (stories_fts, rowid, title, excerpt) VALUES ('delete', OLD.id, OLD.title, OLD.excerpt);
    INSERT INTO stories_fts (rowid, title, excerpt) VALUES (NEW.id, NEW.title, NEW.excerpt);
END;

-- Small key/value facts about this installation (e.g. the hash of the last synced command tree).
CREATE TABLE app_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
