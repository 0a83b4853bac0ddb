//! Timelines: a world and the ordered events of a day (or a year) of messages.
//!
//! Hand-written timelines are YAML (`world:` and `events:`), generated or
//! recorded ones are JSON Lines (a first line naming the world, then one event
//! per line). Both spell an event the same way: an `id` unique in the
//! timeline, an `at` time (`2026-03-02T09:15:00Z`), a `type` and the fields of
//! that type. Every id is checked against the world when the event is read,
//! so replaying only evaluates rules. A YAML timeline is read whole and every
//! problem is reported at once; a JSON Lines timeline is streamed, so memory
//! does not grow with its length, and a bad line stops the replay there.
//!
//! This file holds the event model both formats share (`WrittenEvent` as
//! written, [`Event`] resolved, its `Digest`) and the time checks;
//! `yaml.rs` and `jsonl.rs` read the two formats, `resolve.rs` checks an
//! event's ids against the world. Replaying is in `replay::simulate`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::rules::facts::Answering;
use crate::world::locset::Loc;
use crate::world::{AccountIdx, ClientIdx, ContactUpdate, StaffIdx};

mod jsonl;
mod resolve;
mod yaml;

pub use jsonl::JsonlTimeline;
pub(crate) use resolve::resolve;
pub(crate) use yaml::read_yaml_events;
pub use yaml::YamlTimeline;

/// An event as written, in either format, before its ids are checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WrittenEvent {
    pub(crate) id: String,
    pub(crate) at: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) staff: Option<String>,
    pub(crate) client: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) from_account: Option<String>,
    pub(crate) text: Option<String>,
    #[serde(default)]
    pub(crate) photos: Vec<String>,
    pub(crate) via: Option<String>,
    pub(crate) answering: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) guest_app: Option<bool>,
    pub(crate) phone: Option<String>,
    pub(crate) sms_opt_in: Option<bool>,
    pub(crate) email: Option<String>,
    pub(crate) email_opt_in: Option<bool>,
}

pub(crate) const EVENT_TYPES: &[&str] = &[
    "login",
    "logout",
    "staff_message",
    "client_message",
    "delivery",
    "appointment",
    "contact",
];

/// How a client's message reached the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Sms,
    App,
    Email,
}

pub(crate) const VIA_VALUES: &[&str] = &["sms", "app", "email"];

/// A delivery report's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Delivered,
    Failed,
}

/// One event, resolved against the world.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its id, unique in the timeline.
    pub id: String,
    /// Its time, `2026-03-02T09:15:00Z`.
    pub at: String,
    /// Where the event was written (for messages about it).
    pub line: usize,
    pub(crate) what: What,
    /// Everything else it says, hashed: a resumed replay compares it with
    /// the event recorded at the same position.
    pub(crate) digest: Digest,
}

/// The fields an event may have besides `id`, `at` and `type`, in the order
/// a [`Digest`] numbers them. Stored in databases: append, never reorder.
pub(crate) const DIGEST_FIELDS: [&str; 16] = [
    "staff",
    "client",
    "location",
    "from",
    "from_account",
    "text",
    "photos",
    "via",
    "answering",
    "message",
    "status",
    "guest_app",
    "phone",
    "sms_opt_in",
    "email",
    "email_opt_in",
];

/// A fingerprint of what an event says besides its `id`, `at` and `type`
/// (which the store keeps as they are): for each field it has, in
/// [`DIGEST_FIELDS`] order, the field's number and the low 32 bits of the
/// XXH3 hash of its value, as written. A value that means the same as a
/// missing field (`via: sms`, an appointment `status: booked`, an empty
/// `text` or `photos`) counts as missing, so a timeline converted between
/// YAML and JSON Lines, or spelled out, has the same digest. Comparing two
/// digests names the fields that differ (a change goes unnoticed with
/// odds of one in four billion per field). At most 6 fields: 30 bytes,
/// inline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Digest(smallvec::SmallVec<[u8; 30]>);

