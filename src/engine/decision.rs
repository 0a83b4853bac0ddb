//! Decisions and their traces: what was decided, by which rule, and why the
//! earlier rules did not apply.
//!
//! The engine produces compact decisions (numbers only); [`InboundReport`] and
//! [`OutboundReport`] turn them into ids and sentences for people and JSON.

use serde::Serialize;

use crate::rules::condition::Failure;
use crate::rules::facts::Channel;
use crate::rules::RuleSet;
use crate::world::locset::LocSet;
use crate::world::{StaffIdx, World};

/// One rule that was considered: `failure` is `None` when it applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleStep {
    pub rule: usize,
    pub failure: Option<Failure>,
    /// Why it applied, when it did.
    pub because: Option<String>,
}

/// How the delivery policy treated one staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffStep {
    pub staff: StaffIdx,
    /// The first gate that did not hold, if any.
    pub gate: Option<(usize, Failure)>,
    /// The grants that held (only evaluated when every gate held), with why.
    pub grants: Vec<(usize, String)>,
    /// The grants that did not hold, with why.
    pub refused: Vec<(usize, Failure)>,
}

impl StaffStep {
    pub fn receives(&self) -> bool {
        self.gate.is_none() && !self.grants.is_empty()
    }
}

/// A staff member who receives the message live, and the first grant that admitted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    pub staff: StaffIdx,
    pub grant: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboundTrace {
    pub rules: Vec<RuleStep>,
    pub staff: Vec<StaffStep>,
}

/// Where a client's message lands and who receives it live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundDecision {
    pub lands_at: LocSet,
    /// The index of the deciding inbound rule.
    pub rule: usize,
    /// In staff id order.
    pub delivered_to: Vec<Recipient>,
    pub trace: Option<Box<InboundTrace>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboundTrace {
    pub rules: Vec<RuleStep>,
    pub text: Vec<RuleStep>,
}

/// The channel for a staff message, its ghost text and final text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundDecision {
    pub channel: Channel,
    /// The index of the deciding outbound rule (its ghost text is the outcome's).
    pub rule: usize,
    /// The index of the deciding text rule.
    pub text_rule: usize,
    pub text: String,
    /// The ghost text, when the deciding rule computes it with a script.
    pub scripted_ghost_text: Option<String>,
    pub trace: Option<Box<OutboundTrace>>,
}

// ---------------------------------------------------------------------------
// Reports: ids and sentences.

/// One line of a trace, in JSON and in explanations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceLine {
    pub policy: &'static str,
    pub rule: String,
    /// For delivery lines: the staff member considered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    pub applied: bool,
    /// Why it applied, with the values seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<Failure>,
}

impl TraceLine {
    /// The line in plain words.
    pub fn sentence(&self) -> String {
        let who = self.staff.as_ref().map(|s| format!(" for `{s}`")).unwrap_or_default();
        match (&self.failed, &self.because) {
            (None, Some(b)) => format!("{} applied{who}: {b}", self.rule),
            (None, None) => format!("{} applied{who}", self.rule),
            (Some(f), _) => format!("{} did not apply{who}: {}", self.rule, f.reason),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundReport {
    pub lands_at: Vec<String>,
    pub delivered_to: Vec<String>,
    pub rule: String,
    pub trace: Vec<TraceLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboundReport {
    pub channel: Channel,
    pub ghost_text: String,
    pub text: String,
    pub rule: String,
    pub text_rule: String,
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
    pub fn ghost_text<'a>(&'a self, rules: &'a RuleSet) -> &'a str {
        match &self.scripted_ghost_text {
            Some(text) => text,
            None => &rules.outbound.rules.rules[self.rule].outcome.ghost_text,
        }
    }

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
