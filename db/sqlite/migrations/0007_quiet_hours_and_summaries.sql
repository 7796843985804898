-- 0007: quiet hours per alert channel, and summary messages (several stories in one post) (digests issue).
-- Why this shape:
-- * alert_quiet_hours: one window per channel in its own time zone (start/end in minutes after local midnight;
--   a window may span midnight). `held_since` is set while a window is in force: alerts are held (queued, not
--   posted), and when the window ends the held set becomes one "While you were away" message. Held alerts are
--   ordinary queued ledger rows, so a restart during quiet hours loses none of them.
-- * alert_summaries: the stories that go out together in one message instead of one post each ("While you were
--   away", "While alerts were paused", a backlog roll-up). Each story still has its own ledger row and goes
--   through the same claim -> send -> record steps, so it posts exactly once, alone or in a summary. A summary
--   row is dropped once its story is sent (or no longer queued).
CREATE TABLE alert_quiet_hours (
    channel_id   INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    start_minute INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute   INTEGER NOT NULL CHECK (end_minute BETWEEN 0 AND 1439 AND end_minute <> start_minute),
    timezone     TEXT    NOT NULL,
    breaking     INTEGER CHECK (breaking IS NULL OR breaking >= 0),  -- at or above: posts at once; NULL: none
    held_since   TEXT,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
CREATE INDEX alert_quiet_hours_by_guild ON alert_quiet_hours (guild_id);

CREATE TABLE alert_summaries (
    channel_id INTEGER NOT NULL,
    story_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('away', 'paused', 'rollup')),
    created_at TEXT    NOT NULL,
    PRIMARY KEY (channel_id, story_id)
) WITHOUT ROWID;
