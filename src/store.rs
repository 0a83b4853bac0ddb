//! The conversation store: every message, attempt, notice and SMS usage row,
//! in an embedded SQLite database.
//!
//! The database is one file in WAL mode. A replay writes events in batches,
//! each batch one transaction, so an event's effects are either all saved or
//! not at all, and a `kill -9` loses at most the batch in flight (which the
//! next run replays). `synchronous = NORMAL` in WAL mode survives a killed
//! process without an fsync per commit. The schema is documented in the
//! README; [`SCHEMA`] is the source.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// How many conversations a store's screen shows at once.
pub const IN_STORE: usize = 10;

/// Bumped when the schema changes; a database of another version is refused.
/// 6: every event's `digest`, so a resumed replay refuses an edited event.
pub const SCHEMA_VERSION: &str = "6";

pub const SCHEMA: &str = "
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

/// Reading indexes, built by the first command that reads the store (cheaper
/// than keeping them up to date event by event during a replay).
pub const READ_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation, id);
CREATE INDEX IF NOT EXISTS locations_by_location ON conversation_locations(location);
";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the database `{path}` has schema version {found}, this commroute writes version {SCHEMA_VERSION}")]
    Version { path: String, found: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An open conversation store.
pub struct Store {
    pub conn: Connection,
}

/// What an event recorded by an earlier run was, to compare with the
/// event a resumed replay has at that position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub digest: Vec<u8>,
}

/// A conversation as kept between events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: i64,
    pub client: String,
    pub started_by: String,
    pub staff: Option<String>,
    pub started_from: Option<String>,
    pub answering: String,
    pub answered_location: Option<String>,
}

/// A staff message, as a delivery report needs it.
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub id: i64,
    pub conversation: i64,
    /// Every attempt so far (the JSON of `messages.attempts`); `None`: only the first.
    pub attempts: Option<String>,
    /// The channel of the latest attempt.
    pub channel: String,
    pub at: String,
}

/// The rest of a staff message, needed when a report says it failed.
#[derive(Debug, Clone)]
pub struct SentDetails {
    pub client: String,
    pub account: Option<String>,
    /// As staff typed it.
    pub typed: String,
    /// As sent on the first attempt.
    pub text: String,
    pub attachments: String,
    /// Where it was sent from.
    pub location: String,
}

