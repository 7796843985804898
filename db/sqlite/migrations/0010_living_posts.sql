-- 0009: living posts (living-posts issue): alert messages that are edited as their story changes, and one post
-- per event in a channel however many providers cover it.
-- Why this shape:
-- * living_posts is the edit ledger, one row per alert message (a channel posts a story once, so the key is
--   (channel, story)). What the message shows is recorded (`shown_heat`, `shown_version`); what it should show
--   is the story's heat now and `version`, bumped whenever something else the message shows changes (another
--   provider's coverage). An edit is owed when they differ enough; rendering always starts from the current
--   state, so an edit applied twice (a crash between the edit and its record) shows the same thing twice.
-- * `not_before` paces edits: a claimed edit pushes it 10 minutes ahead in the same statement that claims it
--   (two processes cannot both claim one message), which is also Discord-friendly pacing of one message.
-- * A message or channel that is gone is recorded in `gone_at` and never tried again.
-- * post_coverage: a story that reports the same event as a post of the channel is not posted; it is listed
--   on that post ("Also covered by"). Its own ledger row is marked sent with the post's message id, so the
--   exactly-once ledger stays the one record of what a channel has shown.
CREATE TABLE IF NOT EXISTS living_posts (
    channel_id     INTEGER NOT NULL,
    story_id       INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    message_id     INTEGER NOT NULL,
    edit_channel_id INTEGER NOT NULL,                  -- where the message lives (a forum post: its thread)
    posted_at      TEXT    NOT NULL,
    shown_heat     INTEGER,                            -- the heat the message shows now
    version        INTEGER NOT NULL DEFAULT 0,         -- bumped when coverage is added
    shown_version  INTEGER NOT NULL DEFAULT 0,         -- the version the message shows
    not_before     TEXT,                               -- no edit before this (10-minute window, backoff)
    attempts       INTEGER NOT NULL DEFAULT 0,         -- failed edits in a row
    edited_at      TEXT,
    gone_at        TEXT,                               -- the message or channel no longer exists
    last_error     TEXT,
    PRIMARY KEY (channel_id, story_id)
) WITHOUT ROWID;
-- The normalised title words of every story a channel showed (posted or listed), so the dedupe check reads
-- only the window's stories that share words with a new one, not the whole window of a busy channel.
CREATE TABLE IF NOT EXISTS post_words (
    channel_id INTEGER NOT NULL,
    word       TEXT    NOT NULL,
    shown_at   TEXT    NOT NULL,
    story_id   INTEGER NOT NULL,
    PRIMARY KEY (channel_id, word, shown_at, story_id)
) WITHOUT ROWID;
-- Words older than the dedupe window are pruned (at most once an hour).
CREATE INDEX IF NOT EXISTS post_words_by_age ON post_words (shown_at);

-- /alerts add … dedupe:false: a channel that wants every provider's post of an event (no row: dedupe is on).
-- /alerts add … ping_heat:N: stories at or above it ping the roles mapped to their topics (NULL: no pings).
CREATE TABLE IF NOT EXISTS living_channels (
    channel_id INTEGER PRIMARY KEY,
    dedupe     INTEGER NOT NULL DEFAULT 1 CHECK (dedupe IN (0, 1)),
    ping_heat  INTEGER CHECK (ping_heat IS NULL OR ping_heat >= 0)
);

-- /roles add: a topic's role in a guild (one role per topic and guild).
CREATE TABLE IF NOT EXISTS topic_roles (
    guild_id   INTEGER NOT NULL,
    topic_id   INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    role_id    INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, topic_id)
);

-- The last ping of each role in each channel: at most one per role per channel per 10 minutes.
CREATE TABLE IF NOT EXISTS role_pings (
    channel_id INTEGER NOT NULL,
    role_id    INTEGER NOT NULL,
    pinged_at  TEXT    NOT NULL,
    PRIMARY KEY (channel_id, role_id)
) WITHOUT ROWID;

-- The edit selection and the dedupe check read the last 48-72 hours of live posts only.
CREATE INDEX IF NOT EXISTS living_posts_recent ON living_posts (posted_at) WHERE gone_at IS NULL;
CREATE INDEX IF NOT EXISTS living_posts_by_channel ON living_posts (channel_id, posted_at) WHERE gone_at IS NULL;

CREATE TABLE IF NOT EXISTS post_coverage (
    channel_id      INTEGER NOT NULL,
    story_id        INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,  -- the story not posted again
    post_story_id   INTEGER NOT NULL,                                           -- the post that lists it
    added_at        TEXT    NOT NULL,
    PRIMARY KEY (channel_id, story_id),
    FOREIGN KEY (channel_id, post_story_id) REFERENCES living_posts (channel_id, story_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS post_coverage_by_post ON post_coverage (post_story_id, channel_id, added_at);
-- /related shows every story of the event a story was posted or listed with, in any channel.
CREATE INDEX IF NOT EXISTS post_coverage_by_story ON post_coverage (story_id);

-- Alerts posted in the 3 days before the upgrade follow their story too (their words are not known: they can be
-- matched as the same event through `related` only). The heat recorded when the story was queued is what the
-- message shows.
INSERT INTO living_posts (channel_id, story_id, message_id, edit_channel_id, posted_at, shown_heat)
SELECT d.channel_id, d.story_id, d.message_id, CASE WHEN c.kind = 'forum' THEN d.message_id ELSE d.channel_id END,
       d.sent_at, d.heat
FROM alert_deliveries d JOIN alert_channels c ON c.channel_id = d.channel_id
WHERE d.status = 'sent' AND d.message_id IS NOT NULL
  AND d.sent_at >= (SELECT strftime('%Y-%m-%dT%H:%M:%f', max(sent_at), '-3 days') FROM alert_deliveries)
ON CONFLICT (channel_id, story_id) DO NOTHING;
