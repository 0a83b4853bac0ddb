//! Events to decide: a client's message and a staff member's message.
//!
//! Events arrive with ids as text (from the CLI, a scenario file or a JSON
//! line); [`InboundRequest::resolve`] and [`OutboundRequest::resolve`] check
//! them against the world once and turn them into numbered events the engine
//! evaluates without further lookups.

use serde::{Deserialize, Serialize};

use crate::rules::facts::Answering;
use crate::world::locset::Loc;
use crate::world::{AccountIdx, ClientIdx, StaffIdx, World};

/// How a conversation started, resolved against a world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// The client wrote first: answering a location's message, or out of the blue.
    Client {
        answering: Answering,
        location: Option<Loc>,
    },
    /// A staff member wrote first, from a location they were logged in at.
    Staff { staff: StaffIdx, from: Loc },
}

/// A client's message, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inbound {
    pub(crate) client: ClientIdx,
    pub(crate) start: Start,
}

/// A staff member's message, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub(crate) client: ClientIdx,
    pub(crate) sender: AccountIdx,
    pub(crate) text: String,
}

/// Splits `KIND@LOCATION` into its trimmed parts without copying them.
fn split_answer(s: &str) -> Result<(&str, &str), EventError> {
    match s.split_once('@') {
        Some((kind, loc)) if !kind.is_empty() && !loc.is_empty() => Ok((kind.trim(), loc.trim())),
        _ => Err(err(
            "answering",
            format!(
                "`{s}` is not KIND@LOCATION; write for example `confirmation@A` (kinds: confirmation, reminder, campaign, other)"
            ),
        )),
    }
}

/// A client's message as written in a file or on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundRequest {
    /// The client who writes.
    pub client: String,
    /// What the client answers (`confirmation@A`); none for out of the blue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answering: Option<String>,
    /// The staff member who started the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// Where that staff member started it from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// A staff member's message as written in a file or on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundRequest {
    /// The client written to.
    pub client: String,
    /// The account the message is sent from.
    pub from_account: String,
    /// The message text.
    #[serde(default)]
    pub text: String,
}

/// Why an event cannot be decided in this world; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct EventError {
    /// The field at fault, as written in files (`client`, `from_account`...).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> EventError {
    EventError {
        field,
        message: message.into(),
    }
}

/// Above this many known ids an unknown id gets no "did you mean" hint: the
/// search compares against every id, which would make one bad line of a batch
/// over a large world cost milliseconds.
const HINT_LIMIT: usize = 5_000;

fn unknown<'a>(field: &'static str, what: &str, id: &str, known: impl ExactSizeIterator<Item = &'a str>) -> EventError {
    let hint = match (known.len() <= HINT_LIMIT)
        .then(|| crate::diag::did_you_mean(id, known))
        .flatten()
    {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    };
    err(field, format!("unknown {what} `{id}`{hint}"))
}

impl InboundRequest {
    /// Checks the ids against the world and numbers them for the engine.
    pub fn resolve(&self, world: &World) -> Result<Inbound, EventError> {
        resolve_inbound(
            world,
            &self.client,
            self.answering.as_deref(),
            self.staff.as_deref(),
            self.from.as_deref(),
        )
    }
}

