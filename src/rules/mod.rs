//! Rules files: ordered rules with conditions and outcomes, loaded with spans.
//!
//! A rule set is three files in one directory:
//!
//! * `inbound.yaml`: where a client's message lands (first matching rule wins);
//! * `delivery.yaml`: who receives it live (every gate must hold, any grant admits);
//! * `outbound.yaml`: which channel carries a staff message, with its ghost text
//!   (first match), then the message's final text (first match).
//!
//! Loading reads all three, reports every problem at once with file:line:col
//! and the rule id, compiles conditions to native predicates and scripts to
//! Rhai ASTs, and never needs the files again.
//!
//! This file holds the loaded form: [`RuleSet`] and its policies. Reading and
//! checking the files is in `load.rs`, message templates in `template.rs`,
//! conditions in `condition/`, the fact catalogue in `facts.rs` and the Rhai
//! sandbox in `script/`. Evaluating a rule set is the engine's work
//! ([`crate::engine`]).

pub(crate) mod condition;
mod error;
pub mod facts;
pub(crate) mod index;
mod load;
pub mod script;
mod template;

/// The version of the rules file format: the keys, conditions, facts and
/// outcomes that `inbound.yaml`, `delivery.yaml` and `outbound.yaml` may use.
/// It goes up by one whenever a change to the format would make a rules
/// file that loaded before fail to load, or decide differently. Files do
/// not state it; `commroute --version` prints it, so a rules repository can
/// say which commroute releases read its files.
pub const RULES_FORMAT_VERSION: u32 = 1;

pub use error::RuleError;
pub use template::Template;
pub(crate) use template::{parse_template, Piece};

use std::path::PathBuf;

use crate::diag::Pos;
use crate::rules::condition::{Cond, SetExpr};
use crate::rules::facts::{Channel, PolicyKind};
use crate::rules::script::Sandbox;

/// One rule: a stable id, a description for people, a condition, an outcome.
#[derive(Debug)]
pub struct Rule<O> {
    /// The rule's stable id, unique across the three files.
    pub id: String,
    /// What the rule does, in its author's words.
    pub description: String,
    pub(crate) when: Cond,
    pub(crate) outcome: O,
    /// Where its `- id:` is.
    pub(crate) pos: Pos,
}

/// A first-match policy: the first rule whose condition holds decides.
#[derive(Debug)]
pub struct FirstMatch<O> {
    /// The rules in file order; the last one is `when: always`.
    pub rules: Vec<Rule<O>>,
    /// Which rules an event's discrete facts admit; `None` when no rule
    /// tests a discrete fact. Built once, at load.
    pub(crate) index: Option<index::RuleIndex>,
}

impl<O> FirstMatch<O> {
    /// The policy of these rules, with its index built when it has enough
    /// rules for the index to pay ([`index::MIN_RULES`]).
    pub(crate) fn new(rules: Vec<Rule<O>>) -> Self {
        let index = if rules.len() >= index::MIN_RULES {
            index::RuleIndex::build(rules.iter().map(|r| &r.when))
        } else {
            None
        };
        FirstMatch { rules, index }
    }

    /// What the policy's rule index reads and costs; `None` when no rule
    /// tests a discrete fact, so the policy has no index.
    pub fn index_stats(&self) -> Option<IndexStats> {
        self.index.as_ref().map(index::RuleIndex::stats)
    }
}

/// What a first-match policy's rule index reads and what it cost to build
/// (the README's "The rule index" says how it works).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    /// How many discrete facts (dimensions) the index reads from an event.
    pub facts: usize,
    /// How many values of those facts it tells apart, all facts together.
    pub slots: usize,
    /// The bytes its bitsets take.
    pub bytes: usize,
    /// How long building it took when the rules were loaded.
    pub build_time: std::time::Duration,
}

/// The outcome of an outbound rule: a literal channel and ghost text, or
/// scripts that give them (`{rhai: ...}`; the literal field is then unused).
#[derive(Debug, Clone)]
pub struct ChannelChoice {
    pub(crate) channel: Channel,
    pub(crate) ghost_text: String,
    pub(crate) channel_script: Option<Box<crate::rules::script::Script>>,
    pub(crate) ghost_text_script: Option<Box<crate::rules::script::Script>>,
}

