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
        _ => Err(event_error(
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

fn event_error(field: &'static str, message: impl Into<String>) -> EventError {
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
    event_error(field, format!("unknown {what} `{id}`{hint}"))
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
            return Err(event_error(
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
                            return Err(event_error(
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
                            return Err(event_error(
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
                return Err(event_error(
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
                                return Err(event_error(
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
