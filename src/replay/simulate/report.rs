//! What one event did: the report a replay hands out after each commit.
//!
//! The simulator fills reports with data only. The words for what
//! happened ([`Happening`]'s `Display`) live here, apart from the code
//! that applies events, so that the replay itself never builds a sentence.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::world::ContactUpdate;

/// What one event did, as printed by `commroute simulate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventReport {
    /// The event's position in the timeline, from 1.
    pub seq: i64,
    /// The event's id (empty when reports do not describe events).
    pub id: String,
    /// The event's time (empty when reports do not describe events).
    pub at: String,
    /// The event's type, as the timeline names it.
    pub event: &'static str,
    /// What happened, by id; `None` when reports do not describe events
    /// (`simulate --quiet`). Serialised in words, `""` when `None`.
    #[serde(serialize_with = "in_words")]
    pub what: Option<Happening>,
    /// The channel a message travelled on (the fallback's, after a failed push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'static str>,
    /// Where a client's message landed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lands_at: Vec<String>,
    /// Where a staff member's message was sent from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_from: Option<String>,
    /// Staff who received a client message live.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<String>,
    /// What the conversation or the replay says about the event.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    /// Staff whose screen plays the audio cue.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub audio_cue: Vec<String>,
    /// The event was saved by an earlier run; nothing was written again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_recorded: bool,
}

/// What an event did, by the ids of who and where, with any message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// A staff member logged in at a location.
    LoggedIn {
        /// The staff member's id.
        staff: String,
        /// The location's id.
        location: String,
    },
    /// A staff member logged out.
    LoggedOut {
        /// The staff member's id.
        staff: String,
    },
    /// A client booked or completed an appointment at a location.
    Appointment {
        /// The client's id.
        client: String,
        /// The location's id.
        location: String,
        /// Completed (`true`) or only booked (`false`).
        completed: bool,
    },
    /// A client's contact facts changed.
    ContactChanged {
        /// The client's id.
        client: String,
        /// Which contact facts changed, and to what.
        update: ContactUpdate,
    },
    /// A client wrote a message.
    ClientWrote {
        /// The client's id.
        client: String,
        /// The message as written.
        text: String,
    },
    /// A staff member wrote to a client.
    StaffWrote {
        /// The staff member's id.
        staff: String,
        /// The client's id.
        client: String,
        /// The message as written.
        text: String,
    },
    /// A delivery report on an earlier staff message.
    Delivery {
        /// The id of the staff-message event whose message it reports on.
        message: String,
        /// The carrier reported a failure rather than a delivery.
        failed: bool,
    },
}

impl fmt::Display for Happening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Happening::LoggedIn { staff, location } => write!(f, "{staff} logs in at {location}"),
            Happening::LoggedOut { staff } => write!(f, "{staff} logs out"),
            Happening::Appointment {
                client,
                location,
                completed,
            } => write!(
                f,
                "{client} {} an appointment at {location}",
                if *completed { "completed" } else { "booked" }
            ),
            Happening::ContactChanged { client, update } => write!(f, "{client} {}", describe(update)),
            Happening::ClientWrote { client, text } => write!(f, "{client}: {text}"),
            Happening::StaffWrote { staff, client, text } => write!(f, "{staff} → {client}: {text}"),
            Happening::Delivery { message, failed } => {
                write!(f, "{message} {}", if *failed { "failed" } else { "delivered" })
            }
        }
    }
}

/// Serialises a report's `what` as its words, `""` when there are none.
fn in_words<S: Serializer>(what: &Option<Happening>, s: S) -> Result<S::Ok, S::Error> {
    match what {
        Some(h) => s.collect_str(h),
        None => s.serialize_str(""),
    }
}

/// A contact change in words: `installs the guest app, phone `+1…``.
fn describe(u: &ContactUpdate) -> String {
    let mut parts = Vec::new();
    if let Some(v) = u.guest_app {
        parts.push(format!("{} the guest app", if v { "installs" } else { "removes" }));
    }
    if let Some(p) = &u.phone {
        parts.push(format!("phone `{}`", p.as_deref().unwrap_or("")));
    }
    if let Some(v) = u.sms_opt_in {
        parts.push(format!("sms_opt_in {v}"));
    }
    if let Some(e) = &u.email {
        parts.push(format!("email `{}`", e.as_deref().unwrap_or("")));
    }
    if let Some(v) = u.email_opt_in {
        parts.push(format!("email_opt_in {v}"));
    }
    parts.join(", ")
}