/// A rules file as loaded: where it came from and its sandbox.
#[derive(Debug)]
pub struct PolicyFile {
    /// The file's path (`<shipped>/rules/...` for the built-in rules).
    pub path: PathBuf,
    /// The file's `description`, for people.
    pub description: String,
    pub(crate) sandbox: Sandbox,
}

/// `inbound.yaml`: where a client's message lands.
#[derive(Debug)]
pub struct InboundPolicy {
    /// The file it was loaded from.
    pub file: PolicyFile,
    /// The rules; each gives the locations the message lands at.
    pub rules: FirstMatch<SetExpr>,
    /// Inbound SMS texts that opt a client out of, or back in to, SMS.
    pub(crate) opt_out_keywords: Vec<String>,
    pub(crate) opt_in_keywords: Vec<String>,
}

/// `delivery.yaml`: who receives a message live.
#[derive(Debug)]
pub struct DeliveryPolicy {
    /// The file it was loaded from.
    pub file: PolicyFile,
    pub(crate) gates: Vec<Rule<()>>,
    pub(crate) grants: Vec<Rule<()>>,
    /// Whether a gate requires access to a landing location, so only staff
    /// with such access need to be considered.
    pub(crate) access_gate: bool,
    /// Whether a gate is exactly `recipient.logged_in: true`: with the access
    /// gate, only logged-in staff with such access need to be considered.
    pub(crate) live_gate: bool,
    /// The gates to evaluate for staff drawn from the world's index (the
    /// others hold for every one of them by construction).
    pub(crate) unindexed_gates: Vec<usize>,
}

/// `outbound.yaml`: the channel and ghost text of a staff message, then its
/// final text.
#[derive(Debug)]
pub struct OutboundPolicy {
    /// The file it was loaded from.
    pub file: PolicyFile,
    /// The channel rules; each gives a channel and a ghost text.
    pub rules: FirstMatch<ChannelChoice>,
    /// The text rules; each gives the message's final text.
    pub text: FirstMatch<Template>,
}

/// The three policies, loaded and compiled.
#[derive(Debug)]
pub struct RuleSet {
    /// Where a client's message lands.
    pub inbound: InboundPolicy,
    /// Who receives it live.
    pub delivery: DeliveryPolicy,
    /// Which channel carries a staff message, and its text.
    pub outbound: OutboundPolicy,
    /// A hash of the three files' texts: equal texts, equal digests.
    pub(crate) digest: u64,
}

/// The shipped rules, built into the binary so it works from any folder.
pub const SHIPPED: [(&str, &str); 3] = [
    ("inbound.yaml", include_str!("../../rules/inbound.yaml")),
    ("delivery.yaml", include_str!("../../rules/delivery.yaml")),
    ("outbound.yaml", include_str!("../../rules/outbound.yaml")),
];

/// The names of the three rules files, in the order they are loaded.
pub const FILES: [&str; 3] = ["inbound.yaml", "delivery.yaml", "outbound.yaml"];

/// The largest rules file, in bytes: hundreds of times the shipped ones, and
/// small enough that any rules file loads in well under a second (a 32 MiB
/// file of 280,000 rules took 3.8 s and 930 MB only to be read).
pub(crate) const MAX_RULES_FILE_SIZE: usize = 1024 * 1024;

impl RuleSet {
    /// A 64-bit hash of the three rules files as read: two rule sets loaded
    /// from the same texts have the same digest, and any edit changes it.
    /// The decision service names the rule set that made each decision by it.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// Every rule id with its policy, in file order (for coverage and listings).
    pub(crate) fn rule_ids(&self) -> Vec<(PolicyKind, &str)> {
        let mut out = Vec::new();
        out.extend(
            self.inbound
                .rules
                .rules
                .iter()
                .map(|r| (PolicyKind::Inbound, r.id.as_str())),
        );
        out.extend(
            self.delivery
                .gates
                .iter()
                .map(|r| (PolicyKind::Delivery, r.id.as_str())),
        );
        out.extend(
            self.delivery
                .grants
                .iter()
                .map(|r| (PolicyKind::Delivery, r.id.as_str())),
        );
        out.extend(
            self.outbound
                .rules
                .rules
                .iter()
                .map(|r| (PolicyKind::Outbound, r.id.as_str())),
        );
        out.extend(
            self.outbound
                .text
                .rules
                .iter()
                .map(|r| (PolicyKind::Text, r.id.as_str())),
        );
        out
    }
}
