-- 0006: digests (/digest): a scheduled message with the hottest stories of a period (digests issue).
-- Why this shape:
-- * The schedule lives in the row (`every`, `minute`, `weekday`, `timezone`) together with `next_due_at`, the
--   UTC instant of the next digest, computed in Python with zoneinfo (daylight-saving rules are not SQL's job),
--   so due digests are one index range read and a restart loses nothing.
-- * `covers_from`: the next digest holds the stories first seen from there up to its due time; each digest moves
--   it to its own due time, so periods neither overlap nor leave gaps, however late a digest goes out.
-- * digest_deliveries is the digests' exactly-once ledger, keyed by (subscription, due time): a due digest is
--   queued and the subscription moved on in one transaction, then claimed, sent and recorded like an alert
--   (a crash between send and record is resolved by looking for the message). `expires_at` is the next
--   occurrence: a digest not out by then is more than one period late and is dropped, never sent twice.
-- * No foreign key from deliveries to subscriptions: removing a digest must not erase what was already posted.
CREATE TABLE digest_subscriptions (
    id            INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL,
    channel_id    INTEGER NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('text', 'announcement', 'forum', 'console')),
    topic_id      INTEGER REFERENCES topics (id) ON DELETE CASCADE,  -- NULL = every topic
    topic_key     INTEGER NOT NULL CHECK (topic_key = coalesce(topic_id, 0)),
    every         TEXT    NOT NULL CHECK (every IN ('hourly', 'daily', 'weekly')),
    minute        INTEGER NOT NULL CHECK (minute BETWEEN 0 AND 1439),  -- after local midnight
    weekday       INTEGER CHECK (weekday BETWEEN 0 AND 6),              -- 0 = Monday; weekly only
    timezone      TEXT    NOT NULL,                                     -- IANA name
    top           INTEGER NOT NULL CHECK (top BETWEEN 1 AND 10),
    min_heat      INTEGER NOT NULL CHECK (min_heat >= 0),
    next_due_at   TEXT    NOT NULL,
    covers_from   TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    last_sent_at  TEXT,
    last_error    TEXT,
    last_error_at TEXT,
    UNIQUE (channel_id, topic_key)
);
CREATE INDEX digest_subscriptions_due ON digest_subscriptions (next_due_at);
CREATE INDEX digest_subscriptions_by_guild ON digest_subscriptions (guild_id);

CREATE TABLE digest_deliveries (
    subscription_id INTEGER NOT NULL,
    due_at          TEXT    NOT NULL,
    channel_id      INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'claimed', 'sent', 'empty', 'failed')),
    covers_from     TEXT    NOT NULL,
    expires_at      TEXT    NOT NULL,
    queued_at       TEXT    NOT NULL,
    next_attempt_at TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claimed_at      TEXT,
    message_id      INTEGER,
    sent_at         TEXT,
    stories         INTEGER,
    last_error      TEXT,
    PRIMARY KEY (subscription_id, due_at)
) WITHOUT ROWID;
-- Only unfinished rows are ever scanned; finished ones, the bulk, stay out of these.
CREATE INDEX digest_deliveries_queued ON digest_deliveries (next_attempt_at) WHERE status = 'queued';
CREATE INDEX digest_deliveries_claimed ON digest_deliveries (claimed_at) WHERE status = 'claimed';
