//! JSON Lines: the one reader of event lines, the decision writer, and
//! batch routing.
//!
//! Every JSON Lines input commroute reads (`route batch`, `diff --events`
//! and JSON Lines timelines for `simulate`) is cut into lines by the same
//! code, with one line limit, [`MAX_LINE`], and one rule for blank and `#`
//! comment lines (`lines.rs`). Event lines are then parsed by one parser
//! (`scan.rs`): a scanner that borrows the fields of the common shape, with
//! `serde_json` and [`EventLine`] behind it. [`EventLines`] streams events
//! one by one (`diff --events`); [`batch`] decides them on every core. Decision
//! lines are written in `write.rs`. What an event means (its ids resolved
//! against a world) is in [`crate::engine::event`]; timeline events are
//! parsed in [`crate::replay::timeline`].

pub mod batch;
mod lines;
mod scan;
mod write;

use serde::{Deserialize, Serialize};

use crate::engine::event::{InboundRequest, OutboundRequest};
use crate::world::{Facts, FactsError, World};

pub(crate) use lines::{frame, LineReader};
pub use lines::{EventLines, LineError, LineProblem, MAX_LINE};
pub(crate) use scan::{parse_event, Direction, ParsedEvent};
pub(crate) use write::{push_json_str, write_error, Names};

/// One recorded or generated event, as a line of JSON Lines. The same format
/// is read by `commroute route batch` and by `commroute diff --events`:
///
/// ```json
/// {"id":"e1","type":"inbound","client":"cleo","answering":"confirmation@A"}
/// {"id":"e2","type":"inbound","client":"cleo","staff":"sam","from":"A"}
/// {"id":"e3","type":"inbound","client":"nina"}
/// {"id":"e4","type":"outbound","client":"gwen","from_account":"glow-uptown","text":"See you at 3pm!"}
/// ```
///
/// A line may carry `facts`, a world fragment in the world file's format
/// ([`Facts`]): the event is then decided in the world with those sections
/// replaced. A line of the decision service's decision log is an event line
/// too: its `at`, `rule_set`, `world_version` and `decision` are read and
/// ignored (a decision is made again, by the rules at hand).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EventLine {
    /// A client's message.
    Inbound {
        /// The event's id, repeated in its decision line.
        id: String,
        /// What the client wrote, as written.
        #[serde(flatten)]
        request: InboundRequest,
        /// The world fragment this event is decided with, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        facts: Option<Box<Facts>>,
    },
    /// A staff member's message.
    Outbound {
        /// The event's id, repeated in its decision line.
        id: String,
        /// What the staff member wrote, as written.
        #[serde(flatten)]
        request: OutboundRequest,
        /// The world fragment this event is decided with, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        facts: Option<Box<Facts>>,
    },
}

impl EventLine {
    /// The event's id.
    pub fn id(&self) -> &str {
        match self {
            EventLine::Inbound { id, .. } | EventLine::Outbound { id, .. } => id,
        }
    }

    /// The id of the client the event names.
    pub fn client(&self) -> &str {
        match self {
            EventLine::Inbound { request, .. } => &request.client,
            EventLine::Outbound { request, .. } => &request.client,
        }
    }

    /// The event's inline facts, if it carries any.
    pub fn facts(&self) -> Option<&Facts> {
        match self {
            EventLine::Inbound { facts, .. } | EventLine::Outbound { facts, .. } => facts.as_deref(),
        }
    }

    /// The world this event is decided in: `world` with the event's facts,
    /// if it carries any (see [`World::with_facts`]).
    pub fn world<'w>(&self, world: &'w World) -> Result<std::borrow::Cow<'w, World>, FactsError> {
        match self.facts() {
            Some(f) => world.with_facts(f, self.client()),
            None => Ok(std::borrow::Cow::Borrowed(world)),
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
                },
                facts: None,
            }
        );
        let out: EventLine =
            serde_json::from_str(r#"{"type":"outbound","id":"e4","client":"gwen","from_account":"glow-uptown"}"#)
                .unwrap();
        assert_eq!(out.id(), "e4");
    }
}