impl Digest {
    /// The digest of a written event whose fields were checked for its type.
    pub(crate) fn of(raw: &WrittenEvent) -> Digest {
        let mut d = Digest::default();
        let kind = raw.kind.as_str();
        let mut put = |field: usize, value: Option<&str>| {
            if let Some(v) = value {
                d.push(field, xxhash_rust::xxh3::xxh3_64(v.as_bytes()));
            }
        };
        let bool_s = |b: Option<bool>| b.map(|b| if b { "true" } else { "false" });
        put(0, raw.staff.as_deref());
        put(1, raw.client.as_deref());
        put(2, raw.location.as_deref());
        put(3, raw.from.as_deref());
        put(4, raw.from_account.as_deref());
        put(5, raw.text.as_deref().filter(|t| !t.is_empty()));
        if !raw.photos.is_empty() {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for p in &raw.photos {
                h.update(p.as_bytes());
                h.update(&[0]);
            }
            d.push(6, h.digest());
        }
        let mut put = |field: usize, value: Option<&str>| {
            if let Some(v) = value {
                d.push(field, xxhash_rust::xxh3::xxh3_64(v.as_bytes()));
            }
        };
        put(7, raw.via.as_deref().filter(|v| *v != "sms"));
        put(8, raw.answering.as_deref());
        put(9, raw.message.as_deref());
        put(
            10,
            raw.status
                .as_deref()
                .filter(|s| !(kind == "appointment" && *s == "booked")),
        );
        put(11, bool_s(raw.guest_app));
        // A blank phone or email clears it, however many spaces it has.
        put(
            12,
            raw.phone.as_deref().map(|p| if p.trim().is_empty() { "" } else { p }),
        );
        put(13, bool_s(raw.sms_opt_in));
        put(
            14,
            raw.email.as_deref().map(|e| if e.trim().is_empty() { "" } else { e }),
        );
        put(15, bool_s(raw.email_opt_in));
        d
    }

    fn push(&mut self, field: usize, hash: u64) {
        self.0.push(field as u8);
        self.0.extend_from_slice(&(hash as u32).to_le_bytes());
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The fields whose values differ between two digests (a field one of
    /// them lacks differs), in [`DIGEST_FIELDS`] order.
    pub(crate) fn differing(a: &[u8], b: &[u8]) -> Vec<&'static str> {
        let fields = |d: &[u8]| {
            let mut out = [None; DIGEST_FIELDS.len()];
            for entry in d.chunks(5) {
                if let (Some(slot), Ok(hash)) = (out.get_mut(entry[0] as usize), <[u8; 4]>::try_from(&entry[1..])) {
                    *slot = Some(hash);
                }
            }
            out
        };
        let (a, b) = (fields(a), fields(b));
        DIGEST_FIELDS
            .iter()
            .zip(a.iter().zip(b.iter()))
            .filter(|(_, (x, y))| x != y)
            .map(|(name, _)| *name)
            .collect()
    }
}

#[derive(Debug, Clone)]
pub(crate) enum What {
    Login {
        staff: StaffIdx,
        location: Loc,
    },
    Logout {
        staff: StaffIdx,
    },
    /// A staff member writes to a client; the outbound rules choose the channel.
    StaffMessage {
        staff: StaffIdx,
        client: ClientIdx,
        /// Where they write from; when left out, where they are logged in at
        /// the time (or their only location).
        from: Option<Loc>,
        from_account: Option<AccountIdx>,
        text: String,
        photos: Vec<PathBuf>,
    },
    /// A client writes; the inbound rules decide where it lands.
    ClientMessage {
        client: ClientIdx,
        text: String,
        via: Via,
        /// What it answers; `None` continues the conversation (or is out of
        /// the blue when there is none).
        answering: Option<(Answering, Option<Loc>)>,
        photos: Vec<PathBuf>,
    },
    /// The carrier's verdict on the latest attempt of an earlier staff message.
    Delivery {
        message: String,
        status: Status,
    },
    Appointment {
        client: ClientIdx,
        location: Loc,
        completed: bool,
    },
    Contact {
        client: ClientIdx,
        update: ContactUpdate,
    },
}

impl What {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            What::Login { .. } => "login",
            What::Logout { .. } => "logout",
            What::StaffMessage { .. } => "staff_message",
            What::ClientMessage { .. } => "client_message",
            What::Delivery { .. } => "delivery",
            What::Appointment { .. } => "appointment",
            What::Contact { .. } => "contact",
        }
    }
}