impl Store {
    /// Opens (or creates) the database file in WAL mode.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        // Before WAL mode and the first table (an existing file keeps its own):
        // pages of 8 KB split half as often as 4 KB ones during a replay.
        conn.pragma_update(None, "page_size", 8192)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Store::init(conn, &path.display().to_string())
    }

    /// A throwaway store (scenarios).
    pub fn in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?, ":memory:")
    }

    fn init(conn: Connection, path: &str) -> Result<Store> {
        // A reading command may open the store while a replay writes to it:
        // wait for the replay's batch to commit rather than fail.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -16_000)?; // 16 MB
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoint the WAL every ~40 MB rather than every 4 MB: fewer copies
        // of pages that many batches touch.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        conn.execute_batch(SCHEMA)?;
        let found: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0))
            .optional()?;
        match found {
            None => {
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?1)", [SCHEMA_VERSION])?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(StoreError::Version {
                    path: path.to_owned(),
                    found: v,
                })
            }
        }
        Ok(Store { conn })
    }

    pub fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN")?;
        Ok(())
    }

    pub fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    pub fn build_read_indexes(&self) -> Result<()> {
        self.conn.execute_batch(READ_INDEXES)?;
        Ok(())
    }

    /// The highest event position recorded (positions are recorded in
    /// order, from 1, without gaps: a replay stops at the first event it
    /// cannot apply).
    pub fn last_seq(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?)
    }

    /// The event recorded with an id, if any.
    pub fn recorded(&self, id: &str) -> Result<Option<Recorded>> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq, at, type, digest FROM events WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(Recorded {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    digest: r.get(3)?,
                })
            })
            .optional()?)
    }

    /// The id of the event recorded at a position, if any. It reads the
    /// whole table (events are kept by id): for error messages only.
    pub fn event_at(&self, seq: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT id FROM events WHERE seq = ?1", [seq], |r| r.get(0))
            .optional()?)
    }

    /// Claims an id for the event at a position, before anything else of the
    /// event is written. `Some` is the position and line of the event that
    /// already holds it: a duplicate, and nothing was written.
    #[allow(clippy::too_many_arguments)]
    pub fn claim_event_id(
        &self,
        id: &str,
        seq: i64,
        line: usize,
        at: &str,
        kind: &str,
        digest: &[u8],
    ) -> Result<Option<(i64, i64)>> {
        // A plain INSERT: its primary key check is the insert's own seek
        // (an upsert would look the key up once more first).
        match self
            .conn
            .prepare_cached("INSERT INTO events (id, seq, line, at, type, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![id, seq, line as i64, at, kind, digest])
        {
            Ok(_) => return Ok(None),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {}
            Err(e) => return Err(e.into()),
        }
        let (first, line): (i64, i64) = self
            .conn
            .prepare_cached("SELECT seq, line FROM events WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        // The same position claimed again is the same event, not a duplicate.
        Ok((first != seq).then_some((first, line)))
    }

    /// Gives back the id of an event that failed before it was applied.
    pub fn release_event_id(&self, id: &str, seq: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM events WHERE id = ?1 AND seq = ?2")?
            .execute(params![id, seq])?;
        Ok(())
    }

    /// A message that was not sent (refused photo, unreachable client).
    pub fn record_refused(&self, event: &str, seq: i64, reason: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO refused (event, seq, reason) VALUES (?1, ?2, ?3)")?
            .execute(params![event, seq, reason])?;
        Ok(())
    }

    pub fn was_refused(&self, event: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM refused WHERE event = ?1")?
            .query_row([event], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn conversations_all(&self) -> Result<Vec<ConversationRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, client, started_by, staff, started_from, answering, answered_location FROM conversations",
        )?;
        let rows = st.query_map([], |r| {
            Ok(ConversationRow {
                id: r.get(0)?,
                client: r.get(1)?,
                started_by: r.get(2)?,
                staff: r.get(3)?,
                started_from: r.get(4)?,
                answering: r.get(5)?,
                answered_location: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub fn create_conversation(&self, c: &ConversationRow) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO conversations (client, started_by, staff, started_from, answering, answered_location)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                c.client,
                c.started_by,
                c.staff,
                c.started_from,
                c.answering,
                c.answered_location
            ])?;
        Ok(self.conn.last_insert_rowid())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn insert_message(
        &self,
        id: i64,
        conversation: i64,
        event: &str,
        at: &str,
        direction: &str,
        channel: &str,
        sender: &str,
        account: Option<&str>,
        text: &str,
        typed: Option<&str>,
        attachments: &str,
        locations: &str,
        live_to: &str,
        status: &str,
        attempts: Option<&str>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO messages (id, conversation, event, at, direction, channel, sender, account, text, typed,
                                       attachments, locations, live_to, status, attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                id,
                conversation,
                event,
                at,
                direction,
                channel,
                sender,
                account,
                text,
                typed,
                attachments,
                locations,
                live_to,
                status,
                attempts
            ])?;
        Ok(())
    }

    /// Writes the unread count of a conversation at a location.
    pub fn set_unread(&self, conversation: i64, location: &str, unread: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO conversation_locations (conversation, location, unread) VALUES (?1, ?2, ?3)
                 ON CONFLICT (conversation, location) DO UPDATE SET unread = excluded.unread",
            )?
            .execute(params![conversation, location, unread])?;
        Ok(())
    }

    /// Every unread count, to carry on from where an earlier run stopped.
    pub fn unread_all(&self) -> Result<Vec<(i64, String, i64)>> {
        let mut st = self
            .conn
            .prepare("SELECT conversation, location, unread FROM conversation_locations")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// A message's new status, channel and attempts after a delivery report.
    pub fn set_message_status(&self, message: i64, channel: &str, status: &str, attempts: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE messages SET channel = ?2, status = ?3, attempts = ?4 WHERE id = ?1")?
            .execute(params![message, channel, status, attempts])?;
        Ok(())
    }

    /// Adds to the usage counters of one month, location, direction and kind.
    #[allow(clippy::too_many_arguments)]
    pub fn add_usage(
        &self,
        month: &str,
        location: &str,
        direction: &str,
        kind: &str,
        account: &str,
        messages: i64,
        segments: i64,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO usage (month, location, direction, kind, account, messages, segments)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (month, location, direction, kind)
                 DO UPDATE SET messages = messages + excluded.messages, segments = segments + excluded.segments",
            )?
            .execute(params![month, location, direction, kind, account, messages, segments])?;
        Ok(())
    }

    pub fn insert_notice(&self, message: i64, conversation: i64, at: &str, text: &str, cue_to: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO notices (message, conversation, at, text, audio_cue_to) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![message, conversation, at, text, cue_to])?;
        Ok(())
    }

    /// The staff message an event sent, with its attempts.
    pub fn message_of_event(&self, event: &str) -> Result<Option<SentMessage>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT m.id, m.conversation, m.attempts, m.channel, m.at
                 FROM events e JOIN messages m ON m.id = e.seq
                 WHERE e.id = ?1 AND m.direction = 'outbound'",
            )?
            .query_row([event], |r| {
                Ok(SentMessage {
                    id: r.get(0)?,
                    conversation: r.get(1)?,
                    attempts: r.get(2)?,
                    channel: r.get(3)?,
                    at: r.get(4)?,
                })
            })
            .optional()?)
    }

    pub fn sent_details(&self, message: i64) -> Result<SentDetails> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT c.client, m.account, coalesce(m.typed, m.text), m.text, m.attachments, m.locations
                 FROM messages m JOIN conversations c ON c.id = m.conversation
                 WHERE m.id = ?1",
            )?
            .query_row([message], |r| {
                Ok(SentDetails {
                    client: r.get(0)?,
                    account: r.get(1)?,
                    typed: r.get(2)?,
                    text: r.get(3)?,
                    attachments: r.get(4)?,
                    location: r.get(5)?,
                })
            })?)
    }
}

