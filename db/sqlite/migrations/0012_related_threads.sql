-- 0012: related-story threads and forum tags (issue 10, "Related stories in a thread").
-- Why this shape:
-- * thread_channels holds the two /alerts add options of a channel (no row: both off). They belong to the
--   channel, like dedupe: one message per story, whichever subscription queued it.
-- * alert_threads is the thread ledger, one row per alert message of a channel with threads on (the key is the
--   post's, like living_posts). A row is claimed (`claimed_at`, `not_before` pushed ahead) before Discord is
--   asked to start the thread and recorded after. Discord gives a message's thread the message's id and refuses
--   a second one (160004), so a crash in between is resolved by asking again. A forum post is its own thread:
--   its row starts 'open'. A message or channel that is gone is recorded ('gone') and never tried again.
-- * thread_posts are the messages owed in a thread: the post story's related list (story_id = the post's story)
--   and each later "also covered by" story. Claimed, sent, recorded; a claim never recorded leaves
--   `claimed_at` set, so the next attempt first looks in the thread for the message.
CREATE TABLE IF NOT EXISTS thread_channels (
    channel_id  INTEGER PRIMARY KEY,
    threads     INTEGER NOT NULL DEFAULT 0 CHECK (threads IN (0, 1)),
    create_tags INTEGER NOT NULL DEFAULT 0 CHECK (create_tags IN (0, 1))
);

CREATE TABLE IF NOT EXISTS alert_threads (
    channel_id INTEGER NOT NULL,
    story_id   INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    guild_id   INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    thread_id  INTEGER,                                  -- set once the thread exists
    state      TEXT    NOT NULL DEFAULT 'owed' CHECK (state IN ('owed', 'open', 'gone')),
    heat       INTEGER,                                  -- the story's heat when posted: hottest first
    created_at TEXT    NOT NULL,
    not_before TEXT,                                     -- claimed, or waiting after a failure
    claimed_at TEXT,                                     -- claimed and not recorded yet
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (channel_id, story_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_threads_owed ON alert_threads (heat) WHERE state = 'owed';

CREATE TABLE IF NOT EXISTS thread_posts (
    channel_id    INTEGER NOT NULL,
    post_story_id INTEGER NOT NULL,
    story_id      INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('related', 'coverage')),
    state         TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'empty', 'gone')),
    message_id    INTEGER,
    added_at      TEXT    NOT NULL,
    not_before    TEXT,
    claimed_at    TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    sent_at       TEXT,
    PRIMARY KEY (channel_id, post_story_id, story_id),
    FOREIGN KEY (channel_id, post_story_id) REFERENCES alert_threads (channel_id, story_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS thread_posts_queued ON thread_posts (added_at) WHERE state = 'queued';