/// A problem with one event: the field it concerns and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: Option<String>,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

fn ferr(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: Some(field.to_owned()),
        message: message.into(),
        help: None,
    }
}

/// How a time is written: RFC 3339 in UTC, to the second.
const TIME_HELP: &str = "write times as `2026-03-02T09:15:00Z` (RFC 3339, UTC, to the second)";

/// Checks an `at` time: `YYYY-MM-DDTHH:MM:SSZ`, in UTC, to the second, and
/// a real date and time of day (jiff decides: `2026-02-30` and `2025-02-29`
/// are refused, naming how many days the month has).
pub(crate) fn check_time(at: &str) -> Result<(), FieldError> {
    let err = |message: String| FieldError {
        field: Some("at".into()),
        message,
        help: Some(TIME_HELP.into()),
    };
    let b = at.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shape = b.len() == 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'Z';
    if !shape {
        return Err(err(format!("`{at}` is not a time in UTC")));
    }
    // Every part is ASCII digits of a fixed width: these parse.
    let num = |r: std::ops::Range<usize>| at[r].parse::<i16>().expect("checked digits");
    let (year, month, day) = (num(0..4), num(5..7) as i8, num(8..10) as i8);
    if let Err(e) = check_date(year, month, day) {
        return Err(err(format!("`{at}` is not a real date: {e}")));
    }
    let (hour, minute, second) = (num(11..13) as i8, num(14..16) as i8, num(17..19) as i8);
    if jiff::civil::Time::new(hour, minute, second, 0).is_err() {
        return Err(err(format!(
            "`{at}` is not a real time of day: hours go from 00 to 23, minutes and seconds from 00 to 59"
        )));
    }
    Ok(())
}

/// Checks a calendar date with jiff; the error says what is wrong with it
/// in words (`there is no month 13`, `February 2025 has 28 days`).
pub fn check_date(year: i16, month: i8, day: i8) -> Result<(), String> {
    if jiff::civil::Date::new(year, month, day).is_ok() {
        return Ok(());
    }
    if !(1..=12).contains(&month) {
        return Err(format!("there is no month {month:02}"));
    }
    if day < 1 {
        return Err(format!("there is no day {day:02}"));
    }
    match jiff::civil::Date::new(year, month, 1) {
        Ok(first) => Err(format!(
            "{} has {} days",
            first.strftime("%B %Y"),
            first.days_in_month()
        )),
        Err(_) => Err(format!("the year {year} is out of range")),
    }
}

