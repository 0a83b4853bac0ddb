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

use std::io::BufRead;
use std::path::{Path, PathBuf};

use marked_yaml::Node;
use serde::Deserialize;

use crate::diag::{did_you_mean, one_of, Diagnostic, Diagnostics, Pos, Source};
use crate::rules::facts::Answering;
use crate::world::locset::Loc;
use crate::world::{AccountIdx, ClientIdx, ContactUpdate, StaffIdx, World};
use crate::yaml::{self, Doc};

/// An event as written, in either format.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    pub id: String,
    pub at: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub staff: Option<String>,
    pub client: Option<String>,
    pub location: Option<String>,
    pub from: Option<String>,
    pub from_account: Option<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub photos: Vec<String>,
    pub via: Option<String>,
    pub answering: Option<String>,
    pub message: Option<String>,
    pub status: Option<String>,
    pub guest_app: Option<bool>,
    pub phone: Option<String>,
    pub sms_opt_in: Option<bool>,
    pub email: Option<String>,
    pub email_opt_in: Option<bool>,
}

pub const EVENT_TYPES: &[&str] = &[
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
pub enum Via {
    Sms,
    App,
    Email,
}

pub const VIA_VALUES: &[&str] = &["sms", "app", "email"];

/// A delivery report's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Delivered,
    Failed,
}

/// One event, resolved against the world.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub at: String,
    /// Where the event was written (for messages about it).
    pub line: usize,
    pub what: What,
    /// Everything else it says, hashed: a resumed replay compares it with
    /// the event recorded at the same position.
    pub digest: Digest,
}

