//! The findings drawn from the walk over the classes: rules that never
//! decide (shadowed, or whose condition holds for no input), grants that
//! admit nobody past the gates, and grants that never admit anyone another
//! grant does not. Gaps are found row by row, in `matrix.rs`.

use serde::Serialize;

use super::matrix::{GrantUse, Tally};
use crate::rules::RuleSet;

/// A rule that never decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shadowed {
    /// The policy the rule belongs to (`inbound`, `outbound`, `text`, `delivery`).
    pub policy: &'static str,
    /// The rule's id.
    pub rule: String,
    /// The earlier rules that take every input it matches (empty: it matches no input).
    pub by: Vec<String>,
    /// The finding in a sentence.
    pub reason: String,
}

/// A class that no rule decides usefully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// The policy whose rules leave the gap.
    pub policy: &'static str,
    /// The class in plain words.
    pub class: String,
    /// A concrete witness of the class.
    pub example: String,
    /// Why it is a gap.
    pub reason: String,
}

fn quoted_ids(ids: &[String], sep: &str) -> String {
    ids.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(sep)
}

/// The first-match rules (inbound, outbound, text) that decided no class.
pub(super) fn never_deciding(rules: &RuleSet, tally: &Tally) -> Vec<Shadowed> {
    let (ib, ob) = (&rules.inbound, &rules.outbound);
    let mut shadowed = Vec::new();
    let first_match = ib
        .rules
        .rules
        .iter()
        .map(|r| ("inbound", &r.id))
        .chain(ob.rules.rules.iter().map(|r| ("outbound", &r.id)))
        .chain(ob.text.rules.iter().map(|r| ("text", &r.id)));
    let failures = &tally.failures;
    for (policy, id) in first_match {
        let k = (policy, id.clone());
        // A rule that failed while deciding is a gap already; one that an
        // earlier rule's failure kept from being tried may decide there.
        if tally.decided.contains_key(&k) || failures.deciding.contains(&k) || failures.untried.contains(&k) {
            continue;
        }
        let by: Vec<String> = tally
            .taken_by
            .get(&k)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let reason = if let Some(message) = failures.later.get(&k) {
            format!(
                "`{id}` never decides: every input reaches {} first, and where `{id}` is tried it fails: {message}",
                quoted_ids(&by, ", ")
            )
        } else if by.is_empty() {
            format!("`{id}` holds for no input: its condition can never be met")
        } else {
            format!(
                "`{id}` never decides: every input it matches is taken by {}",
                quoted_ids(&by, ", ")
            )
        };
        shadowed.push(Shadowed {
            policy,
            rule: id.clone(),
            by,
            reason,
        });
    }
    shadowed
}

/// The delivery grants that admit no staff member who passes the gates.
/// When a rule failed, some staff were never tried: a grant that admitted
/// nobody is then not known to admit nobody, and none is reported.
pub(super) fn idle_grants(rules: &RuleSet, granted: &GrantUse) -> Vec<Shadowed> {
    rules
        .delivery
        .grants
        .iter()
        .filter(|g| !granted.held.contains(&g.id) && !granted.failed)
        .map(|g| Shadowed {
            policy: "delivery",
            rule: g.id.clone(),
            by: rules.delivery.gates.iter().map(|g| g.id.clone()).collect(),
            reason: format!("`{}` admits no staff member that passes the gates, for any input", g.id),
        })
        .collect()
}

/// The delivery grants that admit staff, but never anyone another grant
/// does not also admit.
pub(super) fn redundant_grants(rules: &RuleSet, granted: &GrantUse) -> Vec<Shadowed> {
    rules
        .delivery
        .grants
        .iter()
        .filter(|g| granted.held.contains(&g.id) && !granted.alone.contains(&g.id) && !granted.failed)
        .map(|g| {
            let by: Vec<String> = granted
                .with
                .get(&g.id)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            Shadowed {
                policy: "delivery",
                rule: g.id.clone(),
                reason: format!(
                    "`{}` never admits anyone that {} does not also admit: without it the same staff receive every message live",
                    g.id,
                    quoted_ids(&by, " or ")
                ),
                by,
            }
        })
        .collect()
}