/// serde's message, without its Rust-flavoured position suffix.
fn serde_message(msg: &str) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    msg.replace("invalid type: ", "wrong type: ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_to_the_second() {
        assert!(check_time("2026-03-02T09:15:00Z").is_ok());
        for bad in [
            "2026-03-02 09:15",
            "2026-13-02T09:15:00Z",
            "2026-03-02T09:15:00+01:00",
            "",
        ] {
            assert!(check_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn impossible_dates_are_refused_naming_the_month_and_its_days() {
        let message = |at: &str| check_time(at).unwrap_err().message;
        assert_eq!(
            message("2026-02-30T09:00:00Z"),
            "`2026-02-30T09:00:00Z` is not a real date: February 2026 has 28 days"
        );
        assert_eq!(
            message("2026-04-31T09:00:00Z"),
            "`2026-04-31T09:00:00Z` is not a real date: April 2026 has 30 days"
        );
        assert_eq!(
            message("2025-02-29T09:00:00Z"),
            "`2025-02-29T09:00:00Z` is not a real date: February 2025 has 28 days"
        );
        assert_eq!(
            message("2026-13-02T09:00:00Z"),
            "`2026-13-02T09:00:00Z` is not a real date: there is no month 13"
        );
        assert_eq!(
            message("2026-03-00T09:00:00Z"),
            "`2026-03-00T09:00:00Z` is not a real date: there is no day 00"
        );
        assert_eq!(
            message("2026-03-02T24:00:00Z"),
            "`2026-03-02T24:00:00Z` is not a real time of day: hours go from 00 to 23, minutes and seconds from 00 to 59"
        );
        assert_eq!(
            check_time("2026-02-30T09:00:00Z").unwrap_err().field.as_deref(),
            Some("at")
        );
        // Leap days and month ends that exist are accepted.
        for good in [
            "2024-02-29T23:59:59Z",
            "2000-02-29T00:00:00Z",
            "2026-04-30T12:00:00Z",
            "2026-12-31T23:59:59Z",
        ] {
            assert!(check_time(good).is_ok(), "{good}");
        }
        assert!(check_time("1900-02-29T00:00:00Z").is_err(), "1900 is not a leap year");
    }

    fn raw(json: &str) -> WrittenEvent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_digest_changes_with_any_field_and_names_it() {
        let base = raw(
            r#"{"id":"e1","at":"2026-03-02T09:00:00Z","type":"staff_message","staff":"sam","client":"cleo","text":"See you at 3pm!"}"#,
        );
        let d = Digest::of(&base);
        assert_eq!(d.as_bytes().len(), 15, "three fields, five bytes each");
        let changed = |f: &dyn Fn(&mut WrittenEvent)| {
            let mut r = base.clone();
            f(&mut r);
            Digest::differing(d.as_bytes(), Digest::of(&r).as_bytes())
        };
        assert_eq!(changed(&|r| r.text = Some("See you at 4pm!".into())), ["text"]);
        assert_eq!(changed(&|r| r.client = Some("nina".into())), ["client"]);
        assert_eq!(changed(&|r| r.from = Some("A".into())), ["from"]);
        assert_eq!(changed(&|r| r.photos = vec!["p.png".into()]), ["photos"]);
        assert_eq!(
            changed(&|r| {
                r.staff = Some("uma".into());
                r.text = None;
            }),
            ["staff", "text"]
        );
        // The id, time and type are kept by the store as they are, not here.
        assert!(changed(&|r| r.id = "e9".into()).is_empty());
        assert!(changed(&|r| r.at = "2026-03-02T10:00:00Z".into()).is_empty());
    }

    #[test]
    fn a_default_written_out_has_the_digest_of_the_field_left_out() {
        let same = |a: &str, b: &str| Digest::of(&raw(a)) == Digest::of(&raw(b));
        let head = r#""id":"e1","at":"2026-03-02T09:00:00Z""#;
        assert!(same(
            &format!(r#"{{{head},"type":"client_message","client":"cleo","text":"hi"}}"#),
            &format!(r#"{{{head},"type":"client_message","client":"cleo","text":"hi","via":"sms","photos":[]}}"#),
        ));
        assert!(same(
            &format!(r#"{{{head},"type":"appointment","client":"cleo","location":"A"}}"#),
            &format!(r#"{{{head},"type":"appointment","client":"cleo","location":"A","status":"booked"}}"#),
        ));
        assert!(same(
            &format!(r#"{{{head},"type":"staff_message","staff":"sam","client":"cleo"}}"#),
            &format!(r#"{{{head},"type":"staff_message","staff":"sam","client":"cleo","text":""}}"#),
        ));
        assert!(!same(
            &format!(r#"{{{head},"type":"client_message","client":"cleo","text":"hi"}}"#),
            &format!(r#"{{{head},"type":"client_message","client":"cleo","text":"hi","answering":"nothing"}}"#),
        ));
    }
}
