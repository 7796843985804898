-- 0010: living posts (living-posts issue). See db/sqlite/migrations/0009_living_posts.sql for why each table has
-- its shape.
CREATE TABLE IF NOT EXISTS living_posts (
    channel_id      bigint      NOT NULL,
    story_id        bigint      NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    message_id      bigint      NOT NULL,
    edit_channel_id bigint      NOT NULL,
    posted_at       timestamptz NOT NULL,
    shown_heat      bigint,
    version         integer     NOT NULL DEFAULT 0,
    shown_version   integer     NOT NULL DEFAULT 0,
    not_before      timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,
    edited_at       timestamptz,
    gone_at         timestamptz,
    last_error      text,
    PRIMARY KEY (channel_id, story_id)
);
CREATE TABLE IF NOT EXISTS post_words (
    channel_id bigint      NOT NULL,
    word       text        NOT NULL,
    shown_at   timestamptz NOT NULL,
    story_id   bigint      NOT NULL,
    PRIMARY KEY (channel_id, word, shown_at, story_id)
);
CREATE INDEX IF NOT EXISTS post_words_by_age ON post_words (shown_at);

CREATE TABLE IF NOT EXISTS living_channels (
    channel_id bigint   PRIMARY KEY,
    dedupe     smallint NOT NULL DEFAULT 1 CHECK (dedupe IN (0, 1)),
    ping_heat  bigint   CHECK (ping_heat IS NULL OR ping_heat >= 0)
);

CREATE TABLE IF NOT EXISTS topic_roles (
    guild_id   bigint      NOT NULL,
    topic_id   bigint      NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    role_id    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (guild_id, topic_id)
);

CREATE TABLE IF NOT EXISTS role_pings (
    channel_id bigint      NOT NULL,
    role_id    bigint      NOT NULL,
    pinged_at  timestamptz NOT NULL,
    PRIMARY KEY (channel_id, role_id)
);

CREATE INDEX IF NOT EXISTS living_posts_recent ON living_posts (posted_at) WHERE gone_at IS NULL;
CREATE INDEX IF NOT EXISTS living_posts_by_channel ON living_posts (channel_id, posted_at) WHERE gone_at IS NULL;

CREATE TABLE IF NOT EXISTS post_coverage (
    channel_id    bigint      NOT NULL,
    story_id      bigint      NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    post_story_id bigint      NOT NULL,
    added_at      timestamptz NOT NULL,
    PRIMARY KEY (channel_id, story_id),
    FOREIGN KEY (channel_id, post_story_id) REFERENCES living_posts (channel_id, story_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS post_coverage_by_post ON post_coverage (post_story_id, channel_id, added_at);
CREATE INDEX IF NOT EXISTS post_coverage_by_story ON post_coverage (story_id);

-- Alerts posted in the 3 days before the upgrade follow their story too (see the SQLite migration).
INSERT INTO living_posts (channel_id, story_id, message_id, edit_channel_id, posted_at, shown_heat)
SELECT d.channel_id, d.story_id, d.message_id, CASE WHEN c.kind = 'forum' THEN d.message_id ELSE d.channel_id END,
       d.sent_at, d.heat
FROM alert_deliveries d JOIN alert_channels c ON c.channel_id = d.channel_id
WHERE d.status = 'sent' AND d.message_id IS NOT NULL
  AND d.sent_at >= (SELECT max(sent_at) - interval '3 days' FROM alert_deliveries)
ON CONFLICT (channel_id, story_id) DO NOTHING;