// ---------------------------------------------------------------------------
// Reading

/// One row of a location's conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationSummary {
    pub client: String,
    pub last_at: String,
    pub last_message: String,
    pub direction: String,
    pub channel: String,
    pub status: String,
    pub unread: i64,
}

/// One message of a conversation, with its attempts and notices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageView {
    pub at: String,
    pub event: String,
    pub direction: String,
    pub channel: String,
    pub sender: String,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// Inbound: where it landed; outbound: where it was sent from.
    pub locations: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub live_to: Vec<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<NoticeView>,
}

/// One attempt as kept in `messages.attempts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Attempt {
    pub n: i64,
    pub at: String,
    pub channel: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_at: Option<String>,
    /// When it differs from the message's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptView {
    pub n: i64,
    pub at: String,
    pub channel: String,
    pub text: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeView {
    pub at: String,
    pub text: String,
    pub audio_cue_to: Vec<String>,
}

/// A whole conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationView {
    pub client: String,
    pub started_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_from: Option<String>,
    pub answering: String,
    /// Unread client messages per location.
    pub unread: std::collections::BTreeMap<String, i64>,
    pub messages: Vec<MessageView>,
}

/// How SMS usage is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageBy {
    Account,
    Location,
}

/// SMS and MMS usage of one account or location in one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    pub month: String,
    /// The account or location id.
    pub key: String,
    pub sms_inbound: i64,
    pub sms_outbound: i64,
    pub sms_messages: i64,
    pub segments: i64,
    pub mms_messages: i64,
}

fn split(s: String) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').map(str::to_owned).collect()
    }
}

impl Store {
    /// Opens a database to read it, building the reading indexes if missing.
    pub fn open_for_reading(path: &Path) -> Result<Store> {
        let store = Store::open(path)?;
        store.build_read_indexes()?;
        Ok(store)
    }

