//! Rule coverage: which rules the scenarios reach.
//!
//! Coverage reads the reports of the scenario runner (the same runs as
//! `commroute test`): every case's decision, and every decision a timeline
//! scenario's replay made (each message's landing and live delivery, each
//! staff message's channel and text, a failed push sent again, the delivery
//! policy applied for a failed SMS's audio cue). A first-match rule is
//! covered when it decides at least one of them, a delivery grant when it
//! admits at least one staff member (every grant that admits counts, not only
//! the first). Gates are listed with how often they refused someone but are
//! not part of the percentage: a gate is evaluated for every staff member of
//! every inbound decision.

use serde::Serialize;

use crate::engine::decision::{InboundDecision, OutboundDecision};
use crate::replay::simulate::Made;
use crate::rules::RuleSet;
use crate::scenario::{Actual, FileReport};

/// How often one rule was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCoverage {
    /// `inbound`, `delivery`, `outbound` or `text`.
    pub policy: &'static str,
    /// `rule`, `grant` or `gate`.
    pub kind: &'static str,
    /// The rule's id.
    pub rule: String,
    /// Cases it decided (rules), staff it admitted (grants), staff it refused (gates).
    pub count: usize,
}

impl RuleCoverage {
    /// Whether the rule counts towards the percentage and was reached.
    pub fn covered(&self) -> bool {
        self.count > 0
    }
}

/// How the scenarios reach a rule set, rule by rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// Every rule, gate and grant: inbound, delivery, outbound, then text.
    pub rules: Vec<RuleCoverage>,
    /// Cases run (timeline scenarios are counted in `decisions`).
    pub cases: usize,
    /// Decisions made by the replays of timeline scenarios.
    pub decisions: usize,
    /// Rules and grants reached, out of all rules and grants.
    pub covered: usize,
    /// Rules and grants in all.
    pub total: usize,
}

impl Coverage {
    /// The share of rules and grants reached, in percent (100 when there are none).
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.covered as f64 / self.total as f64
        }
    }

    /// The rules and grants no case reaches.
    pub fn unreached(&self) -> impl Iterator<Item = &RuleCoverage> {
        self.rules.iter().filter(|r| r.kind != "gate" && !r.covered())
    }
}

/// Counts, for every rule of `rules`, how the cases of `reports` reached it.
pub fn measure(rules: &RuleSet, reports: &[FileReport]) -> Coverage {
    let mut list: Vec<RuleCoverage> = Vec::new();
    let mut add = |policy, kind, id: &str| {
        list.push(RuleCoverage {
            policy,
            kind,
            rule: id.to_owned(),
            count: 0,
        })
    };
    rules
        .inbound
        .rules
        .rules
        .iter()
        .for_each(|r| add("inbound", "rule", &r.id));
    rules.delivery.gates.iter().for_each(|r| add("delivery", "gate", &r.id));
    rules
        .delivery
        .grants
        .iter()
        .for_each(|r| add("delivery", "grant", &r.id));
    rules
        .outbound
        .rules
        .rules
        .iter()
        .for_each(|r| add("outbound", "rule", &r.id));
    rules
        .outbound
        .text
        .rules
        .iter()
        .for_each(|r| add("text", "rule", &r.id));
    let mut bump = |policy: &str, kind: &str, id: &str| {
        if let Some(r) = list
            .iter_mut()
            .find(|r| r.policy == policy && r.kind == kind && r.rule == id)
        {
            r.count += 1;
        }
    };
    let mut cases = 0;
    for c in reports.iter().flat_map(|f| &f.cases) {
        // A timeline scenario's checks read what a replay left behind, not
        // one decision: they name no rule, so they are not cases here.
        if matches!(c.actual, Actual::Check(_)) {
            continue;
        }
        cases += 1;
        match &c.actual {
            Actual::Inbound(r) => {
                bump("inbound", "rule", &r.rule);
                for line in r.trace.iter().filter(|l| l.policy == "delivery") {
                    if line.applied {
                        bump("delivery", "grant", &line.rule);
                    } else {
                        bump("delivery", "gate", &line.rule);
                    }
                }
            }
            Actual::Outbound(r) => {
                bump("outbound", "rule", &r.rule);
                bump("text", "rule", &r.text_rule);
            }
            Actual::Error { .. } | Actual::Check(_) => {}
        }
    }
    // The decisions of timeline scenarios, explained as a case's are.
    let mut decisions = 0;
    let delivery = &rules.delivery;
    for (_, made) in reports
        .iter()
        .filter_map(|f| f.timeline.as_ref())
        .flat_map(|t| &t.decisions)
    {
        decisions += 1;
        match made {
            Made::Inbound(InboundDecision { rule, trace, .. }) => {
                bump("inbound", "rule", &rules.inbound.rules.rules[*rule].id);
                for step in trace.iter().flat_map(|t| &t.staff) {
                    if let Some((g, _)) = &step.gate {
                        bump("delivery", "gate", &delivery.gates[*g].id);
                    }
                    for (g, _) in &step.grants {
                        bump("delivery", "grant", &delivery.grants[*g].id);
                    }
                }
            }
            Made::Outbound(OutboundDecision { rule, text_rule, .. }) => {
                bump("outbound", "rule", &rules.outbound.rules.rules[*rule].id);
                bump("text", "rule", &rules.outbound.text.rules[*text_rule].id);
            }
        }
    }
    let counted: Vec<&RuleCoverage> = list.iter().filter(|r| r.kind != "gate").collect();
    let covered = counted.iter().filter(|r| r.covered()).count();
    let total = counted.len();
    Coverage {
        rules: list,
        cases,
        decisions,
        covered,
        total,
    }
}
