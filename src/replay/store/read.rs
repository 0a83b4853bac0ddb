//! Reading the store: a location's conversation list, a whole
//! conversation, SMS usage, and a dump of every table for tests.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Result, Store};

/// How many conversations a store's screen shows at once.
pub(crate) const IN_STORE: usize = 10;

/// One row of a location's conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ConversationSummary {
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
    /// When it was written, as the timeline gives it.
    pub at: String,
    /// The id of the timeline event that wrote it.
    pub event: String,
    /// `inbound` (from the client) or `outbound` (from staff).
    pub direction: String,
    /// The channel it came in on, or the channel of its latest outbound attempt.
    pub channel: String,
    /// The client's id, or the staff member's id.
    pub sender: String,
    /// As received, or as sent on the first attempt.
    pub text: String,
    /// Paths of the photos attached to it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// Inbound: where it landed; outbound: where it was sent from.
    pub locations: Vec<String>,
    /// Inbound: the staff who received it live.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub live_to: Vec<String>,
    /// `received`, `sent`, `delivered` or `failed`.
    pub status: String,
    /// Outbound: each attempt to deliver it, first to latest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptView>,
    /// What staff were told about it, such as a failed delivery.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<NoticeView>,
}

/// One attempt as kept in `messages.attempts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Attempt {
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

/// One try at delivering a staff message, on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptView {
    /// Its number, from 1.
    pub n: i64,
    /// When it was made.
    pub at: String,
    /// The channel it went out on (`push`, `sms`, `mms` or `email`).
    pub channel: String,
    /// The text sent on this attempt.
    pub text: String,
    /// `sent`, `delivered` or `failed`.
    pub status: String,
}

/// A notice shown to staff about a message, such as a failed delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeView {
    /// When it was shown.
    pub at: String,
    /// What it says.
    pub text: String,
    /// The staff whose screen played the audio cue with it.
    pub audio_cue_to: Vec<String>,
}

/// A whole conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationView {
    /// The client's id (a client has at most one conversation).
    pub client: String,
    /// `client` or `staff`: who wrote first.
    pub started_by: String,
    /// The staff member who started it, when staff did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// Where that staff member was logged in when they started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_from: Option<String>,
    /// What the client's first message answered: `confirmation`, `reminder`,
    /// `campaign`, `other` or `nothing`.
    pub answering: String,
    /// Unread client messages per location.
    pub unread: std::collections::BTreeMap<String, i64>,
    /// Its messages, oldest first.
    pub messages: Vec<MessageView>,
}

/// How SMS usage is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UsageBy {
    Account,
    Location,
}

/// SMS and MMS usage of one account or location in one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// The account or location id.
    pub key: String,
    /// SMS messages received from clients.
    pub sms_inbound: i64,
    /// SMS messages sent to clients.
    pub sms_outbound: i64,
    /// SMS messages both ways.
    pub sms_messages: i64,
    /// SMS segments both ways, the unit carriers bill.
    pub segments: i64,
    /// MMS messages both ways.
    pub mms_messages: i64,
}

fn split(s: String) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').map(str::to_owned).collect()
    }
}

/// A location the store's conversations concern, with its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LocationCounts {
    pub id: String,
    /// Conversations that concern it.
    pub conversations: i64,
    /// Unread client messages in them, added up.
    pub unread: i64,
}

/// What follows "no conversation … concerns location `X`": the closest
/// known location, or the locations the store knows, or that it is empty.
pub(crate) fn unknown_location_hint(location: &str, known: &[String]) -> String {
    match crate::diag::did_you_mean(location, known.iter().map(String::as_str)) {
        Some(s) => format!("; did you mean `{s}`?"),
        None if known.is_empty() => "; it holds no conversations yet".into(),
        None => {
            let some: Vec<&String> = known.iter().take(12).collect();
            format!("; its conversations concern {}", crate::diag::one_of(&some))
        }
    }
}

/// What follows "client `X` has no conversation …": the closest known client.
pub(crate) fn unknown_client_hint(client: &str, known: &[String]) -> String {
    crate::diag::did_you_mean(client, known.iter().map(String::as_str))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// The line under a location's conversation list: how many are shown of
/// how many, and, for the store's screen, its limit. `location` as it is
/// to be shown.
pub(crate) fn list_summary(shown: usize, total: usize, location: &str, in_store: bool) -> String {
    let noun = if total == 1 { "conversation" } else { "conversations" };
    if in_store {
        format!("{shown} of {total} {noun} at {location} (the store's screen shows at most {IN_STORE})")
    } else {
        format!("{total} {noun} at {location}")
    }
}

impl ConversationView {
    /// Who started it, in words: `staff: sam from A`, `the client, answering
    /// a confirmation`, `the client, out of the blue`. `show` writes an id
    /// as it is to be shown.
    pub(crate) fn started_words(&self, show: impl Fn(&str) -> String) -> String {
        match (&self.staff, &self.started_from) {
            (Some(s), Some(f)) => format!("staff: {} from {}", show(s), show(f)),
            _ if self.answering == "nothing" => "the client, out of the blue".into(),
            _ => format!("the client, answering a {}", show(&self.answering)),
        }
    }
}

impl NoticeView {
    /// Who heard its audio cue, in words. `show` writes an id as it is to be shown.
    pub(crate) fn cue_words(&self, show: impl Fn(&str) -> String) -> String {
        if self.audio_cue_to.is_empty() {
            "nobody live to hear the audio cue".to_owned()
        } else {
            let list: Vec<String> = self.audio_cue_to.iter().map(|i| show(i)).collect();
            format!("audio cue for {}", list.join(", "))
        }
    }
}

impl Store {
    /// A number that changes whenever another connection (a replay, in
    /// another process too) commits to the database: SQLite's
    /// `PRAGMA data_version`. Cheap: it reads no table.
    pub(crate) fn data_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Every location some conversation concerns, in id order, with how
    /// many conversations concern it and their unread messages.
    pub(crate) fn location_counts(&self) -> Result<Vec<LocationCounts>> {
        let mut st = self.conn.prepare(
            "SELECT location, count(*), coalesce(sum(unread), 0) FROM conversation_locations
             GROUP BY location ORDER BY location",
        )?;
        let rows = st.query_map([], |r| {
            Ok(LocationCounts {
                id: r.get(0)?,
                conversations: r.get(1)?,
                unread: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// A location's conversations, most recent activity first; `limit` for the store screen.
    pub(crate) fn conversations_at(&self, location: &str, limit: Option<usize>) -> Result<Vec<ConversationSummary>> {
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

    /// Every location some conversation concerns, in id order.
    pub(crate) fn locations(&self) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT location FROM conversation_locations ORDER BY location")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Every client with a conversation, in id order.
    pub(crate) fn clients(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare("SELECT client FROM conversations ORDER BY client")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// One client's whole conversation, oldest message first.
    pub(crate) fn conversation(&self, client: &str) -> Result<Option<ConversationView>> {
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
    pub(crate) fn usage(&self, by: UsageBy, month: Option<&str>) -> Result<Vec<UsageRow>> {
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
