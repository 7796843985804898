-- 0006: the admin log channel (`/alerts log channel:`) and the notices posted there.
-- Why: server managers want problems (a channel failing, paused automatically, recovered) and changes told in
-- Discord rather than found in /alerts list. A problem is told at most once an hour, across restarts and
-- processes, so the time of the last notice per (guild, problem) lives here, not in memory.
-- * alert_log_channels: one log channel per guild, who set it and when.
-- * alert_log_notices: `problem` names what went wrong where ("failing:<channel id>", "paused:<channel id>");
--   `posted_at` is when it was last told; `resolved_at` is set when the channel posts again (NULL: still open),
--   so "recovered" is told only for a problem that was told.
CREATE TABLE alert_log_channels (
    guild_id    bigint PRIMARY KEY,
    channel_id  bigint NOT NULL,
    set_by      bigint NOT NULL,
    set_at      timestamptz NOT NULL
);

CREATE TABLE alert_log_notices (
    guild_id    bigint NOT NULL,
    problem     text NOT NULL,
    posted_at   timestamptz NOT NULL,
    resolved_at timestamptz,
    PRIMARY KEY (guild_id, problem)
);
