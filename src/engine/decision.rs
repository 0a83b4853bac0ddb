//! Decisions and their traces: what was decided, by which rule, and why the
//! earlier rules did not apply.
//!
//! The engine produces compact decisions (numbers only); [`InboundReport`] and
//! [`OutboundReport`] turn them into ids and sentences for people and JSON.

use serde::Serialize;

use crate::engine::explain::UnmetCondition;
use crate::rules::facts::Channel;
use crate::rules::RuleSet;
use crate::world::locset::LocSet;
use crate::world::{StaffIdx, World};

/// One rule that was considered: `failure` is `None` when it applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleStep {
    pub(crate) rule: usize,
    pub(crate) failure: Option<UnmetCondition>,
    /// Why it applied, when it did.
    pub(crate) because: Option<String>,
}

/// How the delivery policy treated one staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaffStep {
    pub(crate) staff: StaffIdx,
    /// The first gate that did not hold, if any.
    pub(crate) gate: Option<(usize, UnmetCondition)>,
    /// The grants that held (only evaluated when every gate held), with why.
    pub(crate) grants: Vec<(usize, String)>,
    /// The grants that did not hold, with why.
    pub(crate) refused: Vec<(usize, UnmetCondition)>,
}

impl StaffStep {
    /// Whether every gate held and a grant admitted them.
    pub(crate) fn receives(&self) -> bool {
        self.gate.is_none() && !self.grants.is_empty()
    }
}

/// A staff member who receives the message live, and the first grant that admitted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    /// The staff member, by index in the world.
    pub staff: StaffIdx,
    /// The index of the delivery grant that admitted them.
    pub grant: usize,
}

/// Every inbound and delivery rule considered, for `explain_inbound`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct InboundTrace {
    pub(crate) rules: Vec<RuleStep>,
    pub(crate) staff: Vec<StaffStep>,
}

/// Where a client's message lands and who receives it live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundDecision {
    /// The locations whose inbox the message lands in.
    pub lands_at: LocSet,
    /// The index of the deciding inbound rule.
    pub rule: usize,
    /// In staff id order.
    pub delivered_to: Vec<Recipient>,
    pub(crate) trace: Option<Box<InboundTrace>>,
}

/// Every outbound and text rule considered, for `explain_outbound`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct OutboundTrace {
    pub(crate) rules: Vec<RuleStep>,
    pub(crate) text: Vec<RuleStep>,
}

/// The channel for a staff message, its ghost text and final text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundDecision {
    /// The channel that carries the message (`none`: sending is refused).
    pub channel: Channel,
    /// The index of the deciding outbound rule (its ghost text is the outcome's).
    pub rule: usize,
    /// The index of the deciding text rule.
    pub text_rule: usize,
    /// The message's final text.
    pub text: String,
    /// The ghost text, when the deciding rule computes it with a script.
    pub scripted_ghost_text: Option<String>,
    pub(crate) trace: Option<Box<OutboundTrace>>,
}

// ---------------------------------------------------------------------------
// Reports: ids and sentences.

/// One line of a trace, in JSON and in explanations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceLine {
    /// `inbound`, `delivery`, `outbound` or `text`.
    pub policy: &'static str,
    /// The rule's id.
    pub rule: String,
    /// For delivery lines: the staff member considered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// Whether the rule applied (for a gate: held; for a grant: admitted).
    pub applied: bool,
    /// Why it applied, with the values seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    /// Why it did not apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<UnmetCondition>,
}

/// An inbound decision with ids instead of indexes, as printed and written
/// to JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundReport {
    /// The ids of the locations it lands at.
    pub lands_at: Vec<String>,
    /// The ids of the staff who receive it live.
    pub delivered_to: Vec<String>,
    /// The id of the deciding inbound rule.
    pub rule: String,
    /// Every rule considered, when the decision was explained; else empty.
    pub trace: Vec<TraceLine>,
}