/// The fields an event may have besides `id`, `at` and `type`, in the order
/// a [`Digest`] numbers them. Stored in databases: append, never reorder.
pub const DIGEST_FIELDS: [&str; 16] = [
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
pub struct Digest(smallvec::SmallVec<[u8; 30]>);

impl Digest {
    /// The digest of a written event whose fields were checked for its type.
    pub fn of(raw: &RawEvent) -> Digest {
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

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The fields whose values differ between two digests (a field one of
    /// them lacks differs), in [`DIGEST_FIELDS`] order.
    pub fn differing(a: &[u8], b: &[u8]) -> Vec<&'static str> {
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
pub enum What {
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
    pub fn kind(&self) -> &'static str {
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
pub struct FieldError {
    pub field: Option<String>,
    pub message: String,
    pub help: Option<String>,
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
pub fn check_time(at: &str) -> Result<(), FieldError> {
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

/// Resolves a written event against the world. `base` is the folder photo
/// paths are relative to.
pub fn resolve(mut raw: RawEvent, world: &World, base: &Path, line: usize) -> Result<Event, FieldError> {
    let (what, digest) = resolve_what(&mut raw, world, base)?;
    Ok(Event {
        id: raw.id,
        at: raw.at,
        line,
        what,
        digest,
    })
}

/// [`resolve`], leaving the event's id and time in `raw` (for messages).
fn resolve_what(raw: &mut RawEvent, world: &World, base: &Path) -> Result<(What, Digest), FieldError> {
    if raw.id.is_empty() {
        return Err(ferr("id", "an event needs a non-empty `id`"));
    }
    check_time(&raw.at)?;
    let allowed: &[&str] = match raw.kind.as_str() {
        "login" => &["staff", "location"],
        "logout" => &["staff"],
        "staff_message" => &["staff", "client", "from", "from_account", "text", "photos"],
        "client_message" => &["client", "text", "via", "answering", "photos"],
        "delivery" => &["message", "status"],
        "appointment" => &["client", "location", "status"],
        "contact" => &["client", "guest_app", "phone", "sms_opt_in", "email", "email_opt_in"],
        other => {
            let hint = match did_you_mean(other, EVENT_TYPES.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? "),
                None => String::new(),
            };
            return Err(FieldError {
                field: Some("type".into()),
                message: format!("unknown event type `{other}`"),
                help: Some(format!("{hint}event types are {}", one_of(EVENT_TYPES))),
            });
        }
    };
    let given: [(&str, bool); 17] = [
        ("staff", raw.staff.is_some()),
        ("client", raw.client.is_some()),
        ("location", raw.location.is_some()),
        ("from", raw.from.is_some()),
        ("from_account", raw.from_account.is_some()),
        ("text", raw.text.is_some()),
        ("photos", !raw.photos.is_empty()),
        ("via", raw.via.is_some()),
        ("answering", raw.answering.is_some()),
        ("message", raw.message.is_some()),
        ("status", raw.status.is_some()),
        ("guest_app", raw.guest_app.is_some()),
        ("phone", raw.phone.is_some()),
        ("sms_opt_in", raw.sms_opt_in.is_some()),
        ("email", raw.email.is_some()),
        ("email_opt_in", raw.email_opt_in.is_some()),
        ("id", true),
    ];
    for (field, present) in given {
        if present && field != "id" && !allowed.contains(&field) {
            return Err(FieldError {
                field: Some(field.into()),
                message: format!("a `{}` event has no `{field}`", raw.kind),
                help: Some(format!("its fields are {}", one_of(allowed))),
            });
        }
    }
    fn need<'a>(v: &'a Option<String>, field: &str, kind: &str) -> Result<&'a str, FieldError> {
        v.as_deref()
            .ok_or_else(|| ferr(field, format!("a `{kind}` event needs `{field}`")))
    }
    let staff = |world: &World| -> Result<StaffIdx, FieldError> {
        let id = need(&raw.staff, "staff", &raw.kind)?;
        world
            .staff_member(id)
            .ok_or_else(|| unknown("staff", "staff member", id, world.staff.iter().map(|s| s.id.as_str())))
    };
    let client = |world: &World| -> Result<ClientIdx, FieldError> {
        let id = need(&raw.client, "client", &raw.kind)?;
        world
            .client(id)
            .ok_or_else(|| unknown("client", "client", id, world.clients.iter().map(|c| c.id.as_str())))
    };
    let location = |world: &World, field: &str, id: &str| -> Result<Loc, FieldError> {
        world
            .location(id)
            .ok_or_else(|| unknown(field, "location", id, world.locations.iter().map(|l| l.id.as_str())))
    };
    let photos = || raw.photos.iter().map(|p| base.join(p)).collect::<Vec<_>>();
    let digest = Digest::of(raw);
    let what = match raw.kind.as_str() {
        "login" => {
            let s = staff(world)?;
            let lid = need(&raw.location, "location", &raw.kind)?;
            let l = location(world, "location", lid)?;
            let member = &world.staff[s as usize];
            if !member.locations.contains(l) {
                return Err(FieldError {
                    field: Some("location".into()),
                    message: format!("staff member `{}` is not associated with location `{lid}`", member.id),
                    help: Some(format!(
                        "a staff member logs in at one of their own locations: {}",
                        world.loc_ids(&member.locations).join(", ")
                    )),
                });
            }
            What::Login { staff: s, location: l }
        }
        "logout" => What::Logout { staff: staff(world)? },
        "staff_message" => {
            let s = staff(world)?;
            let member = &world.staff[s as usize];
            let from = match &raw.from {
                Some(lid) => {
                    let l = location(world, "from", lid)?;
                    if !member.locations.contains(l) {
                        return Err(ferr(
                            "from",
                            format!("staff member `{}` is not associated with location `{lid}`", member.id),
                        ));
                    }
                    Some(l)
                }
                None => None,
            };
            let from_account = match &raw.from_account {
                Some(a) => Some(world.account(a).ok_or_else(|| {
                    unknown(
                        "from_account",
                        "account",
                        a,
                        world.accounts.iter().map(|a| a.id.as_str()),
                    )
                })?),
                None => None,
            };
            What::StaffMessage {
                staff: s,
                client: client(world)?,
                from,
                from_account,
                text: raw.text.take().unwrap_or_default(),
                photos: photos(),
            }
        }
        "client_message" => {
            let via = match raw.via.as_deref() {
                None | Some("sms") => Via::Sms,
                Some("app") => Via::App,
                Some("email") => Via::Email,
                Some(other) => {
                    return Err(FieldError {
                        field: Some("via".into()),
                        message: format!("`{other}` is not a way a client writes"),
                        help: Some(format!("use {}", one_of(VIA_VALUES))),
                    })
                }
            };
            let answering = match raw.answering.as_deref() {
                None => None,
                Some("nothing") => Some((Answering::Nothing, None)),
                Some(a) => {
                    let (kind, lid) = a.split_once('@').ok_or_else(|| {
                        ferr(
                            "answering",
                            format!("`{a}` is not KIND@LOCATION; write for example `confirmation@A`, or `nothing`"),
                        )
                    })?;
                    let k = match Answering::parse(kind) {
                        Some(Answering::Nothing) | None => {
                            return Err(ferr(
                                "answering",
                                format!("`{kind}` is not a kind of location message; use confirmation, reminder, campaign or other"),
                            ))
                        }
                        Some(k) => k,
                    };
                    Some((k, Some(location(world, "answering", lid)?)))
                }
            };
            What::ClientMessage {
                client: client(world)?,
                text: raw.text.take().unwrap_or_default(),
                via,
                answering,
                photos: photos(),
            }
        }
        "delivery" => What::Delivery {
            message: need(&raw.message, "message", &raw.kind)?.to_owned(),
            status: match need(&raw.status, "status", &raw.kind)? {
                "delivered" => Status::Delivered,
                "failed" => Status::Failed,
                other => {
                    return Err(FieldError {
                        field: Some("status".into()),
                        message: format!("`{other}` is not a delivery status"),
                        help: Some("use `delivered` or `failed`".into()),
                    })
                }
            },
        },
        "appointment" => {
            let c = client(world)?;
            let lid = need(&raw.location, "location", &raw.kind)?;
            What::Appointment {
                client: c,
                location: location(world, "location", lid)?,
                completed: match raw.status.as_deref() {
                    None | Some("booked") => false,
                    Some("completed") => true,
                    Some(other) => {
                        return Err(FieldError {
                            field: Some("status".into()),
                            message: format!("`{other}` is not an appointment status"),
                            help: Some("use `booked` or `completed`".into()),
                        })
                    }
                },
            }
        }
        "contact" => {
            let blank = |v: &Option<String>| v.as_ref().map(|s| (!s.trim().is_empty()).then(|| s.clone()));
            What::Contact {
                client: client(world)?,
                update: ContactUpdate {
                    guest_app: raw.guest_app,
                    phone: blank(&raw.phone),
                    sms_opt_in: raw.sms_opt_in,
                    email: blank(&raw.email),
                    email_opt_in: raw.email_opt_in,
                },
            }
        }
        _ => unreachable!("event types were checked above"),
    };
    Ok((what, digest))
}

fn unknown<'a>(field: &str, what: &str, id: &str, known: impl Iterator<Item = &'a str>) -> FieldError {
    let known: Vec<&str> = known.collect();
    FieldError {
        field: Some(field.into()),
        message: format!("unknown {what} `{id}`"),
        help: did_you_mean(id, known.iter().copied()).map(|s| format!("did you mean `{s}`?")),
    }
}

// ---------------------------------------------------------------------------
// YAML timelines

/// A YAML timeline, read whole.
#[derive(Debug, Clone)]
pub struct YamlTimeline {
    pub description: String,
    pub world: World,
    pub events: Vec<Event>,
}

/// Reads `world:` (inline or a path relative to the file) from a mapping.
pub fn read_world(doc: &mut Doc, top: &marked_yaml::types::MarkedMappingNode, path: &Path) -> Option<World> {
    match yaml::get(top, "world") {
        None => {
            doc.error(
                Pos::new(1, 1),
                None,
                "the file has no `world`",
                Some("give `world:` inline, or a path to a world file relative to this file".into()),
            );
            None
        }
        Some(Node::Scalar(s)) => {
            let rel = s.as_str().to_owned();
            let full = path.parent().unwrap_or(Path::new(".")).join(&rel);
            match World::load(&full) {
                Ok(w) => Some(w),
                Err(e) => {
                    if full.exists() {
                        doc.diags.extend(e);
                    } else {
                        doc.error(
                            Pos::of(s.span()),
                            None,
                            format!("cannot read the world file `{rel}`"),
                            Some(format!("the path is relative to this file: {}", full.display())),
                        );
                    }
                    None
                }
            }
        }
        Some(n) => World::from_node(doc, n),
    }
}

/// Turns a YAML node into JSON so events are read by the same code in both
/// formats (`true`/`false` become booleans, every other scalar a string).
fn to_json(node: &Node) -> serde_json::Value {
    match node {
        Node::Scalar(s) => match s.as_str() {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            v => serde_json::Value::String(v.to_owned()),
        },
        Node::Sequence(seq) => seq.iter().map(to_json).collect(),
        Node::Mapping(m) => m
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// Reads the `events:` list of a YAML document, reporting every problem.
pub fn read_events(doc: &mut Doc, node: &Node, world: &World, base: &Path) -> Vec<Event> {
    let mut events = Vec::new();
    let Some(seq) = doc.sequence(node, "`events`", None) else {
        return events;
    };
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut last_at = String::new();
    for item in seq.iter() {
        let Some(m) = doc.mapping(item, "each event", None) else {
            continue;
        };
        let pos = Pos::of(m.span());
        let id = yaml::get(m, "id").map(|n| to_json(n).as_str().unwrap_or_default().to_owned());
        let subject = id.as_ref().map(|i| format!("event `{i}`"));
        // Yes/no fields first, so a wrong value is reported at its key.
        let mut bad_bool = false;
        for key in ["guest_app", "sms_opt_in", "email_opt_in"] {
            if let Some(n) = yaml::get(m, key) {
                bad_bool |= doc.boolean(n, &format!("`{key}`"), subject.as_deref()).is_none();
            }
        }
        if bad_bool {
            continue;
        }
        if let Some(id) = &id {
            if let Some(first) = seen.get(id) {
                doc.error(
                    yaml::key_pos(m, "id").unwrap_or(pos),
                    subject.as_deref(),
                    format!("duplicate event id `{id}`"),
                    Some(format!(
                        "the same id is used at line {first}; every event needs its own id"
                    )),
                );
                continue;
            }
            seen.insert(id.clone(), pos.line);
        }
        let raw: RawEvent = match serde_json::from_value(to_json(item)) {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                let key_pos = msg.split('`').nth(1).and_then(|k| yaml::key_pos(m, k)).unwrap_or(pos);
                doc.error(key_pos, subject.as_deref(), serde_message(&msg), None);
                continue;
            }
        };
        match resolve(raw, world, base, pos.line) {
            Ok(ev) => {
                if ev.at < last_at {
                    doc.error(
                        yaml::key_pos(m, "at").unwrap_or(pos),
                        subject.as_ref().map(|s| format!("{s}, field `at`")).as_deref(),
                        format!("`{}` is earlier than the event before it (`{last_at}`)", ev.at),
                        Some("events are replayed in order: sort them by time".into()),
                    );
                }
                last_at = ev.at.clone();
                events.push(ev);
            }
            Err(fe) => {
                let at = fe.field.as_deref().and_then(|f| yaml::key_pos(m, f)).unwrap_or(pos);
                // The event and the field, as a JSON Lines timeline names them.
                let subject = match (&subject, &fe.field) {
                    (Some(s), Some(f)) => Some(format!("{s}, field `{f}`")),
                    (s, _) => s.clone(),
                };
                doc.error(at, subject.as_deref(), fe.message, fe.help);
            }
        }
    }
    events
}

/// serde's message, without its Rust-flavoured position suffix.
fn serde_message(msg: &str) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    msg.replace("invalid type: ", "wrong type: ")
}

impl YamlTimeline {
    pub fn load(path: &Path) -> Result<YamlTimeline, Diagnostics> {
        let source = Source::read(path)?;
        let (mut doc, node) = Doc::parse(source)?;
        let Some(top) = doc.mapping(&node, "a timeline", None) else {
            return Err(doc.diags);
        };
        // A timeline scenario's `checks` are for `commroute test`; replaying ignores them.
        doc.check_keys(top, &["description", "world", "events", "checks"], "a timeline", None);
        let description = yaml::get(top, "description")
            .and_then(|n| doc.string(n, "`description`", None))
            .map(|s| s.value)
            .unwrap_or_default();
        let world = read_world(&mut doc, top, path);
        let events = match (yaml::get(top, "events"), &world) {
            (Some(n), Some(w)) => read_events(&mut doc, n, w, path.parent().unwrap_or(Path::new("."))),
            (None, _) => {
                doc.error(
                    Pos::new(1, 1),
                    None,
                    "the timeline has no `events`",
                    Some("add `events:` with one entry per event".into()),
                );
                Vec::new()
            }
            _ => Vec::new(),
        };
        doc.finish(())?;
        Ok(YamlTimeline {
            description,
            world: world.expect("a world was read when there is no problem"),
            events,
        })
    }
}

// ---------------------------------------------------------------------------
// JSON Lines timelines

/// The first line of a JSON Lines timeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldLine<'a> {
    #[serde(rename = "type")]
    kind: String,
    /// A world file, relative to the timeline.
    path: Option<String>,
    /// Or the world itself, as JSON, exactly as it is written in the line.
    #[serde(borrow)]
    world: Option<&'a serde_json::value::RawValue>,
}

/// Discards the rest of an overlong line without keeping it.
fn skip_rest_of_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = chunk.len();
                reader.consume(n);
            }
        }
    }
}