/// Resolves the fields of a client's message against a world (what
/// [`InboundRequest::resolve`] does, without needing owned strings).
pub(crate) fn resolve_inbound(
    world: &World,
    client_id: &str,
    answering: Option<&str>,
    staff: Option<&str>,
    from: Option<&str>,
) -> Result<Inbound, EventError> {
    let client = client_of(world, client_id)?;
    let start = match (staff, answering) {
        (Some(_), Some(_)) => {
            return Err(err(
                "answering",
                "a conversation is started either by a staff member (`staff`) or by the client (`answering`), not both",
            ))
        }
        (Some(sid), None) => {
            let staff = world
                .staff_member(sid)
                .ok_or_else(|| unknown("staff", "staff member", sid, world.staff.iter().map(|s| s.id.as_str())))?;
            let member = &world.staff[staff as usize];
            let from = match from {
                    Some(lid) => {
                        let loc = world
                            .location(lid)
                            .ok_or_else(|| unknown("from", "location", lid, world.locations.iter().map(|l| l.id.as_str())))?;
                        if !member.locations.contains(loc) {
                            return Err(err(
                                "from",
                                format!(
                                    "staff member `{sid}` is not associated with location `{lid}` (their locations: {})",
                                    world.loc_ids(&member.locations).join(", ")
                                ),
                            ));
                        }
                        loc
                    }
                    None if member.locations.len() == 1 => member.locations.as_slice()[0],
                    None => match member.logged_in_at {
                        Some(l) => l,
                        None => {
                            return Err(err(
                                "from",
                                format!(
                                    "staff member `{sid}` has several locations ({}) and is not logged in: say which one they started the conversation from",
                                    world.loc_ids(&member.locations).join(", ")
                                ),
                            ))
                        }
                    },
                };
            Start::Staff { staff, from }
        }
        (None, answering) => {
            if from.is_some() {
                return Err(err(
                    "from",
                    "`from` is the location a staff member started the conversation from; give `staff` too",
                ));
            }
            match answering {
                None => Start::Client {
                    answering: Answering::Nothing,
                    location: None,
                },
                Some(text) => {
                    let (kind, location) = split_answer(text)?;
                    let kind = match Answering::parse(kind) {
                            Some(Answering::Nothing) | None => {
                                return Err(err(
                                    "answering",
                                    format!("`{kind}` is not a kind of location message; use confirmation, reminder, campaign or other"),
                                ))
                            }
                            Some(k) => k,
                        };
                    let loc = world.location(location).ok_or_else(|| {
                        unknown(
                            "answering",
                            "location",
                            location,
                            world.locations.iter().map(|l| l.id.as_str()),
                        )
                    })?;
                    Start::Client {
                        answering: kind,
                        location: Some(loc),
                    }
                }
            }
        }
    };
    Ok(Inbound { client, start })
}

impl OutboundRequest {
    /// Checks the ids against the world and numbers them for the engine.
    pub fn resolve(&self, world: &World) -> Result<Outbound, EventError> {
        let (client, sender) = resolve_outbound(world, &self.client, &self.from_account)?;
        Ok(Outbound {
            client,
            sender,
            text: self.text.clone(),
        })
    }
}

/// The client an event names, or an error suggesting the closest id.
fn client_of(world: &World, client_id: &str) -> Result<ClientIdx, EventError> {
    world.client(client_id).ok_or_else(|| {
        unknown(
            "client",
            "client",
            client_id,
            world.clients.iter().map(|c| c.id.as_str()),
        )
    })
}

/// Resolves the client and sending account of a staff member's message.
pub(crate) fn resolve_outbound(
    world: &World,
    client_id: &str,
    from_account: &str,
) -> Result<(ClientIdx, AccountIdx), EventError> {
    let client = client_of(world, client_id)?;
    let sender = world.account(from_account).ok_or_else(|| {
        unknown(
            "from_account",
            "account",
            from_account,
            world.accounts.iter().map(|a| a.id.as_str()),
        )
    })?;
    Ok((client, sender))
}

/// One recorded or generated event, as a line of JSON Lines. The same format
/// is read by `commroute route batch` and by `commroute diff --events`:
///
/// ```json
/// {"id":"e1","type":"inbound","client":"cleo","answering":"confirmation@A"}
/// {"id":"e2","type":"inbound","client":"cleo","staff":"sam","from":"A"}
/// {"id":"e3","type":"inbound","client":"nina"}
/// {"id":"e4","type":"outbound","client":"gwen","from_account":"glow-uptown","text":"See you at 3pm!"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EventLine {
    Inbound {
        id: String,
        #[serde(flatten)]
        request: InboundRequest,
    },
    Outbound {
        id: String,
        #[serde(flatten)]
        request: OutboundRequest,
    },
}

impl EventLine {
    pub fn id(&self) -> &str {
        match self {
            EventLine::Inbound { id, .. } | EventLine::Outbound { id, .. } => id,
        }
    }
}

/// The longest event line [`EventLines`] reads: 64 KiB. A real event is a few
/// hundred bytes; a longer line is refused without being held in memory.
pub const MAX_EVENT_LINE: usize = 64 * 1024;

/// Why a line of JSON Lines is not an event. Each names its line, so the
/// other lines of a batch can still be decided.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("line {line}: the line is longer than {max} bytes, the most an event may take")]
    TooLong { line: usize, max: usize },
    #[error("line {line}: the line is not valid UTF-8 text")]
    NotUtf8 { line: usize },
    #[error("line {line}: {message}")]
    Json { line: usize, message: String },
    #[error("cannot read the events: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads events from JSON Lines, one per line, with their line numbers.
