//! Writing a replay into the store: claiming event ids, conversations,
//! messages, delivery attempts, notices, unread counts and usage, inside
//! the replay's batch transactions.

use rusqlite::{params, OptionalExtension};

use super::{Result, Store};

/// What an event recorded by an earlier run was, to compare with the
/// event a resumed replay has at that position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordedPosition {
    pub(crate) seq: i64,
    pub(crate) at: String,
    pub(crate) kind: String,
    pub(crate) digest: Vec<u8>,
}

/// The outcome of claiming an event's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The id was free and is now this event's, in the open transaction.
    Claimed,
    /// An earlier event of the timeline has the id: its position and line.
    Duplicate { seq: i64, line: i64 },
    /// The same id at the same position was written by another run while
    /// this one ran (it found the position free when it started).
    WrittenByAnother,
}

/// A conversation as kept between events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConversationRow {
    pub(crate) id: i64,
    pub(crate) client: String,
    pub(crate) started_by: String,
    pub(crate) staff: Option<String>,
    pub(crate) started_from: Option<String>,
    pub(crate) answering: String,
    pub(crate) answered_location: Option<String>,
}

/// A staff message, as a delivery report needs it.
#[derive(Debug, Clone)]
pub(crate) struct SentMessage {
    pub(crate) id: i64,
    pub(crate) conversation: i64,
    /// Every attempt so far (the JSON of `messages.attempts`); `None`: only the first.
    pub(crate) attempts: Option<String>,
    /// The channel of the latest attempt.
    pub(crate) channel: String,
    pub(crate) at: String,
}

/// The rest of a staff message, needed when a report says it failed.
#[derive(Debug, Clone)]
pub(crate) struct SentDetails {
    pub(crate) client: String,
    pub(crate) account: Option<String>,
    /// As staff typed it.
    pub(crate) typed: String,
    /// As sent on the first attempt.
    pub(crate) text: String,
    pub(crate) attachments: String,
    /// Where it was sent from.
    pub(crate) location: String,
}

impl Store {
    pub(crate) fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN")?;
        Ok(())
    }

    pub(crate) fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
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
    pub(crate) fn recorded(&self, id: &str) -> Result<Option<RecordedPosition>> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq, at, type, digest FROM events WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(RecordedPosition {
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
    pub(crate) fn event_at(&self, seq: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT id FROM events WHERE seq = ?1", [seq], |r| r.get(0))
            .optional()?)
    }

    /// Claims an id for the event at a position, before anything else of the
    /// event is written.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn claim_event_id(
        &self,
        id: &str,
        seq: i64,
        line: usize,
        at: &str,
        kind: &str,
        digest: &[u8],
    ) -> Result<Claim> {
        // A plain INSERT: its primary key check is the insert's own seek
        // (an upsert would look the key up once more first).
        match self
            .conn
            .prepare_cached("INSERT INTO events (id, seq, line, at, type, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![id, seq, line as i64, at, kind, digest])
        {
            Ok(_) => return Ok(Claim::Claimed),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {}
            Err(e) => return Err(e.into()),
        }
        let (first, line): (i64, i64) = self
            .conn
            .prepare_cached("SELECT seq, line FROM events WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        // The position was free when this run started (positions recorded
        // before are never claimed again): the same id there now is
        // another run's row, which this run must leave alone.
        Ok(if first == seq {
            Claim::WrittenByAnother
        } else {
            Claim::Duplicate { seq: first, line }
        })
    }

    /// Gives back the id of an event that failed before it was applied.
    /// Only for a [`Claim::Claimed`] of the open transaction: the row is
    /// this run's own, uncommitted, and no other connection can have
    /// written it.
    pub(crate) fn release_event_id(&self, id: &str, seq: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM events WHERE id = ?1 AND seq = ?2")?
            .execute(params![id, seq])?;
        Ok(())
    }

    /// Undoes the open transaction (a batch whose last event could not be
    /// cleaned up is not committed; its events are replayed next time).
    pub(crate) fn rollback(&self) -> Result<()> {
        self.conn.execute_batch("ROLLBACK")?;
        Ok(())
    }

    /// A message that was not sent (refused photo, unreachable client).
    pub(crate) fn record_refused(&self, event: &str, seq: i64, reason: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO refused (event, seq, reason) VALUES (?1, ?2, ?3)")?
            .execute(params![event, seq, reason])?;
        Ok(())
    }

    pub(crate) fn was_refused(&self, event: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM refused WHERE event = ?1")?
            .query_row([event], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub(crate) fn conversations_all(&self) -> Result<Vec<ConversationRow>> {
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

    pub(crate) fn create_conversation(&self, c: &ConversationRow) -> Result<i64> {
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
    pub(crate) fn insert_message(
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
    pub(crate) fn set_unread(&self, conversation: i64, location: &str, unread: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO conversation_locations (conversation, location, unread) VALUES (?1, ?2, ?3)
                 ON CONFLICT (conversation, location) DO UPDATE SET unread = excluded.unread",
            )?
            .execute(params![conversation, location, unread])?;
        Ok(())
    }

    /// Every unread count, to carry on from where an earlier run stopped.
    pub(crate) fn unread_all(&self) -> Result<Vec<(i64, String, i64)>> {
        let mut st = self
            .conn
            .prepare("SELECT conversation, location, unread FROM conversation_locations")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// A message's new status, channel and attempts after a delivery report.
    pub(crate) fn set_message_status(&self, message: i64, channel: &str, status: &str, attempts: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE messages SET channel = ?2, status = ?3, attempts = ?4 WHERE id = ?1")?
            .execute(params![message, channel, status, attempts])?;
        Ok(())
    }

    /// Adds to the usage counters of one month, location, direction and kind.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_usage(
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

    pub(crate) fn insert_notice(
        &self,
        message: i64,
        conversation: i64,
        at: &str,
        text: &str,
        cue_to: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO notices (message, conversation, at, text, audio_cue_to) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![message, conversation, at, text, cue_to])?;
        Ok(())
    }

    /// The staff message an event sent, with its attempts.
    pub(crate) fn message_of_event(&self, event: &str) -> Result<Option<SentMessage>> {
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

    pub(crate) fn sent_details(&self, message: i64) -> Result<SentDetails> {
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