/// A JSON Lines timeline being streamed: the world, then events one by one.
pub struct JsonlTimeline<R> {
    pub path: PathBuf,
    pub world: World,
    reader: R,
    line: usize,
    buf: String,
    base: PathBuf,
    last_at: String,
}

impl JsonlTimeline<std::io::BufReader<std::fs::File>> {
    pub fn open(path: &Path) -> Result<Self, Diagnostics> {
        let f = std::fs::File::open(path).map_err(|e| {
            Diagnostics::from(Diagnostic::new(
                path,
                Pos::default(),
                format!("cannot read the file: {e}"),
            ))
        })?;
        JsonlTimeline::new(path, std::io::BufReader::with_capacity(1 << 16, f))
    }
}

impl<R: BufRead> JsonlTimeline<R> {
    pub fn new(path: &Path, mut reader: R) -> Result<Self, Diagnostics> {
        let here = |line: usize, message: String| {
            Diagnostics::from(
                Diagnostic::new(path, Pos::new(line, 1), message)
                    .help("the first line names the world: {\"type\":\"world\",\"path\":\"world.yaml\"}, or holds it: {\"type\":\"world\",\"world\":{\"accounts\":[...],...}}"),
            )
        };
        // The world line may hold a whole world, so it may be as long as a
        // world file, and no longer: read one byte past that at most.
        let mut bytes = Vec::new();
        let limit = crate::diag::MAX_FILE_SIZE;
        std::io::Read::take(&mut reader, limit + 1)
            .read_until(b'\n', &mut bytes)
            .map_err(|e| here(1, format!("cannot read the file: {e}")))?;
        if bytes.len() as u64 > limit {
            return Err(here(
                1,
                format!(
                    "the first line is longer than {} MiB, the most a world may take",
                    limit >> 20
                ),
            ));
        }
        if bytes.starts_with(crate::diag::BOM) {
            bytes.drain(..crate::diag::BOM.len());
        }
        let buf = String::from_utf8(bytes).map_err(|_| here(1, "the first line is not valid UTF-8 text".into()))?;
        let first: WorldLine = serde_json::from_str(&buf).map_err(|e| here(1, serde_message(&e.to_string())))?;
        if first.kind != "world" {
            return Err(here(
                1,
                format!(
                    "the first line is a `{}`, not the world",
                    first.kind.chars().take(40).collect::<String>()
                ),
            ));
        }
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let world = match (&first.path, first.world) {
            (Some(p), None) => World::load(&base.join(p))?,
            // JSON is YAML: the inline world is read by the same loader as a
            // world file, from the line as it is written (no copy of it is
            // built), with the rest of the line blanked out so that every
            // problem is reported at its column of the timeline's line 1.
            (None, Some(w)) => {
                let start = w.get().as_ptr() as usize - buf.as_ptr() as usize;
                let mut text = " ".repeat(buf[..start].chars().count());
                text.push_str(w.get());
                World::parse(Source::new(path, text))?
            }
            _ => return Err(here(1, "the world line gives either `path` or `world`".into())),
        };
        let buf = String::new();
        Ok(JsonlTimeline {
            path: path.to_path_buf(),
            world,
            reader,
            line: 1,
            buf,
            base,
            last_at: String::new(),
        })
    }

