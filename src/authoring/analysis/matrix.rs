//! The decision matrix: each class's witness routed with the real engine,
//! one [`Row`] per class, and what the walk tallies for the findings (which
//! rule decided where, which later rules held too, which failed).
//!
//! Live delivery per recipient is in `live.rs`; the findings drawn from the
//! tally are in `findings.rs`. Nothing here renders a table.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::classes::{Classes, OutboundClass};
use super::dims::partial_reason;
use super::findings::{idle_grants, never_deciding, redundant_grants, Gap, Shadowed};
use super::inbound_class::InboundClass;
use super::live::{live_cells, LiveCell};
use super::witness::{id_list, inbound_command, InboundWitness, OutboundWitness};
use crate::engine::decision::{InboundDecision, OutboundDecision};
use crate::engine::event::Inbound;
use crate::engine::{inbound_ctx, EvalError};
use crate::rules::facts::{Ctx, Fact, PolicyKind};
use crate::rules::script::Sandbox;
use crate::rules::{Rule, RuleSet};
use crate::world::locset::LocSet;
use crate::world::World;

/// One row of the decision matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The policy decided here: `inbound` or `outbound`.
    pub policy: &'static str,
    /// A stable key for the class (for `diff` and scripts).
    pub class: String,
    /// The class in plain words.
    pub description: String,
    /// A concrete witness.
    pub example: String,
    /// The outcome, with the witness's ids.
    pub outcome: String,
    /// The rule that decided (or failed).
    pub rule: String,
    /// Outbound: the text rule that decided the final text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_rule: Option<String>,
    /// Inbound: each recipient class of the witness and the grant that admits it (none: not live).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<LiveCell>,
    /// Rules that decided or were considered here and use Rhai or literal ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<String>,
    /// Why this class is a gap, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<String>,
    /// Inbound: the roles of the locations the message lands at.
    #[serde(skip)]
    pub roles: BTreeSet<Role>,
    /// The witness world and the command that routes its event.
    #[serde(skip)]
    pub witness: Witness,
}

impl Row {
    /// Who receives the message live: each recipient class a grant admits,
    /// with the grant (`recipient (grant)`); empty for outbound rows.
    pub fn received_live_by(&self) -> Vec<String> {
        self.live
            .iter()
            .filter_map(|c| c.grant.as_ref().map(|g| format!("{} ({g})", c.recipient)))
            .collect()
    }
}

/// A witness of a class: a world file and the `commroute route` command for its event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Witness {
    /// The witness world, as a world file.
    pub world: String,
    /// The command that routes the witness's event in that world.
    pub command: String,
}

/// What a location is to the event: in the client's locations, in the staff
/// member's, the last appointment, the started-from location, the answered
/// location. The landing set of a class is a set of roles, whatever the ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Role {
    /// One of the client's locations.
    pub client: bool,
    /// One of the starting staff member's locations.
    pub staff: bool,
    /// The client's last appointment.
    pub last: bool,
    /// Where the staff member started the conversation.
    pub from: bool,
    /// The location of the message the client answers.
    pub answered: bool,
}

/// The roles of the locations of `set` in an event.
pub fn roles(world: &World, ev: &Inbound, set: &LocSet) -> BTreeSet<Role> {
    let ctx = inbound_ctx(world, ev);
    set.iter()
        .map(|l| Role {
            client: ctx.client.locations.contains(l),
            staff: ctx.set(Fact::StaffLocations).contains(l),
            last: ctx.client.last_appointment == Some(l),
            from: ctx.started_from == Some(l),
            answered: ctx.answered_location == Some(l),
        })
        .collect()
}

/// The matrix and the findings of one rule set.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// One row per class: inbound classes first, then outbound.
    pub rows: Vec<Row>,
    /// Rules that never decide, and grants that admit nobody.
    pub shadowed: Vec<Shadowed>,
    /// Classes that no rule decides usefully.
    pub gaps: Vec<Gap>,
    /// Grants that admit staff, but never anyone another grant does not also
    /// admit: without one, the same staff receive every message live (a note,
    /// not a failure: every grant that admits counts, and a rule may state a
    /// documented reason on its own).
    pub redundant: Vec<Shadowed>,
}

impl Analysis {
    /// The matrix row of an inbound class.
    pub fn inbound_row(&self, class: &InboundClass) -> Option<&Row> {
        let k = key(class);
        self.rows.iter().find(|r| r.policy == "inbound" && r.class == k)
    }

    /// The matrix row of an outbound class.
    pub fn outbound_row(&self, class: &OutboundClass) -> Option<&Row> {
        let k = key(class);
        self.rows.iter().find(|r| r.policy == "outbound" && r.class == k)
    }

