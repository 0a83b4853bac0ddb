//! The store's SQL schema and its version. How the tables are written is
//! in `write.rs`, how they are read in `read.rs`.

/// Bumped when the schema changes; a database of another version is refused.
/// 6: every event's `digest`, so a resumed replay refuses an edited event.
pub(crate) const SCHEMA_VERSION: &str = "6";

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    -- every applied event, written first in its transaction: the primary key
    -- refuses an id used twice, and delivery reports find their message here
    id   TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL,      -- the event's position in the timeline, from 1 (a message's id)
    line INTEGER NOT NULL,      -- the line it was written on
    at   TEXT NOT NULL,
    type TEXT NOT NULL,
    digest BLOB NOT NULL        -- its other fields, hashed (timeline::Digest): a resumed
                                -- replay refuses an event that changed since
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS refused (
    event  TEXT PRIMARY KEY,    -- a message that was not sent: its event id
    seq    INTEGER NOT NULL,
    reason TEXT NOT NULL        -- photo | unreachable
);
CREATE TABLE IF NOT EXISTS conversations (
    id                INTEGER PRIMARY KEY,
    client            TEXT NOT NULL UNIQUE,
    started_by        TEXT NOT NULL,   -- client | staff
    staff             TEXT,            -- who started it, when staff did
    started_from      TEXT,            -- where they were logged in
    answering         TEXT NOT NULL,   -- confirmation | reminder | campaign | other | nothing
    answered_location TEXT
);
CREATE TABLE IF NOT EXISTS conversation_locations (
    conversation INTEGER NOT NULL,
    location     TEXT NOT NULL,
    unread       INTEGER NOT NULL,     -- client messages landed here since staff here last wrote
    PRIMARY KEY (conversation, location)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    id           INTEGER PRIMARY KEY,  -- seq of the event that created it
    conversation INTEGER NOT NULL,
    event        TEXT NOT NULL,        -- its event id
    at           TEXT NOT NULL,
    direction    TEXT NOT NULL,        -- inbound | outbound
    channel      TEXT NOT NULL,        -- sms | mms | app | email (inbound); push | sms | mms | email (latest outbound attempt)
    sender       TEXT NOT NULL,        -- client id, or staff id
    account      TEXT,                 -- outbound: the sending account
    text         TEXT NOT NULL,        -- as received, or as sent on the first attempt
    typed        TEXT,                 -- outbound: as staff typed it, when the rules changed it
    attachments  TEXT NOT NULL,        -- JSON array of photo paths
    locations    TEXT NOT NULL,        -- inbound: where it landed; outbound: where it was sent from
    live_to      TEXT NOT NULL,        -- inbound: staff who received it live
    status       TEXT NOT NULL,        -- received | sent | delivered | failed
    attempts     TEXT                  -- outbound, once a delivery report came: JSON array, one
                                       -- object per attempt {n, at, channel, status, status_at?, text?};
                                       -- NULL: one attempt, on `channel` at `at`, still `sent`
);
CREATE TABLE IF NOT EXISTS notices (
    id           INTEGER PRIMARY KEY,
    message      INTEGER NOT NULL,
    conversation INTEGER NOT NULL,
    at           TEXT NOT NULL,
    text         TEXT NOT NULL,        -- Message failed to deliver
    audio_cue_to TEXT NOT NULL         -- staff who heard the cue, comma-separated
);
CREATE TABLE IF NOT EXISTS usage (
    month     TEXT NOT NULL,           -- YYYY-MM
    location  TEXT NOT NULL,           -- the location billed
    direction TEXT NOT NULL,           -- inbound | outbound
    kind      TEXT NOT NULL,           -- sms | mms
    account   TEXT NOT NULL,           -- the location's account
    messages  INTEGER NOT NULL,
    segments  INTEGER NOT NULL,        -- 0 for mms
    PRIMARY KEY (month, location, direction, kind)
) WITHOUT ROWID;
";
