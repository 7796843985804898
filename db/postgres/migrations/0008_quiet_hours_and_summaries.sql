-- 0008: quiet hours per alert channel, and summary messages: see
-- db/sqlite/migrations/0007_quiet_hours_and_summaries.sql for why each table has its shape.
-- IF NOT EXISTS throughout, as in 0007.
CREATE TABLE IF NOT EXISTS alert_quiet_hours (
    channel_id   bigint      PRIMARY KEY,
    guild_id     bigint      NOT NULL,
    start_minute integer     NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute   integer     NOT NULL CHECK (end_minute BETWEEN 0 AND 1439 AND end_minute <> start_minute),
    timezone     text        NOT NULL,
    breaking     bigint      CHECK (breaking IS NULL OR breaking >= 0),
    held_since   timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_quiet_hours_by_guild ON alert_quiet_hours (guild_id);

CREATE TABLE IF NOT EXISTS alert_summaries (
    channel_id bigint      NOT NULL,
    story_id   bigint      NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('away', 'paused', 'rollup')),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (channel_id, story_id)
);