    /// Whether the rule set has no shadowed rule and no gap.
    pub fn clean(&self) -> bool {
        self.shadowed.is_empty() && self.gaps.is_empty()
    }
}

/// A short stable key for a class: its fields, compactly
/// (`answered=client_only,answering=confirmation,...`).
pub(crate) fn key(v: &impl Serialize) -> String {
    let json = serde_json::to_value(v).expect("classes serialise");
    let serde_json::Value::Object(m) = json else {
        unreachable!()
    };
    m.into_iter()
        .map(|(k, v)| format!("{k}={}", v.to_string().trim_matches('"')))
        .collect::<Vec<_>>()
        .join(",")
}

/// How the delivery grants were used across the classes.
#[derive(Default)]
pub(super) struct GrantUse {
    /// Grants that admitted someone who passed the gates.
    pub(super) held: BTreeSet<String>,
    /// Grants that were once the only one admitting someone.
    pub(super) alone: BTreeSet<String>,
    /// For each grant, the other grants that held along with it.
    pub(super) with: BTreeMap<String, BTreeSet<String>>,
    /// Whether a rule failed where delivery was evaluated (or before it), so
    /// that a grant that admitted nobody may only not have been tried.
    pub(super) failed: bool,
}

/// What a first-match rule did on the classes, beyond deciding: where it
/// failed and where an earlier rule's failure kept it from being tried. A
/// rule whose script fails is not one whose condition never holds, and the
/// rules after it are not shadowed by it.
#[derive(Default)]
pub(super) struct Failures {
    /// Rules that failed where they decided (the class is a gap that names them).
    pub(super) deciding: BTreeSet<(&'static str, String)>,
    /// Rules that failed when tried after the deciding rule, with the message.
    pub(super) later: BTreeMap<(&'static str, String), String>,
    /// Rules that were never tried on some class because an earlier rule failed.
    pub(super) untried: BTreeSet<(&'static str, String)>,
}

impl Failures {
    /// Records that `rules[failed]` failed while deciding: it and every
    /// rule after it were not (or not fully) evaluated.
    fn failed_at<O>(&mut self, policy: &'static str, rules: &[Rule<O>], failed: usize) {
        self.deciding.insert((policy, rules[failed].id.clone()));
        for r in &rules[failed + 1..] {
            self.untried.insert((policy, r.id.clone()));
        }
    }
}

/// What the walk over the classes records for the findings.
#[derive(Default)]
pub(super) struct Tally {
    /// How many classes each first-match rule decided.
    pub(super) decided: BTreeMap<(&'static str, String), usize>,
    /// For each rule that did not decide a class but whose condition held
    /// there: the rules that decided instead.
    pub(super) taken_by: BTreeMap<(&'static str, String), BTreeSet<String>>,
    pub(super) granted: GrantUse,
    pub(super) failures: Failures,
}

impl Tally {
    fn count_decided(&mut self, policy: &'static str, rule: &str) {
        *self.decided.entry((policy, rule.to_owned())).or_default() += 1;
    }

    /// Evaluates a rule after the one that decided: records the decider as
    /// taking the inputs where the rule holds, and a failure as a failure
    /// (not as a condition that does not hold).
    fn tried_later<O>(&mut self, policy: &'static str, r: &Rule<O>, decider: &str, ctx: &Ctx, sb: &Sandbox) {
        match r.when.holds(ctx, sb) {
            Ok(false) => {}
            Ok(true) => {
                self.taken_by
                    .entry((policy, r.id.clone()))
                    .or_default()
                    .insert(decider.to_owned());
            }
            Err(message) => {
                self.taken_by
                    .entry((policy, r.id.clone()))
                    .or_default()
                    .insert(decider.to_owned());
                self.failures
                    .later
                    .entry((policy, r.id.clone()))
                    .or_insert(message.to_string());
            }
        }
    }
}

/// The first rule of `rules` whose condition holds on `ctx`, evaluating the
/// conditions only: `Err(i)` when rule `i` fails first.
fn first_holding<O>(rules: &[Rule<O>], ctx: &Ctx, sb: &Sandbox) -> Result<usize, usize> {
    for (i, r) in rules.iter().enumerate() {
        match r.when.holds(ctx, sb) {
            Ok(true) => return Ok(i),
            Ok(false) => {}
            Err(_) => return Err(i),
        }
    }
    // Loading requires a catch-all at the end.
    Ok(rules.len().saturating_sub(1))
}

/// The reasons of the rules among `rules` that the classes may not tell apart fully.
fn partial_of<'a, O: 'a>(rules: impl IntoIterator<Item = &'a Rule<O>>, policy: PolicyKind) -> Vec<String> {
    rules
        .into_iter()
        .filter_map(|r| partial_reason(&r.when, policy).map(|why| format!("{} ({why})", r.id)))
        .collect()
}

/// Evaluates a rule set on every class.
pub fn analyze(rules: &RuleSet, classes: &Classes) -> Analysis {
    let mut tally = Tally::default();
    let mut rows = Vec::new();
    let mut gaps = Vec::new();
    inbound_rows(rules, classes, &mut tally, &mut rows, &mut gaps);
    outbound_rows(rules, classes, &mut tally, &mut rows, &mut gaps);
    let mut shadowed = never_deciding(rules, &tally);
    let redundant = redundant_grants(rules, &tally.granted);
    shadowed.extend(idle_grants(rules, &tally.granted));
    Analysis {
        rows,
        shadowed,
        gaps,
        redundant,
    }
}

/// The rows of the inbound classes, with who receives each message live.
fn inbound_rows(rules: &RuleSet, classes: &Classes, tally: &mut Tally, rows: &mut Vec<Row>, gaps: &mut Vec<Gap>) {
    let delivery = &rules.delivery;
    let delivery_partial = partial_of(delivery.gates.iter().chain(&delivery.grants), PolicyKind::Delivery);
    for (class, w) in &classes.inbound {
        let (mut row, lands) = match rules.route_inbound(&w.world, &w.event) {
            Err(e) => (inbound_failed(rules, class, w, &e, tally), None),
            Ok(d) => inbound_decided(rules, class, w, &d, tally),
        };
        if let Some(g) = &row.gap {
            gaps.push(Gap {
                policy: "inbound",
                class: row.description.clone(),
                example: row.example.clone(),
                reason: g.clone(),
            });
        }
        if let Some(lands) = lands.filter(|l| !l.is_empty()) {
            let (live, yaml) = live_cells(rules, class, w, &lands, &mut tally.granted);
            row.live = live;
            row.witness.world = yaml;
            row.partial.extend(delivery_partial.iter().cloned());
        }
        rows.push(row);
    }
}

/// The row of an inbound class where a rule fails.
fn inbound_failed(rules: &RuleSet, class: &InboundClass, w: &InboundWitness, e: &EvalError, tally: &mut Tally) -> Row {
    let ib = &rules.inbound;
    let ctx = inbound_ctx(&w.world, &w.event);
    // Which rule failed: an inbound condition (the rules after it were not
    // tried), or the decided rule's outcome, or delivery. Either way no
    // grant was tried on this class.
    match first_holding(&ib.rules.rules, &ctx, &ib.file.sandbox) {
        Err(i) => tally.failures.failed_at("inbound", &ib.rules.rules, i),
        Ok(i) if ib.rules.rules[i].id == e.rule => tally.failures.failed_at("inbound", &ib.rules.rules, i),
        Ok(i) => tally.count_decided("inbound", &ib.rules.rules[i].id),
    }
    tally.granted.failed = true;
    Row {
        policy: "inbound",
        class: key(class),
        description: class.describe(),
        example: w.example.clone(),
        outcome: format!("error: {e}"),
        rule: e.rule.clone(),
        text_rule: None,
        live: vec![],
        partial: vec![],
        gap: Some(format!("rule `{}` fails: {}", e.rule, e.message)),
        roles: BTreeSet::new(),
        witness: Witness {
            world: w.yaml.clone(),
            command: inbound_command(&w.request),
        },
    }
}

/// The row of an inbound class that a rule decides, and the ids of the
/// locations the message lands at.
fn inbound_decided(
    rules: &RuleSet,
    class: &InboundClass,
    w: &InboundWitness,
    d: &InboundDecision,
    tally: &mut Tally,
) -> (Row, Option<Vec<String>>) {
    let ib = &rules.inbound;
    let ctx = inbound_ctx(&w.world, &w.event);
    let rule = &ib.rules.rules[d.rule];
    let partial: BTreeSet<String> = partial_of(&ib.rules.rules[..=d.rule], PolicyKind::Inbound)
        .into_iter()
        .collect();
    for r in &ib.rules.rules[d.rule + 1..] {
        tally.tried_later("inbound", r, &rule.id, &ctx, &ib.file.sandbox);
    }
    tally.count_decided("inbound", &rule.id);
    let ids = w.world.loc_ids(&d.lands_at);
    let gap = d
        .lands_at
        .is_empty()
        .then(|| format!("`{}` lands the message nowhere: no inbox holds it", rule.id));
    let row = Row {
        policy: "inbound",
        class: key(class),
        description: class.describe(),
        example: w.example.clone(),
        outcome: format!("lands at {}", id_list(ids.iter().cloned())),
        rule: rule.id.clone(),
        text_rule: None,
        live: vec![],
        partial: partial.into_iter().collect(),
        gap,
        roles: roles(&w.world, &w.event, &d.lands_at),
        witness: Witness {
            world: w.yaml.clone(),
            command: inbound_command(&w.request),
        },
    };
    (row, Some(ids))
}

/// The rows of the outbound classes.
fn outbound_rows(rules: &RuleSet, classes: &Classes, tally: &mut Tally, rows: &mut Vec<Row>, gaps: &mut Vec<Gap>) {
    for (class, w) in &classes.outbound {
        let witness = Witness {
            world: w.yaml.clone(),
            command: format!(
                "commroute route outbound --world witness.yaml --client client --from-account {} --text {:?}",
                w.world.accounts[w.event.sender as usize].id, w.event.text
            ),
        };
        let row = match rules.route_outbound(&w.world, &w.event) {
            Err(e) => {
                gaps.push(Gap {
                    policy: "outbound",
                    class: class.describe(),
                    example: w.example.clone(),
                    reason: format!("rule `{}` fails: {}", e.rule, e.message),
                });
                outbound_failed(rules, class, w, e, witness, tally)
            }
            Ok(d) => outbound_decided(rules, class, w, &d, witness, tally),
        };
        rows.push(row);
    }
}

fn outbound_ctx(w: &OutboundWitness) -> Ctx<'_> {
    let mut ctx = Ctx::new(&w.world, w.event.client);
    ctx.sender = Some(w.event.sender);
    ctx
}

/// The row of an outbound class where a rule fails.
fn outbound_failed(
    rules: &RuleSet,
    class: &OutboundClass,
    w: &OutboundWitness,
    e: EvalError,
    witness: Witness,
    tally: &mut Tally,
) -> Row {
    let ob = &rules.outbound;
    let ctx = outbound_ctx(w);
    match first_holding(&ob.rules.rules, &ctx, &ob.file.sandbox) {
        Err(i) => tally.failures.failed_at("outbound", &ob.rules.rules, i),
        Ok(i) if ob.rules.rules[i].id == e.rule => tally.failures.failed_at("outbound", &ob.rules.rules, i),
        Ok(i) => {
            tally.count_decided("outbound", &ob.rules.rules[i].id);
            // The text rules run after the channel is known.
            if let Some(t) = ob.text.rules.iter().position(|r| r.id == e.rule) {
                tally.failures.failed_at("text", &ob.text.rules, t);
            }
        }
    }
    Row {
        policy: "outbound",
        class: key(class),
        description: class.describe(),
        example: w.example.clone(),
        outcome: format!("error: {e}"),
        rule: e.rule,
        text_rule: None,
        live: vec![],
        partial: vec![],
        gap: Some(e.message),
        roles: BTreeSet::new(),
        witness,
    }
}

/// The row of an outbound class that the rules decide.
fn outbound_decided(
    rules: &RuleSet,
    class: &OutboundClass,
    w: &OutboundWitness,
    d: &OutboundDecision,
    witness: Witness,
    tally: &mut Tally,
) -> Row {
    let ob = &rules.outbound;
    let mut ctx = outbound_ctx(w);
    let rule = &ob.rules.rules[d.rule];
    let text_rule = &ob.text.rules[d.text_rule];
    let mut partial: BTreeSet<String> = partial_of(&ob.rules.rules[..=d.rule], PolicyKind::Outbound)
        .into_iter()
        .collect();
    partial.extend(partial_of(&ob.text.rules[..=d.text_rule], PolicyKind::Text));
    for r in &ob.rules.rules[d.rule + 1..] {
        tally.tried_later("outbound", r, &rule.id, &ctx, &ob.file.sandbox);
    }
    ctx.channel = d.channel;
    for r in &ob.text.rules[d.text_rule + 1..] {
        tally.tried_later("text", r, &text_rule.id, &ctx, &ob.file.sandbox);
    }
    tally.count_decided("outbound", &rule.id);
    tally.count_decided("text", &text_rule.id);
    Row {
        policy: "outbound",
        class: key(class),
        description: class.describe(),
        example: w.example.clone(),
        outcome: format!("{}, text `{}`", d.channel, d.text),
        rule: rule.id.clone(),
        text_rule: Some(text_rule.id.clone()),
        live: vec![],
        partial: partial.into_iter().collect(),
        gap: None,
        roles: BTreeSet::new(),
        witness,
    }
}