/// An outbound decision with ids instead of indexes, as printed and written
/// to JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboundReport {
    /// The channel that carries the message.
    pub channel: Channel,
    /// The text shown in the compose box.
    pub ghost_text: String,
    /// The message's final text.
    pub text: String,
    /// The id of the deciding outbound rule.
    pub rule: String,
    /// The id of the deciding text rule.
    pub text_rule: String,
    /// Every rule considered, when the decision was explained; else empty.
    pub trace: Vec<TraceLine>,
}

fn steps<'a>(policy: &'static str, ids: &[&str], steps: &'a [RuleStep]) -> impl Iterator<Item = TraceLine> + 'a {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    steps.iter().map(move |s| TraceLine {
        policy,
        rule: ids[s.rule].clone(),
        staff: None,
        applied: s.failure.is_none(),
        because: s.because.clone(),
        failed: s.failure.clone(),
    })
}

impl InboundDecision {
    /// The decision with ids and, when it was explained, its trace.
    pub fn report(&self, rules: &RuleSet, world: &World) -> InboundReport {
        let mut trace = Vec::new();
        if let Some(t) = &self.trace {
            let inbound: Vec<&str> = rules.inbound.rules.rules.iter().map(|r| r.id.as_str()).collect();
            trace.extend(steps("inbound", &inbound, &t.rules));
            let d = &rules.delivery;
            for s in &t.staff {
                let staff = Some(world.staff[s.staff as usize].id.clone());
                if let Some((g, f)) = &s.gate {
                    trace.push(TraceLine {
                        policy: "delivery",
                        rule: d.gates[*g].id.clone(),
                        staff,
                        applied: false,
                        because: None,
                        failed: Some(f.clone()),
                    });
                    continue;
                }
                let mut lines: Vec<(usize, TraceLine)> = s
                    .grants
                    .iter()
                    .map(|(g, because)| {
                        (
                            *g,
                            TraceLine {
                                policy: "delivery",
                                rule: d.grants[*g].id.clone(),
                                staff: staff.clone(),
                                applied: true,
                                because: Some(because.clone()),
                                failed: None,
                            },
                        )
                    })
                    .chain(s.refused.iter().map(|(g, f)| {
                        (
                            *g,
                            TraceLine {
                                policy: "delivery",
                                rule: d.grants[*g].id.clone(),
                                staff: staff.clone(),
                                applied: false,
                                because: None,
                                failed: Some(f.clone()),
                            },
                        )
                    }))
                    .collect();
                lines.sort_by_key(|(g, _)| *g);
                trace.extend(lines.into_iter().map(|(_, l)| l));
            }
        }
        InboundReport {
            lands_at: world.loc_ids(&self.lands_at),
            delivered_to: self
                .delivered_to
                .iter()
                .map(|r| world.staff[r.staff as usize].id.clone())
                .collect(),
            rule: rules.inbound.rules.rules[self.rule].id.clone(),
            trace,
        }
    }
}

impl OutboundDecision {
    /// The ghost text: the deciding rule's, or what its script gave.
    pub fn ghost_text<'a>(&'a self, rules: &'a RuleSet) -> &'a str {
        match &self.scripted_ghost_text {
            Some(text) => text,
            None => &rules.outbound.rules.rules[self.rule].outcome.ghost_text,
        }
    }

    /// The decision with ids and, when it was explained, its trace.
    pub fn report(&self, rules: &RuleSet) -> OutboundReport {
        let mut trace = Vec::new();
        if let Some(t) = &self.trace {
            let ids: Vec<&str> = rules.outbound.rules.rules.iter().map(|r| r.id.as_str()).collect();
            trace.extend(steps("outbound", &ids, &t.rules));
            let ids: Vec<&str> = rules.outbound.text.rules.iter().map(|r| r.id.as_str()).collect();
            trace.extend(steps("text", &ids, &t.text));
        }
        OutboundReport {
            channel: self.channel,
            ghost_text: self.ghost_text(rules).to_owned(),
            text: self.text.clone(),
            rule: rules.outbound.rules.rules[self.rule].id.clone(),
            text_rule: rules.outbound.text.rules[self.text_rule].id.clone(),
            trace,
        }
    }
}
