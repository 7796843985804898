-- 0013: related-story threads and forum tags (issue 10). See db/sqlite/migrations/0012_related_threads.sql
-- for why each table has its shape.
CREATE TABLE IF NOT EXISTS thread_channels (
    channel_id  bigint   PRIMARY KEY,
    threads     smallint NOT NULL DEFAULT 0 CHECK (threads IN (0, 1)),
    create_tags smallint NOT NULL DEFAULT 0 CHECK (create_tags IN (0, 1))
);

CREATE TABLE IF NOT EXISTS alert_threads (
    channel_id bigint      NOT NULL,
    story_id   bigint      NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    guild_id   bigint      NOT NULL,
    message_id bigint      NOT NULL,
    thread_id  bigint,
    state      text        NOT NULL DEFAULT 'owed' CHECK (state IN ('owed', 'open', 'gone')),
    heat       bigint,
    created_at timestamptz NOT NULL,
    not_before timestamptz,
    claimed_at timestamptz,
    attempts   integer     NOT NULL DEFAULT 0,
    last_error text,
    PRIMARY KEY (channel_id, story_id)
);
CREATE INDEX IF NOT EXISTS alert_threads_owed ON alert_threads (heat) WHERE state = 'owed';

CREATE TABLE IF NOT EXISTS thread_posts (
    channel_id    bigint      NOT NULL,
    post_story_id bigint      NOT NULL,
    story_id      bigint      NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    kind          text        NOT NULL CHECK (kind IN ('related', 'coverage')),
    state         text        NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'empty', 'gone')),
    message_id    bigint,
    added_at      timestamptz NOT NULL,
    not_before    timestamptz,
    claimed_at    timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,
    sent_at       timestamptz,
    PRIMARY KEY (channel_id, post_story_id, story_id),
    FOREIGN KEY (channel_id, post_story_id) REFERENCES alert_threads (channel_id, story_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS thread_posts_queued ON thread_posts (added_at) WHERE state = 'queued';