    /// A location's conversations, most recent activity first; `limit` for the store screen.
    pub fn conversations_at(&self, location: &str, limit: Option<usize>) -> Result<Vec<ConversationSummary>> {
        let mut st = self.conn.prepare(
            "WITH last AS (SELECT conversation, max(id) AS id FROM messages GROUP BY conversation)
             SELECT c.client, m.at, m.text, m.direction, m.channel, m.status, cl.unread
             FROM conversation_locations cl
             JOIN conversations c ON c.id = cl.conversation
             JOIN last ON last.conversation = c.id
             JOIN messages m ON m.id = last.id
             WHERE cl.location = ?1
             ORDER BY m.id DESC
             LIMIT ?2",
        )?;
        let limit = limit.map(|l| l as i64).unwrap_or(-1);
        let rows = st.query_map(params![location, limit], |r| {
            Ok(ConversationSummary {
                client: r.get(0)?,
                last_at: r.get(1)?,
                last_message: r.get(2)?,
                direction: r.get(3)?,
                channel: r.get(4)?,
                status: r.get(5)?,
                unread: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Every client with a conversation, in id order.
    pub fn clients(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare("SELECT client FROM conversations ORDER BY client")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// One client's whole conversation, oldest message first.
    pub fn conversation(&self, client: &str) -> Result<Option<ConversationView>> {
        let head = self
            .conn
            .query_row(
                "SELECT id, started_by, staff, started_from, answering FROM conversations WHERE client = ?1",
                [client],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((id, started_by, staff, started_from, answering)) = head else {
            return Ok(None);
        };
        let mut unread_st = self
            .conn
            .prepare("SELECT location, unread FROM conversation_locations WHERE conversation = ?1 ORDER BY location")?;
        let unread = unread_st
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<std::result::Result<_, _>>()?;
        let mut st = self.conn.prepare(
            "SELECT id, at, event, direction, channel, sender, text, attachments, locations, live_to, status,
                    coalesce(attempts, CASE WHEN direction = 'outbound'
                        THEN json_array(json_object('n', 1, 'at', at, 'channel', channel, 'status', 'sent'))
                        ELSE '[]' END)
             FROM messages WHERE conversation = ?1 ORDER BY id",
        )?;
        let mut notices = self
            .conn
            .prepare("SELECT at, text, audio_cue_to FROM notices WHERE message = ?1 ORDER BY id")?;
        let rows: Vec<(i64, MessageView)> = st
            .query_map([id], |r| {
                let attachments: String = r.get(7)?;
                let text: String = r.get(6)?;
                let attempts: String = r.get(11)?;
                let attempts: Vec<Attempt> = serde_json::from_str(&attempts).unwrap_or_default();
                Ok((
                    r.get(0)?,
                    MessageView {
                        at: r.get(1)?,
                        event: r.get(2)?,
                        direction: r.get(3)?,
                        channel: r.get(4)?,
                        sender: r.get(5)?,
                        attachments: serde_json::from_str(&attachments).unwrap_or_default(),
                        locations: split(r.get(8)?),
                        live_to: split(r.get(9)?),
                        status: r.get(10)?,
                        attempts: attempts
                            .into_iter()
                            .map(|a| AttemptView {
                                n: a.n,
                                at: a.at,
                                channel: a.channel,
                                text: a.text.unwrap_or_else(|| text.clone()),
                                status: a.status,
                            })
                            .collect(),
                        text,
                        notices: Vec::new(),
                    },
                ))
            })?
            .collect::<std::result::Result<_, _>>()?;
        let mut messages = Vec::with_capacity(rows.len());
        for (mid, mut m) in rows {
            m.notices = notices
                .query_map([mid], |r| {
                    Ok(NoticeView {
                        at: r.get(0)?,
                        text: r.get(1)?,
                        audio_cue_to: split(r.get(2)?),
                    })
                })?
                .collect::<std::result::Result<_, _>>()?;
            messages.push(m);
        }
        Ok(Some(ConversationView {
            client: client.to_owned(),
            started_by,
            staff,
            started_from,
            answering,
            unread,
            messages,
        }))
    }

    /// SMS and MMS usage per month and account or location (`month` filters).
    pub fn usage(&self, by: UsageBy, month: Option<&str>) -> Result<Vec<UsageRow>> {
        let key = match by {
            UsageBy::Account => "account",
            UsageBy::Location => "location",
        };
        let sql = format!(
            "SELECT month, {key},
                    sum(CASE WHEN kind = 'sms' AND direction = 'inbound' THEN messages ELSE 0 END),
                    sum(CASE WHEN kind = 'sms' AND direction = 'outbound' THEN messages ELSE 0 END),
                    sum(CASE WHEN kind = 'sms' THEN messages ELSE 0 END),
                    sum(segments),
                    sum(CASE WHEN kind = 'mms' THEN messages ELSE 0 END)
             FROM usage
             WHERE ?1 IS NULL OR month = ?1
             GROUP BY month, {key}
             ORDER BY month, {key}"
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map([month], |r| {
            Ok(UsageRow {
                month: r.get(0)?,
                key: r.get(1)?,
                sms_inbound: r.get(2)?,
                sms_outbound: r.get(3)?,
                sms_messages: r.get(4)?,
                segments: r.get(5)?,
                mms_messages: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Every table as text, row by row in key order: two databases with the
    /// same dump hold the same data (the kill-and-resume test compares them).
    pub fn dump(&self) -> Result<String> {
        let mut out = String::new();
        for (table, order) in [
            ("meta", "key"),
            ("events", "id"),
            ("refused", "seq"),
            ("conversations", "id"),
            ("conversation_locations", "conversation, location"),
            ("messages", "id"),
            ("notices", "id"),
            ("usage", "month, location, direction, kind"),
        ] {
            let mut st = self.conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
            let cols = st.column_count();
            out.push_str(&format!("# {table}\n"));
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let mut line = Vec::with_capacity(cols);
                for i in 0..cols {
                    line.push(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                        rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                        rusqlite::types::ValueRef::Real(f) => f.to_string(),
                        rusqlite::types::ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
                        rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                    });
                }
                out.push_str(&line.join("|"));
                out.push('\n');
            }
        }
        Ok(out)
    }
}