    /// The next event, `None` at the end, or the problem with its line.
    pub fn next_event(&mut self) -> Option<Result<Event, Diagnostic>> {
        loop {
            self.buf.clear();
            self.line += 1;
            // Read at most one byte more than a line may hold, so a hostile
            // line cannot make the buffer grow without bound.
            let limit = crate::engine::event::MAX_EVENT_LINE as u64 + 1;
            match <&mut R as std::io::Read>::take(&mut self.reader, limit).read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(n) if n as u64 == limit && !self.buf.ends_with('\n') => {
                    if let Err(e) = skip_rest_of_line(&mut self.reader) {
                        return Some(Err(Diagnostic::new(
                            &self.path,
                            Pos::new(self.line, 1),
                            format!("cannot read the line: {e}"),
                        )));
                    }
                    return Some(Err(Diagnostic::new(
                        &self.path,
                        Pos::new(self.line, 1),
                        format!("the line is longer than {} bytes", crate::engine::event::MAX_EVENT_LINE),
                    )
                    .help("an event is one short JSON object per line")));
                }
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(Diagnostic::new(
                        &self.path,
                        Pos::new(self.line, 1),
                        format!("cannot read the line: {e}"),
                    )))
                }
            }
            if self.buf.trim().is_empty() {
                continue;
            }
            let line = self.line;
            // The event by its id when it has one, and the field.
            let diag = |id: Option<&str>, fe: FieldError| {
                let mut d = Diagnostic::new(&self.path, Pos::new(line, 1), fe.message);
                match (id.filter(|i| !i.is_empty()), fe.field) {
                    (Some(id), Some(f)) => d = d.subject(format!("event `{id}`, field `{f}`")),
                    (Some(id), None) => d = d.subject(format!("event `{id}`")),
                    (None, Some(f)) => d = d.subject(format!("field `{f}`")),
                    (None, None) => {}
                }
                if let Some(h) = fe.help {
                    d = d.help(h);
                }
                d
            };
            let mut raw: RawEvent = match serde_json::from_str(&self.buf) {
                Ok(r) => r,
                Err(e) => {
                    return Some(Err(diag(
                        None,
                        FieldError {
                            field: None,
                            message: serde_message(&e.to_string()),
                            help: None,
                        },
                    )))
                }
            };
            let ev = match resolve_what(&mut raw, &self.world, &self.base) {
                Ok((what, digest)) => Event {
                    id: raw.id,
                    at: raw.at,
                    line,
                    what,
                    digest,
                },
                Err(fe) => return Some(Err(diag(Some(&raw.id), fe))),
            };
            if ev.at < self.last_at {
                return Some(Err(diag(
                    Some(&ev.id),
                    FieldError {
                        field: Some("at".into()),
                        message: format!("`{}` is earlier than the event before it (`{}`)", ev.at, self.last_at),
                        help: Some("events are replayed in order: sort them by time".into()),
                    },
                )));
            }
            self.last_at.clone_from(&ev.at);
            return Some(Ok(ev));
        }
    }
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

    fn raw(json: &str) -> RawEvent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_digest_changes_with_any_field_and_names_it() {
        let base = raw(
            r#"{"id":"e1","at":"2026-03-02T09:00:00Z","type":"staff_message","staff":"sam","client":"cleo","text":"See you at 3pm!"}"#,
        );
        let d = Digest::of(&base);
        assert_eq!(d.as_bytes().len(), 15, "three fields, five bytes each");
        let changed = |f: &dyn Fn(&mut RawEvent)| {
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
