-- 0002: scheduled alerts (alerts issue).
-- Why this shape:
-- * Pause state, failures, rate-limit holds and the last post belong to a *channel* (a send goes to a channel,
--   and a deleted channel fails every subscription in it alike), so they live once in alert_channels instead of
--   being copied onto each subscription and kept in step by hand.
-- * A subscription remembers `cursor` = max(heat_history.id) when it was created: every heat change up to
--   there is "seen", so adding a feed never floods a channel. The engine's own progress through heat_history is
--   one row in alert_engine; all subscriptions advance together (paused ones too: stories that turn hot while
--   a channel is paused are skipped, which is what /alerts pause promises).
-- * alert_deliveries is the exactly-once ledger: one row per (story, channel), so a story reached through two
--   files or two subscriptions posts once. It has no foreign key to subscriptions on purpose: it outlives them,
--   so removing and re-adding a channel never re-posts what it already showed.
-- * alert_crossposts counts publishes, because Discord allows 10 per channel per hour and answers the 11th
--   with a 429 lasting up to an hour; the engine checks this log instead of finding out the hard way.

CREATE TABLE alert_channels (
    channel_id         INTEGER PRIMARY KEY,
    guild_id           INTEGER NOT NULL,
    kind               TEXT    NOT NULL CHECK (kind IN ('text', 'announcement', 'forum', 'console')),
    created_at         TEXT    NOT NULL,
    paused_at          TEXT,                           -- NULL = posting; set by /alerts pause or an auto-pause
    auto_paused_reason TEXT,                           -- why the bot paused it itself (shown in /alerts list)
    failure_count      INTEGER NOT NULL DEFAULT 0,     -- consecutive permanent failures; 0 after any success
    last_error         TEXT,
    last_error_at      TEXT,
    last_post_at       TEXT,
    hold_until         TEXT                            -- no sends before this (backoff, 429 retry_after)
);
CREATE INDEX alert_channels_by_guild ON alert_channels (guild_id);

CREATE TABLE alert_subscriptions (
    id          INTEGER PRIMARY KEY,
    channel_id  INTEGER NOT NULL REFERENCES alert_channels (channel_id) ON DELETE CASCADE,
    topic_id    INTEGER REFERENCES topics (id) ON DELETE CASCADE,  -- NULL = every topic
    -- NULLs are distinct in a UNIQUE constraint, so "every topic" needs a real key for (channel, topic).
    topic_key   INTEGER NOT NULL CHECK (topic_key = coalesce(topic_id, 0)),
    min_heat    INTEGER NOT NULL CHECK (min_heat >= 0),  -- >= 0 keeps the sentinel heat -1 out for good
    min_quality INTEGER CHECK (min_quality IS NULL OR min_quality >= 0),
    cursor      INTEGER NOT NULL,                        -- heat_history ids <= cursor were seen at creation
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    UNIQUE (channel_id, topic_key)
);
-- The due-selection walks new heat events and, per (topic, heat range), finds the subscriptions they cross.
CREATE INDEX alert_subscriptions_by_topic_heat ON alert_subscriptions (topic_key, min_heat);

CREATE TABLE alert_guild_pauses (
    guild_id  INTEGER PRIMARY KEY,
    paused_at TEXT    NOT NULL
);

-- Single row: heat_history ids <= cursor have been turned into deliveries.
CREATE TABLE alert_engine (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    cursor INTEGER NOT NULL
);
INSERT INTO alert_engine (id, cursor) VALUES (1, coalesce((SELECT max(id) FROM heat_history), 0));

CREATE TABLE alert_deliveries (
    story_id        INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    channel_id      INTEGER NOT NULL,
    -- queued -> claimed -> sent; claimed -> queued on a failed send; queued -> withdrawn when the story no
    -- longer qualifies before its turn (revived if it crosses again); queued -> failed when Discord rejects
    -- this story itself (never the channel's fault, never retried).
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'claimed', 'sent', 'withdrawn', 'failed')),
    heat            INTEGER,                           -- the story's heat, refreshed on each change: queue order
    queued_at       TEXT    NOT NULL,
    next_attempt_at TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claimed_at      TEXT,
    message_id      INTEGER,
    sent_at         TEXT,
    last_error      TEXT,
    PRIMARY KEY (story_id, channel_id)
) WITHOUT ROWID;
-- Only unfinished rows are ever scanned (by the tick, by recovery at start); sent rows, the bulk, stay out.
-- A tick reads each channel's queue hottest first and stops after max_posts_per_tick rows, so a backlog of
-- any size costs a few index steps per channel.
CREATE INDEX alert_deliveries_queued ON alert_deliveries (channel_id, heat DESC, story_id) WHERE status = 'queued';
CREATE INDEX alert_deliveries_claimed ON alert_deliveries (channel_id) WHERE status = 'claimed';

CREATE TABLE alert_crossposts (
    id           INTEGER PRIMARY KEY,
    channel_id   INTEGER NOT NULL,
    message_id   INTEGER NOT NULL,
    published_at TEXT    NOT NULL
);
CREATE INDEX alert_crossposts_by_channel ON alert_crossposts (channel_id, published_at);