/// Blank lines are skipped; a line over the length limit is skipped to its
/// end and reported, so memory stays bounded whatever the input. This is
/// the reader for `route batch` and `diff --events`.
///
/// ```
/// use commroute::engine::event::EventLines;
/// let input = "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\"}\n\nnot json\n";
/// let read: Vec<_> = EventLines::new(input.as_bytes()).collect();
/// assert_eq!(read[0].as_ref().unwrap().1.id(), "e1");
/// assert!(read[1].as_ref().unwrap_err().to_string().starts_with("line 3: "));
/// ```
pub struct EventLines<R> {
    reader: R,
    line: usize,
    max: usize,
    buf: Vec<u8>,
}

impl<R: std::io::BufRead> EventLines<R> {
    pub fn new(reader: R) -> Self {
        EventLines::with_max(reader, MAX_EVENT_LINE)
    }

    /// A reader with another line length limit.
    pub fn with_max(reader: R, max: usize) -> Self {
        EventLines {
            reader,
            line: 0,
            max,
            buf: Vec::new(),
        }
    }

    /// Reads one line into `buf` (without its end), keeping at most `max`
    /// bytes. `None` at the end of the input; `Some(false)` for a line that
    /// was too long. A byte-order mark before the first line is dropped.
    fn read_line(&mut self) -> Result<Option<bool>, std::io::Error> {
        self.buf.clear();
        if self.line == 0 {
            let head = self.reader.fill_buf()?;
            if head.starts_with(crate::diag::BOM) {
                self.reader.consume(crate::diag::BOM.len());
            }
        }
        let mut any = false;
        let mut fits = true;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (chunk, used, end) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            if fits && self.buf.len() + chunk.len() <= self.max {
                self.buf.extend_from_slice(chunk);
            } else if fits {
                fits = false;
                self.buf = Vec::new();
            }
            self.reader.consume(used);
            if end {
                break;
            }
        }
        Ok(any.then_some(fits))
    }
}

impl<R: std::io::BufRead> Iterator for EventLines<R> {
    type Item = Result<(usize, EventLine), LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let fits = match self.read_line() {
                Ok(Some(fits)) => fits,
                Ok(None) => return None,
                Err(e) => return Some(Err(LineError::Io(e))),
            };
            self.line += 1;
            let line = self.line;
            if !fits {
                return Some(Err(LineError::TooLong { line, max: self.max }));
            }
            let bytes = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
            let Ok(text) = std::str::from_utf8(bytes) else {
                return Some(Err(LineError::NotUtf8 { line }));
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(
                serde_json::from_str(text)
                    .map(|event| (line, event))
                    .map_err(|e| LineError::Json {
                        line,
                        message: e.to_string(),
                    }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_round_trip() {
        let line = r#"{"id":"e1","type":"inbound","client":"cleo","answering":"confirmation@A"}"#;
        let ev: EventLine = serde_json::from_str(line).unwrap();
        assert_eq!(
            ev,
            EventLine::Inbound {
                id: "e1".into(),
                request: InboundRequest {
                    client: "cleo".into(),
                    answering: Some("confirmation@A".into()),
                    ..Default::default()
                }
            }
        );
        let out: EventLine =
            serde_json::from_str(r#"{"type":"outbound","id":"e4","client":"gwen","from_account":"glow-uptown"}"#)
                .unwrap();
        assert_eq!(out.id(), "e4");
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_to_its_end_and_reported() {
        let long = format!("{{\"id\":\"{}\"}}", "x".repeat(100));
        let input = format!("{long}\r\n{}\n", r#"{"id":"e2","type":"inbound","client":"cleo"}"#);
        let read: Vec<_> = EventLines::with_max(std::io::BufReader::with_capacity(16, input.as_bytes()), 64).collect();
        assert_eq!(read.len(), 2);
        assert_eq!(
            read[0].as_ref().unwrap_err().to_string(),
            "line 1: the line is longer than 64 bytes, the most an event may take"
        );
        assert_eq!(read[1].as_ref().unwrap().0, 2);
        assert_eq!(read[1].as_ref().unwrap().1.id(), "e2");
    }

    #[test]
    fn lines_of_invalid_utf8_and_blank_lines() {
        let input: &[u8] =
            b"\n  \n\xff\xfe\n{\"id\":\"e\",\"type\":\"outbound\",\"client\":\"c\",\"from_account\":\"a\"}";
        let read: Vec<_> = EventLines::new(input).collect();
        assert_eq!(
            read[0].as_ref().unwrap_err().to_string(),
            "line 3: the line is not valid UTF-8 text"
        );
        assert_eq!(read[1].as_ref().unwrap().0, 4);
        assert_eq!(read.len(), 2);
    }
}
